import CTandemWire
import TandemCore
import TandemModel

/// Encodes and decodes `ControlMessage` with the protobuf-c code generated from
/// `cluster/proto/tandem_cluster.proto`.
public enum WireCodec {
    public static func encode(_ message: ControlMessage) -> [UInt8] {
        var control = Tandem__Cluster__Control()
        tandem__cluster__control__init(&control)
        switch message {
        case .hello(let h):
            return withHello(h) { hp in
                control.kind_case = TANDEM__CLUSTER__CONTROL__KIND_HELLO
                control.hello = hp
                return pack(&control)
            }
        case .shutdown(let reason):
            var s = Tandem__Cluster__Shutdown()
            tandem__cluster__shutdown__init(&s)
            return reason.withCString { cs in
                s.reason = UnsafeMutablePointer(mutating: cs)
                return withUnsafeMutablePointer(to: &s) { sp in
                    control.kind_case = TANDEM__CLUSTER__CONTROL__KIND_SHUTDOWN
                    control.shutdown = sp
                    return pack(&control)
                }
            }
        case .step(let index, let chunks, let copies):
            // Flat storage that outlives the C structs pointing into it.
            var tokenStore = chunks.map { $0.tokens.map { Int32($0) } }
            var tableStore = chunks.map { $0.blockTable }
            var cChunks = [Tandem__Cluster__Chunk](repeating: Tandem__Cluster__Chunk(), count: chunks.count)
            var cCopies = [Tandem__Cluster__BlockCopy](repeating: Tandem__Cluster__BlockCopy(), count: copies.count)
            return tokenStore.withUnsafeMutableBufferPointer { tokens in
                tableStore.withUnsafeMutableBufferPointer { tables in
                    for i in 0..<chunks.count {
                        tandem__cluster__chunk__init(&cChunks[i])
                        cChunks[i].n_tokens = tokens[i].count
                        cChunks[i].tokens = tokens[i].withUnsafeMutableBufferPointer { $0.baseAddress }
                        cChunks[i].n_block_table = tables[i].count
                        cChunks[i].block_table = tables[i].withUnsafeMutableBufferPointer { $0.baseAddress }
                        cChunks[i].start_position = UInt32(chunks[i].startPosition)
                        cChunks[i].wants_logits = chunks[i].wantsLogits ? 1 : 0
                        cChunks[i].logit_count = chunks[i].logitCount > 1 ? UInt32(chunks[i].logitCount) : 0
                    }
                    for (i, c) in copies.enumerated() {
                        tandem__cluster__block_copy__init(&cCopies[i])
                        cCopies[i].source = UInt32(c.source)
                        cCopies[i].destination = UInt32(c.destination)
                    }
                    return cChunks.withUnsafeMutableBufferPointer { cc in
                        cCopies.withUnsafeMutableBufferPointer { cp in
                            var chunkPtrs: [UnsafeMutablePointer<Tandem__Cluster__Chunk>?] = (0..<cc.count).map { cc.baseAddress! + $0 }
                            var copyPtrs: [UnsafeMutablePointer<Tandem__Cluster__BlockCopy>?] = (0..<cp.count).map { cp.baseAddress! + $0 }
                            return chunkPtrs.withUnsafeMutableBufferPointer { chp in
                                copyPtrs.withUnsafeMutableBufferPointer { cpp in
                                    var step = Tandem__Cluster__StepPlan()
                                    tandem__cluster__step_plan__init(&step)
                                    step.step = index
                                    step.n_chunks = chp.count
                                    step.chunks = chp.baseAddress
                                    step.n_copies = cpp.count
                                    step.copies = cpp.baseAddress
                                    return withUnsafeMutablePointer(to: &step) { sp in
                                        control.kind_case = TANDEM__CLUSTER__CONTROL__KIND_STEP
                                        control.step = sp
                                        return pack(&control)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    private static func pack(_ control: inout Tandem__Cluster__Control) -> [UInt8] {
        withUnsafeMutablePointer(to: &control) { cp in
            let size = tandem__cluster__control__get_packed_size(cp)
            var out = [UInt8](repeating: 0, count: size)
            _ = out.withUnsafeMutableBufferPointer { tandem__cluster__control__pack(cp, $0.baseAddress) }
            return out
        }
    }

    private static func withHello<R>(_ h: RankHello, _ body: (UnsafeMutablePointer<Tandem__Cluster__Hello>) -> R) -> R {
        var c = Tandem__Cluster__Hello()
        tandem__cluster__hello__init(&c)
        c.protocol_version = h.protocolVersion
        c.rank = UInt32(h.rank)
        c.world_size = UInt32(h.worldSize)
        c.kv_head_begin = UInt32(h.kvHeads.lowerBound); c.kv_head_end = UInt32(h.kvHeads.upperBound)
        c.ffn_begin = UInt32(h.ffnColumns.lowerBound); c.ffn_end = UInt32(h.ffnColumns.upperBound)
        c.vocab_begin = UInt32(h.vocabRows.lowerBound); c.vocab_end = UInt32(h.vocabRows.upperBound)
        c.block_size = UInt32(h.blockSize)
        c.block_count = UInt32(h.blockCount)
        c.weight_bytes = h.weightBytes
        c.resident_bytes = h.residentBytes
        c.kv_dtype = h.kvDType == .fp8 ? TANDEM__CLUSTER__KVDTYPE__KV_DTYPE_FP8 : TANDEM__CLUSTER__KVDTYPE__KV_DTYPE_F32
        c.expert_begin = UInt32(h.experts.lowerBound); c.expert_end = UInt32(h.experts.upperBound)
        return h.expertParallelism.withCString { ep in
        c.expert_parallelism = UnsafeMutablePointer(mutating: ep)
        return h.modelName.withCString { name in
            h.modelFingerprint.withCString { fp in
                h.host.withCString { host in
                    h.transport.withCString { tr in
                        c.model_name = UnsafeMutablePointer(mutating: name)
                        c.model_fingerprint = UnsafeMutablePointer(mutating: fp)
                        c.host = UnsafeMutablePointer(mutating: host)
                        c.transport = UnsafeMutablePointer(mutating: tr)
                        return withUnsafeMutablePointer(to: &c) { body($0) }
                    }
                }
            }
        }
        }
    }

    public static func decode(_ bytes: [UInt8]) throws -> ControlMessage {
        guard let msg = bytes.withUnsafeBufferPointer({ tandem__cluster__control__unpack(nil, $0.count, $0.baseAddress) }) else {
            throw WireError(message: "malformed control message (\(bytes.count) bytes)")
        }
        defer { tandem__cluster__control__free_unpacked(msg, nil) }
        let m = msg.pointee
        switch m.kind_case {
        case TANDEM__CLUSTER__CONTROL__KIND_HELLO:
            guard let h = m.hello?.pointee else { throw WireError(message: "hello without body") }
            var r = RankHello()
            r.protocolVersion = h.protocol_version
            r.modelName = h.model_name.map { String(cString: $0) } ?? ""
            r.modelFingerprint = h.model_fingerprint.map { String(cString: $0) } ?? ""
            r.rank = Int(h.rank)
            r.worldSize = Int(h.world_size)
            r.kvHeads = Int(h.kv_head_begin)..<Int(max(h.kv_head_begin, h.kv_head_end))
            r.ffnColumns = Int(h.ffn_begin)..<Int(max(h.ffn_begin, h.ffn_end))
            r.vocabRows = Int(h.vocab_begin)..<Int(max(h.vocab_begin, h.vocab_end))
            r.blockSize = Int(h.block_size)
            r.blockCount = Int(h.block_count)
            r.host = h.host.map { String(cString: $0) } ?? ""
            r.transport = h.transport.map { String(cString: $0) } ?? ""
            r.weightBytes = h.weight_bytes
            r.residentBytes = h.resident_bytes
            r.expertParallelism = h.expert_parallelism.map { String(cString: $0) } ?? ""
            r.experts = Int(h.expert_begin)..<Int(max(h.expert_begin, h.expert_end))
            r.kvDType = h.kv_dtype == TANDEM__CLUSTER__KVDTYPE__KV_DTYPE_FP8 ? .fp8 : .f32
            return .hello(r)
        case TANDEM__CLUSTER__CONTROL__KIND_SHUTDOWN:
            return .shutdown(reason: m.shutdown?.pointee.reason.map { String(cString: $0) } ?? "")
        case TANDEM__CLUSTER__CONTROL__KIND_STEP:
            guard let s = m.step?.pointee else { throw WireError(message: "step without body") }
            var chunks: [SequenceChunk] = []
            for i in 0..<s.n_chunks {
                guard let c = s.chunks[i]?.pointee else { continue }
                let logitCount = c.logit_count > 0 ? Int(c.logit_count) : (c.wants_logits != 0 ? 1 : 0)
                guard logitCount <= c.n_tokens else {
                    throw WireError(message: "step chunk \(i) wants logits of \(logitCount) positions but has \(c.n_tokens) tokens")
                }
                chunks.append(SequenceChunk(
                    tokens: (0..<c.n_tokens).map { TokenID(c.tokens[$0]) }, startPosition: Int(c.start_position),
                    blockTable: (0..<c.n_block_table).map { c.block_table[$0] }, logitCount: logitCount))
            }
            let copies = (0..<s.n_copies).compactMap { s.copies[$0]?.pointee }.map { (source: Int($0.source), destination: Int($0.destination)) }
            return .step(index: s.step, chunks: chunks, copies: copies)
        default:
            throw WireError(message: "control message with unknown kind \(m.kind_case.rawValue)")
        }
    }
}
