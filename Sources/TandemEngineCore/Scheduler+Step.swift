import TandemCore

/// `schedule(now:)`: one step's plan under the token budget.
extension Scheduler {
    /// The step being assembled.
    struct StepPlan {
        struct Chunk {
            var requestID: RequestID
            var phase: ScheduledSequence.Phase
            var admission: ScheduledSequence.Admission?
            var startPosition: Int
            var count: Int
            var cachedTokenCount: Int
            /// Draft tokens scheduled after the newest one (counted in `count`).
            var draft: [TokenID] = []
        }

        var budget: Int
        var chunks: [Chunk] = []
        var copies: [(owner: RequestID, copy: BlockCopy)] = []
        var preempted: [RequestID] = []

        func isScheduled(_ id: RequestID) -> Bool { chunks.contains { $0.requestID == id } }

        mutating func add(_ chunk: Chunk, copies newCopies: [BlockCopy]) {
            chunks.append(chunk)
            budget -= chunk.count
            copies += newCopies.map { (chunk.requestID, $0) }
        }

        /// Takes back a preempted request's chunk and budget; its copies target freed blocks.
        mutating func remove(_ id: RequestID) {
            if let index = chunks.firstIndex(where: { $0.requestID == id }) {
                budget += chunks[index].count
                chunks.remove(at: index)
            }
            copies.removeAll { $0.owner == id }
        }
    }

    /// Plans the next step at time `now` (time since engine start, same clock as arrival times).
    ///
    /// `drafts`: proposed continuations of decoding requests (speculative decoding). A decode
    /// with a draft runs its newest token and the draft in one chunk, trimmed to the request's
    /// remaining output, the context and the budget that prefills and admissions left; a draft
    /// never preempts anything (without blocks for it the request decodes one token as usual).
    /// Drafts of requests that do not decode in this step are ignored.
    public mutating func schedule(now: Duration, drafts: [RequestID: [TokenID]] = [:]) -> SchedulerOutput {
        if !inFlight.isEmpty { rollBackStep() }
        stepCounter += 1
        expireWaitingRequests(now: now)
        var plan = StepPlan(budget: configuration.maxBatchedTokens)
        // Decodes first: one token each keeps every running stream moving.
        let decoding = running.filter { states[$0]?.pendingTokenCount == 1 }
        for id in decoding { scheduleRunning(id, plan: &plan) }
        // Then the next prefill chunk of requests admitted earlier.
        for id in running where (states[id]?.pendingTokenCount ?? 0) > 1 {
            scheduleRunning(id, plan: &plan)
        }
        admitWaiting(plan: &plan)
        // Drafts last: speculation spends only what prefills and admissions left.
        for id in decoding where !(drafts[id] ?? []).isEmpty { addDraft(drafts[id]!, to: id, plan: &plan) }
        return makeOutput(plan)
    }

    /// Tokens a request with `pending` uncomputed tokens gets this step.
    private func chunkSize(pending: Int, budget: Int) -> Int {
        var count = min(pending, budget)
        if pending > 1, let cap = configuration.maxPrefillChunk { count = min(count, cap) }
        return count
    }

    /// Schedules a running request's next tokens, preempting from the back of `running` until
    /// its blocks fit (possibly preempting the request itself).
    private mutating func scheduleRunning(_ id: RequestID, plan: inout StepPlan) {
        guard plan.budget > 0, let state = states[id], state.status == .running, !plan.isScheduled(id) else { return }
        let pending = state.pendingTokenCount
        guard pending > 0 else { return }
        let start = state.computedTokenCount
        let count = chunkSize(pending: pending, budget: plan.budget)
        while true {
            do {
                let copies = try pool.allocateSlots(for: id, writing: start..<(start + count))
                states[id]?.computedTokenCount = start + count
                plan.add(StepPlan.Chunk(requestID: id, phase: pending == 1 ? .decode : .prefill, admission: nil,
                                        startPosition: start, count: count, cachedTokenCount: 0), copies: copies)
                return
            } catch {
                assert(error.code == .outOfBlocks, "unexpected allocation failure: \(error)")
                guard let victim = running.last else { return }
                preempt(victim, plan: &plan)
                if victim == id { return }
            }
        }
    }

    /// Extends `id`'s scheduled decode with as much of `draft` as fits: its remaining output
    /// (the step can append the draft plus one token), the context, the budget and the blocks
    /// available now.
    private mutating func addDraft(_ draft: [TokenID], to id: RequestID, plan: inout StepPlan) {
        guard let index = plan.chunks.firstIndex(where: { $0.requestID == id }), plan.chunks[index].phase == .decode,
              let state = states[id], state.status == .running else { return }
        let start = plan.chunks[index].startPosition
        let room = min(state.maxOutputTokens - state.outputTokenCount - 1,
                       configuration.maxModelLength - state.tokens.count - 1, plan.budget)
        var k = min(draft.count, max(0, room))
        while k > 0 {
            do {
                let copies = try pool.allocateSlots(for: id, writing: (start + 1)..<(start + 1 + k))
                plan.chunks[index].draft = Array(draft.prefix(k))
                plan.chunks[index].count += k
                plan.budget -= k
                plan.copies += copies.map { (id, $0) }
                return
            } catch {
                k /= 2
            }
        }
    }

