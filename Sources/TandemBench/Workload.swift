import Foundation

/// Which OpenAI endpoint a request goes to.
public enum BenchEndpoint: String, Sendable, Codable, CaseIterable {
    case chat
    case completions

    public var path: String { self == .chat ? "/v1/chat/completions" : "/v1/completions" }
}

/// One chat message of a request.
public struct BenchMessage: Sendable, Codable, Equatable {
    public var role: String
    public var content: String
    public init(role: String, content: String) {
        self.role = role
        self.content = content
    }
}

/// One request a workload asks for: the messages (the completions endpoint joins them into one
/// prompt), the output budget and a tag (task or group name) carried into the records.
public struct BenchRequest: Sendable, Codable, Equatable {
    public var tag: String
    public var messages: [BenchMessage]
    public var maxTokens: Int
    /// Keep the answer's text in the record (the council checks it).
    public var keepsAnswer: Bool

    public init(tag: String, messages: [BenchMessage], maxTokens: Int, keepsAnswer: Bool = false) {
        self.tag = tag
        self.messages = messages
        self.maxTokens = maxTokens
        self.keepsAnswer = keepsAnswer
    }

    private enum CodingKeys: String, CodingKey { case tag, messages, maxTokens, keepsAnswer }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        tag = try c.decode(String.self, forKey: .tag)
        messages = try c.decode([BenchMessage].self, forKey: .messages)
        maxTokens = try c.decode(Int.self, forKey: .maxTokens)
        keepsAnswer = try c.decodeIfPresent(Bool.self, forKey: .keepsAnswer) ?? false
    }

    /// The prompt for `/v1/completions`: the message contents joined by blank lines.
    public var prompt: String { messages.map(\.content).joined(separator: "\n\n") }
}

/// Workload descriptions (the `workload` object of a scenario).
public enum WorkloadSpec: Sendable, Equatable {
    /// Random prompts of `inputLen` ± `rangeRatio` words and output budgets of `outputLen` ± `rangeRatio` tokens.
    case random(inputLen: Int, outputLen: Int, rangeRatio: Double)
    /// `groups` system prompts of `prefixLen` words, each followed by `questions` questions of `questionLen` words.
    case sharedPrefix(groups: Int, questions: Int, prefixLen: Int, questionLen: Int, outputLen: Int)
    /// `conversations` chats of `turns` turns each: a system prompt of `systemLen` words, then per
    /// turn a user message of `userLen` words; each turn resends the whole history with the
    /// earlier turns' assistant replies (`replyLen` words, fixed text, so every engine gets the
    /// same prompts), so the prefix cache's reuse across turns is what is measured. Requests go
    /// turn by turn (every conversation's turn 1, then every turn 2, ...).
    case multiTurn(conversations: Int, turns: Int, systemLen: Int, userLen: Int, replyLen: Int, outputLen: Int)
    /// The council tasks (`CouncilTasks.all`); each task's own `max_tokens` capped at `maxTokensCap` when given.
    case council(maxTokensCap: Int?)
    /// Prompts from a JSONL file (see `JSONLWorkload`).
    case jsonl(path: String, defaultMaxTokens: Int)
}

