import CTandemKernels
import TandemCore

/// A decode-GEMV roofline: each weight format's effective bandwidth (storage bytes read per
/// second by `WeightMatrix.multiply`) on a matrix larger than the last-level cache, next to a
/// STREAM-style read and triad bandwidth measured in the same run. Decode is memory bound, so a
/// format's tokens/s ceiling is bandwidth / bytes per token; the ratio says how close a kernel
/// gets to it.
public enum KernelRoofline {
    /// One measured kernel.
    public struct Measurement: Sendable {
        public var name: String
        public var threads: Int
        /// Bytes one call reads (row data plus scale planes; the x vector not counted).
        public var bytes: Int
        /// Median seconds per call.
        public var seconds: Double
        public var gigabytesPerSecond: Double { Double(bytes) / seconds / 1e9 }
    }

    /// Median of `repeats` timed calls after one warm-up call.
    public static func median(repeats: Int, _ body: () -> Void) -> Double {
        body()
        let clock = ContinuousClock()
        var times: [Double] = []
        for _ in 0..<max(1, repeats) {
            times.append(clock.measure(body).seconds)
        }
        times.sort()
        return times[times.count / 2]
    }

    /// STREAM-style read (sum of floats) and triad (a = b + s·c) over arrays of `bytes` each,
    /// split over `threads` threads. Triad counts 3 arrays of traffic (STREAM's convention).
    public static func stream(bytes: Int, threads: Int, repeats: Int) -> (read: Measurement, triad: Measurement) {
        let n = bytes / 64 * 64
        let a = RawBuffer(count: n), b = RawBuffer(count: n), c = RawBuffer(count: n)
        let fa = a.pointer.bindMemory(to: Float.self, capacity: n / 4)
        let fb = b.pointer.bindMemory(to: Float.self, capacity: n / 4)
        let fc = c.pointer.bindMemory(to: Float.self, capacity: n / 4)
        for i in 0..<n / 4 { fa[i] = 1; fb[i] = 2; fc[i] = Float(i & 7) }
        let pool = KernelThreadPool(threads: threads)
        let tasks = pool.size
        func range(_ t: Int) -> (Int, Int) { (n / 64 * t / tasks * 64, n / 64 * (t + 1) / tasks * 64) }
        let sink = FloatBuffer(count: tasks)
        let read = median(repeats: repeats) {
            pool.run(tasks: tasks) { t in let (lo, hi) = range(t); sink[t] += tk_stream_read(fa, lo, hi) }
        }
        let triad = median(repeats: repeats) {
            pool.run(tasks: tasks) { t in let (lo, hi) = range(t); tk_stream_triad(fa, fb, fc, 3, lo, hi) }
        }
        return (Measurement(name: "STREAM read", threads: tasks, bytes: n, seconds: read),
                Measurement(name: "STREAM triad", threads: tasks, bytes: 3 * n, seconds: triad))
    }

    /// Median microseconds for one job of `threads` empty tasks on a fresh pool with the given
    /// spin window: the fixed price of handing work to the workers and waiting for them. Jobs are
    /// issued `gapMicroseconds` apart (decode's kernels run back to back; 0 is that case).
    public static func dispatch(threads: Int, spinMicroseconds: Int, gapMicroseconds: Int = 0, jobs: Int = 2000) -> Double {
        let before = KernelThreads.spinMicroseconds
        KernelThreads.spinMicroseconds = spinMicroseconds
        defer { KernelThreads.spinMicroseconds = before }
        let pool = KernelThreadPool(threads: threads)
        let sink = FloatBuffer(count: max(1, threads))
        let clock = ContinuousClock()
        var times: [Double] = []
        times.reserveCapacity(jobs)
        for _ in 0..<jobs {
            if gapMicroseconds > 0 {
                let until = clock.now.advanced(by: .microseconds(gapMicroseconds))
                while clock.now < until {} // busy gap: the caller computing something else
            }
            times.append(clock.measure { pool.run(tasks: pool.size) { t in sink[t] += 1 } }.seconds * 1e6)
        }
        times.sort()
        return times[times.count / 2]
    }

    /// `WeightMatrix.multiply` on `m` with the process-wide kernel threads set to `threads`.
    public static func gemv(_ m: WeightMatrix, name: String, threads: Int, repeats: Int) throws -> Measurement {
        let before = KernelThreads.count
        defer { try? KernelThreads.setCount(before) }
        try KernelThreads.setCount(threads)
        let x = FloatBuffer(count: m.cols), y = FloatBuffer(count: m.rows)
        for i in 0..<m.cols { x[i] = Float(i % 13) * 0.01 - 0.06 }
        let t = median(repeats: repeats) { m.multiply(x.pointer, into: y.pointer) }
        return Measurement(name: name, threads: threads, bytes: m.storageBytes, seconds: t)
    }

    /// A batched multiply of `n` tokens on `m` with `threads` kernel threads, both ways: one fused
    /// GEMV per token (`perToken`) and one blocked GEMM call (`gemm`, tk_gemm_mt: the integer route
    /// where tk_gemm_activation_bits says so, its width in `activationBits`), median seconds per
    /// call of n tokens.
    public static func batch(_ m: WeightMatrix, tokens n: Int, threads: Int, repeats: Int) throws
        -> (perToken: Double, gemm: Double, activationBits: Int) {
        let before = KernelThreads.count
        defer { try? KernelThreads.setCount(before) }
        try KernelThreads.setCount(threads)
        let x = FloatBuffer(count: n * m.cols), y = FloatBuffer(count: n * m.rows)
        for i in 0..<n * m.cols { x[i] = Float(i % 13) * 0.01 - 0.06 }
        let perToken = median(repeats: repeats) {
            for t in 0..<n { m.multiply(x.pointer + t * m.cols, into: y.pointer + t * m.rows) }
        }
        let gemm = median(repeats: repeats) {
            _ = m.withKernelWeights { w in
                tk_gemm_mt(w, x.pointer, Int64(m.cols), y.pointer, Int64(m.rows), Int64(n), 0, Int64(m.rows))
            }
        }
        return (perToken, gemm, Int(tk_gemm_activation_bits(TK_PATH_AUTO, m.dtype.kernelType)))
    }

