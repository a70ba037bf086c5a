import TandemCore

/// `update(with:)`: applying a step's sampled tokens.
extension Scheduler {
    /// Appends the tokens the runner sampled for the step just executed, ends requests on a stop
    /// token, `maxTokens` or a full context, frees their blocks, and offers newly full blocks to
    /// the prefix cache. Returns one output per request that gained tokens or finished, in the
    /// step's order.
    ///
    /// Tokens for requests that were not sampling, or were aborted meanwhile, are ignored. A
    /// sampling request with no token is rolled back one position so it runs again next step.
    public mutating func update(with result: StepResult) -> [RequestOutput] {
        let chunks = inFlight
        inFlight = []
        inFlightCopies = []
        var outputs: [RequestOutput] = []
        for chunk in chunks {
            let id = chunk.requestID
            guard var state = states[id], state.status == .running else { continue }
            var newTokens: [TokenID] = []
            var reason: FinishReason?
            if chunk.samplesToken, state.computedTokenCount == state.tokens.count {
                let sampled = result.sampledTokens[id] ?? []
                if sampled.isEmpty { state.computedTokenCount -= 1 }
                for token in sampled {
                    state.tokens.append(token)
                    newTokens.append(token)
                    if state.request.stopTokenIDs.contains(token) {
                        reason = .stopToken(token)
                        break
                    }
                    if state.outputTokenCount >= state.maxOutputTokens {
                        reason = .length
                        break
                    }
                }
                if chunk.draftCount > 0, reason == nil, !newTokens.isEmpty {
                    // Accepted draft tokens were computed in this step; the rest of the draft's
                    // positions hold K/V of rejected tokens, and their blocks go back.
                    let accepted = min(result.acceptedDraftTokens[id] ?? 0, chunk.draftCount, max(0, newTokens.count - 1))
                    state.computedTokenCount = chunk.startPosition + 1 + accepted
                    pool.trim(id, toTokenCount: state.computedTokenCount)
                }
            }
            if configuration.enablePrefixCaching {
                state.chain.extend(with: state.tokens)
                pool.cacheFullBlocks(of: id, tokens: state.tokens, chain: state.chain,
                                     computedTokenCount: state.computedTokenCount)
            }
            if let reason {
                pool.free(id)
                running.removeAll { $0 == id }
                states[id] = nil
                finishedSinceLastStep.append(FinishedRequest(requestID: id, reason: reason))
            } else {
                states[id] = state
            }
            if !newTokens.isEmpty || reason != nil {
                outputs.append(RequestOutput(requestID: id, newTokens: newTokens, finishReason: reason,
                                             promptTokenCount: state.request.promptTokens.count,
                                             outputTokenCount: state.outputTokenCount,
                                             cachedPromptTokenCount: state.cachedPromptTokenCount))
            }
        }
        return outputs
    }
}
