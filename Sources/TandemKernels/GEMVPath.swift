import CTandemKernels

/// The instruction-set path the quantised GEMV kernels run on (tandem_gemv.h), process-wide.
/// `portable` dequantises every format exactly; the SIMD paths (x86-64: `avx2`, `avx512`; AArch64:
/// `neon`, `dotprod`) round activations to int8 for Q4_0, MXFP4 and NVFP4 (llama.cpp's trade),
/// which `tandem accuracy --kernels` can separate.
public enum GEMVPath: String, Sendable, CaseIterable {
    case auto, portable, avx2, avx512, neon, dotprod

    var raw: tk_gemv_path {
        switch self {
        case .auto: TK_PATH_AUTO
        case .portable: TK_PATH_PORTABLE
        case .avx2: TK_PATH_AVX2
        case .avx512: TK_PATH_AVX512
        case .neon: TK_PATH_NEON
        case .dotprod: TK_PATH_DOTPROD
        }
    }

    init(_ raw: tk_gemv_path) {
        self = GEMVPath.allCases.first { $0 != .auto && $0.raw == raw } ?? .portable
    }

    /// The path in use now (never `auto`).
    public static var current: GEMVPath { GEMVPath(tk_gemv_get_path()) }

    /// The best path this CPU supports.
    public static var best: GEMVPath { GEMVPath(tk_gemv_best_path()) }

    public var isSupported: Bool { tk_gemv_path_supported(raw) == 1 }

    /// The CPU features the paths are chosen from (tk_cpu_features: CPUID on x86-64, AT_HWCAP on
    /// AArch64 Linux), e.g. ["asimd", "dotprod", "i8mm"].
    public static var cpuFeatures: [String] {
        var buffer = [CChar](repeating: 0, count: 256)
        _ = tk_cpu_features(&buffer, buffer.count)
        return String(cString: buffer).split(separator: " ").map(String.init)
    }

    /// Makes this the path for every later multiply; false (nothing changed) if unsupported here.
    @discardableResult
    public func select() -> Bool { tk_gemv_set_path(raw) == 0 }

    /// Runs `body` with this path for the calling thread's multiplies only (other threads keep
    /// theirs; the kernel worker threads follow the caller). Unsupported paths throw.
    public func whileSelectedOnThisThread<R>(_ body: () throws -> R) throws -> R {
        guard tk_gemv_set_thread_path(raw) == 0 else { throw KernelError(.unsupportedPath, "GEMV path \(rawValue) cannot run on this CPU") }
        defer { _ = tk_gemv_set_thread_path(TK_PATH_AUTO) }
        return try body()
    }

    /// The path the calling thread's multiplies use now.
    public static var effective: GEMVPath { GEMVPath(tk_gemv_effective_path()) }
}