    /// A (rows, cols) matrix in `dtype` filled with random but valid codes and scales (no NaN
    /// codes; scales in a moderate range), generated directly in the format: no quantisation pass.
    public static func randomMatrix(_ dtype: DType, rows: Int, cols: Int, seed: UInt64 = 1) -> WeightMatrix {
        precondition(cols % dtype.blockSize == 0 && (dtype != .nvfp4 || cols % 16 == 0))
        let dataBytes = dtype.byteCount(elements: cols)! * rows
        let planeBytes = dtype == .nvfp4 ? rows * cols / 16 : 0
        let buffer = RawBuffer(count: dataBytes + planeBytes)
        var state = seed
        func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        let raw = buffer.pointer  // filled through raw loads and stores: no type binding
        let total = dataBytes + planeBytes
        for i in stride(from: 0, to: total / 8 * 8, by: 8) { raw.storeBytes(of: next(), toByteOffset: i, as: UInt64.self) }
        for i in total / 8 * 8..<total { raw.storeBytes(of: UInt8(truncatingIfNeeded: next()), toByteOffset: i, as: UInt8.self) }
        func byte(_ at: Int) -> UInt8 { raw.load(fromByteOffset: at, as: UInt8.self) }
        func setByte(_ at: Int, _ v: UInt8) { raw.storeBytes(of: v, toByteOffset: at, as: UInt8.self) }
        func putF16(_ at: Int, _ v: Float) { raw.storeBytes(of: tk_f32_to_f16(v).littleEndian, toByteOffset: at, as: UInt16.self) }
        let blocks = rows * cols / dtype.blockSize
        switch dtype {
        case .f32:
            for i in 0..<rows * cols { raw.storeBytes(of: Float(next() & 0xFFFF) * 1e-5 - 0.3, toByteOffset: 4 * i, as: Float.self) }
        case .f16, .bf16:
            // Exponent bits forced into a moderate range, sign and mantissa random.
            for i in 0..<rows * cols {
                let h = raw.load(fromByteOffset: 2 * i, as: UInt16.self)
                raw.storeBytes(of: dtype == .f16 ? (h & 0x83FF) | 0x2C00 : (h & 0x807F) | 0x3C00, toByteOffset: 2 * i, as: UInt16.self)
            }
        case .fp8_e4m3:
            for i in 0..<dataBytes where byte(i) & 0x7F == 0x7F { setByte(i, byte(i) & 0x80 | 0x7E) }
        case .nvfp4:
            for i in dataBytes..<total { setByte(i, 0x30 + byte(i) % 0x20) }
        case .mxfp4:
            for b in 0..<blocks { setByte(b * 17, 118 + byte(b * 17) % 8) }
        case .q8_0, .q4_0, .iq4_nl:
            for b in 0..<blocks { putF16(b * dtype.blockBytes, 0.001 + Float(byte(b * dtype.blockBytes) % 16) * 0.001) }
        case .q4_1, .q5_1:
            let bb = dtype.blockBytes
            for b in 0..<blocks {
                putF16(b * bb, 0.001 + Float(byte(b * bb) % 16) * 0.001)
                putF16(b * bb + 2, -0.05 + Float(byte(b * bb + 2) % 16) * 0.001)
            }
        case .q5_0:
            for b in 0..<blocks { putF16(b * 22, 0.001 + Float(byte(b * 22) % 16) * 0.001) }
        case .q4_k, .q5_k:
            // d and dmin small and positive; the packed 6-bit scales and mins stay random.
            for b in 0..<blocks {
                putF16(b * dtype.blockBytes, 0.0001 + Float(byte(b * dtype.blockBytes) % 16) * 0.0001)
                putF16(b * dtype.blockBytes + 2, 0.0001 + Float(byte(b * dtype.blockBytes + 2) % 16) * 0.0001)
            }
        case .q6_k:
            for b in 0..<blocks { putF16(b * 210 + 208, 0.00005 + Float(byte(b * 210 + 208) % 16) * 0.00005) }
        case .q2_k:
            for b in 0..<blocks {
                putF16(b * 84 + 80, 0.001 + Float(byte(b * 84 + 80) % 16) * 0.001)
                putF16(b * 84 + 82, 0.001 + Float(byte(b * 84 + 82) % 16) * 0.001)
            }
        case .q3_k:
            for b in 0..<blocks { putF16(b * 110 + 108, 0.0005 + Float(byte(b * 110 + 108) % 16) * 0.0005) }
        }
        let scales: WeightScales
        switch dtype {
        case .fp8_e4m3: scales = .perTensor(0.01)
        case .nvfp4: scales = .blocks(tensor: 0.01, blocks: UnsafeRawPointer(raw + dataBytes).assumingMemoryBound(to: UInt8.self))
        default: scales = .none
        }
        return WeightMatrix(dtype: dtype, rows: rows, cols: cols, base: UnsafeRawPointer(buffer.pointer), scales: scales, owner: buffer)
    }
}