/// Builds the request pool for a workload. Requests are drawn from the pool in order, wrapping
/// around when a level asks for more requests than the pool holds.
public enum WorkloadGenerator {
    /// Words the random prompts are made of: short and common, so one word is about one token for
    /// byte-level BPE tokenizers (the measured prompt length comes from the server's usage anyway).
    static let words: [String] = """
        the of and to in is was for on that with as it by at from his her an be this are which or had \
        not but have were one their all there been they has more when who will no would if out so said \
        what up its about into than them can only other new some could time these two may then do first \
        any my now such like our over man me even most made after also did many before must through back \
        years where much your way well down should because each just those people how too little state \
        good very make world still own see men work long get here between both life being under never day \
        same another know while last might us great old year off come since against go came right used \
        take three small house light water city river tree stone cloud music paper table garden market \
        engine signal window story number system model cluster token memory network server request
        """.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)

    public static func randomText(words count: Int, rng: inout SeededRNG) -> String {
        var out: [String] = []
        out.reserveCapacity(count)
        for _ in 0..<max(1, count) { out.append(words[Int(rng.next() % UInt64(words.count))]) }
        return out.joined(separator: " ")
    }

    static func jitter(_ base: Int, _ ratio: Double, _ rng: inout SeededRNG) -> Int {
        guard ratio > 0 else { return max(1, base) }
        let lo = max(1, Int((Double(base) * (1 - ratio)).rounded()))
        let hi = max(lo, Int((Double(base) * (1 + ratio)).rounded()))
        return rng.int(in: lo...hi)
    }

    /// `count` requests (the pool) for `spec`, deterministic for a seed.
    public static func requests(_ spec: WorkloadSpec, count: Int, seed: UInt64) throws -> [BenchRequest] {
        var rng = SeededRNG(seed: seed)
        switch spec {
        case .random(let inputLen, let outputLen, let ratio):
            return (0..<max(1, count)).map { i in
                let n = jitter(inputLen, ratio, &rng)
                let text = randomText(words: n, rng: &rng)
                return BenchRequest(tag: "random", messages: [BenchMessage(role: "user", content: text)],
                                    maxTokens: jitter(outputLen, ratio, &rng))
            }
        case .sharedPrefix(let groups, let questions, let prefixLen, let questionLen, let outputLen):
            let prefixes = (0..<max(1, groups)).map { g in
                "System prompt \(g). " + randomText(words: prefixLen, rng: &rng)
            }
            var out: [BenchRequest] = []
            // Interleave groups (g0q0, g1q0, …, g0q1, …) so every group's prefix is reused while others run.
            for q in 0..<max(1, questions) {
                for (g, prefix) in prefixes.enumerated() {
                    let question = "Question \(q): " + randomText(words: questionLen, rng: &rng) + "?"
                    out.append(BenchRequest(tag: "group-\(g)",
                                            messages: [BenchMessage(role: "system", content: prefix),
                                                       BenchMessage(role: "user", content: question)],
                                            maxTokens: outputLen))
                }
            }
            return out
        case .multiTurn(let conversations, let turns, let systemLen, let userLen, let replyLen, let outputLen):
            let chats = (0..<max(1, conversations)).map { c in
                (system: "Conversation \(c). " + randomText(words: systemLen, rng: &rng),
                 turns: (0..<max(1, turns)).map { k in
                     (user: "Turn \(k + 1): " + randomText(words: userLen, rng: &rng) + "?",
                      reply: randomText(words: replyLen, rng: &rng))
                 })
            }
            var out: [BenchRequest] = []
            for k in 0..<max(1, turns) {
                for (c, chat) in chats.enumerated() {
                    var messages = [BenchMessage(role: "system", content: chat.system)]
                    for j in 0..<k {
                        messages.append(BenchMessage(role: "user", content: chat.turns[j].user))
                        messages.append(BenchMessage(role: "assistant", content: chat.turns[j].reply))
                    }
                    messages.append(BenchMessage(role: "user", content: chat.turns[k].user))
                    out.append(BenchRequest(tag: "conv-\(c)/turn-\(k + 1)", messages: messages, maxTokens: outputLen))
                }
            }
            return out
        case .council(let cap):
            return CouncilTasks.all.map { t in
                BenchRequest(tag: t.name, messages: [BenchMessage(role: "user", content: t.prompt)],
                             maxTokens: cap.map { min($0, t.maxTokens) } ?? t.maxTokens, keepsAnswer: true)
            }
        case .jsonl(let path, let defaultMaxTokens):
            return try JSONLWorkload.load(path: path, defaultMaxTokens: defaultMaxTokens)
        }
    }
}

/// A JSONL prompt file: one JSON object a line, either `{"prompt": "...", "max_tokens": 64}` or
/// `{"messages": [{"role": "user", "content": "..."}], "max_tokens": 64, "tag": "x"}`. Blank lines
/// and lines starting with `#` are skipped.
public enum JSONLWorkload {
    public struct LineError: Error, CustomStringConvertible {
        public var description: String
    }

    public static func parse(_ text: String, source: String = "<jsonl>", defaultMaxTokens: Int) throws -> [BenchRequest] {
        var out: [BenchRequest] = []
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                throw LineError(description: "\(source):\(i + 1): not a JSON object")
            }
            let maxTokens = (obj["max_tokens"] as? Int) ?? defaultMaxTokens
            let tag = (obj["tag"] as? String) ?? "line-\(i + 1)"
            if let prompt = obj["prompt"] as? String {
                out.append(BenchRequest(tag: tag, messages: [BenchMessage(role: "user", content: prompt)], maxTokens: maxTokens))
            } else if let msgs = obj["messages"] as? [[String: Any]] {
                let messages = try msgs.map { m -> BenchMessage in
                    guard let role = m["role"] as? String, let content = m["content"] as? String else {
                        throw LineError(description: "\(source):\(i + 1): each message needs string 'role' and 'content'")
                    }
                    return BenchMessage(role: role, content: content)
                }
                guard !messages.isEmpty else { throw LineError(description: "\(source):\(i + 1): 'messages' is empty") }
                out.append(BenchRequest(tag: tag, messages: messages, maxTokens: maxTokens))
            } else {
                throw LineError(description: "\(source):\(i + 1): needs 'prompt' (string) or 'messages' (array)")
            }
        }
        guard !out.isEmpty else { throw LineError(description: "\(source): no prompts") }
        return out
    }

    public static func load(path: String, defaultMaxTokens: Int) throws -> [BenchRequest] {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw LineError(description: "\(path): cannot read the file")
        }
        return try parse(text, source: path, defaultMaxTokens: defaultMaxTokens)
    }
}