    /// Preemption by recompute: free the blocks, forget computed K/V, queue again by arrival.
    private mutating func preempt(_ id: RequestID, plan: inout StepPlan) {
        pool.free(id)
        running.removeAll { $0 == id }
        states[id]?.computedTokenCount = 0
        states[id]?.status = .waiting
        states[id]?.preemptionCount += 1
        waiting.insert(id, at: insertionIndex(of: id, in: waiting))
        plan.remove(id)
        plan.preempted.append(id)
    }

    /// Admits waiting requests in order while budget, sequence slots and blocks last. Never
    /// preempts and never skips the head of the queue, so big requests are not starved.
    private mutating func admitWaiting(plan: inout StepPlan) {
        while plan.budget > 0, running.count < configuration.maxRunningSequences, let id = waiting.first {
            // Requests preempted in this step wait for the next one rather than thrash.
            guard !plan.preempted.contains(id), var state = states[id] else { return }
            let prefix = configuration.enablePrefixCaching
                ? pool.cachedPrefix(for: state.chain, tokens: state.tokens) : []
            // At least the newest token is computed, for its logits (a fully cached block is then
            // copied on write rather than recomputed).
            let cached = min(prefix.count * pool.blockSize, state.tokens.count - 1)
            let count = chunkSize(pending: state.tokens.count - cached, budget: plan.budget)
            let copies: [BlockCopy]
            do {
                copies = try pool.allocateSlots(for: id, writing: cached..<(cached + count), cachedPrefix: prefix,
                                                keepingAvailable: configuration.admissionReserveBlocks)
            } catch {
                return
            }
            waiting.removeFirst()
            state.status = .running
            state.computedTokenCount = cached + count
            state.admissionCount += 1
            if state.admissionCount == 1 {
                state.cachedPromptTokenCount = min(cached, state.request.promptTokens.count)
            }
            states[id] = state
            running.insert(id, at: insertionIndex(of: id, in: running))
            plan.add(StepPlan.Chunk(requestID: id, phase: .prefill,
                                    admission: state.preemptionCount > 0 ? .resumed : .new,
                                    startPosition: cached, count: count, cachedTokenCount: cached), copies: copies)
        }
    }

    private mutating func expireWaitingRequests(now: Duration) {
        guard let limit = configuration.maxQueueWait else { return }
        for id in waiting {
            guard let state = states[id], state.admissionCount == 0,
                  now - state.request.arrivalTime > limit else { continue }
            abort(id, reason: .timedOut)
        }
    }

    private mutating func makeOutput(_ plan: StepPlan) -> SchedulerOutput {
        var sequences: [ScheduledSequence] = []
        for chunk in plan.chunks {
            guard let state = states[chunk.requestID], let table = pool.blockTable(for: chunk.requestID) else { continue }
            let end = chunk.startPosition + chunk.count
            let real = end - chunk.draft.count
            sequences.append(ScheduledSequence(
                requestID: chunk.requestID, phase: chunk.phase, admission: chunk.admission,
                tokens: Array(state.tokens[chunk.startPosition..<real]) + chunk.draft, startPosition: chunk.startPosition,
                blockTable: table, samplesToken: real == state.tokens.count, cachedTokenCount: chunk.cachedTokenCount,
                draftTokens: chunk.draft))
        }
        inFlight = sequences.map {
            InFlightChunk(requestID: $0.requestID, startPosition: $0.startPosition, samplesToken: $0.samplesToken,
                          draftCount: $0.draftTokens.count)
        }
        // Copies of a rolled-back step go first: their sources may be reused later in this list.
        inFlightCopies = pendingCopies + plan.copies.map(\.copy)
        pendingCopies = []
        let finished = finishedSinceLastStep
        finishedSinceLastStep = []
        return SchedulerOutput(stepIndex: stepCounter, sequences: sequences, blockCopies: inFlightCopies,
                               preemptedRequestIDs: plan.preempted, finishedRequests: finished)
    }

    /// Declares that the last planned step did not run: every scheduled chunk is computed again
    /// by later steps (its blocks stay allocated), and its copy directives are issued again with
    /// the next step. Nothing is cached from it. A no-op when no step is in flight.
    public mutating func rollBackStep() {
        for chunk in inFlight {
            guard let state = states[chunk.requestID], state.status == .running else { continue }
            states[chunk.requestID]?.computedTokenCount = min(state.computedTokenCount, chunk.startPosition)
        }
        pendingCopies = inFlightCopies + pendingCopies
        inFlight = []
        inFlightCopies = []
    }
}
