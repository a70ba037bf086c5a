import Foundation
import TandemEngine
import TandemEngineCore
import TandemModel

/// Test-only fault injection for the end-to-end fault tests, off unless its environment variable
/// is set. Never set it in production.
///
/// `TANDEM_FAULT_STEP_ERROR_AFTER=N`: the coordinator's step executor runs its first N steps and
/// throws on every later one (a step error, as a dead worker or a broken link causes), without
/// sending the step to the other ranks.
public enum FaultInjection {
    public static let stepErrorAfterVariable = "TANDEM_FAULT_STEP_ERROR_AFTER"

    /// `executor`, or a wrapper that fails as the environment asks.
    public static func wrap(_ executor: any StepExecutor,
                            environment: [String: String] = ProcessInfo.processInfo.environment) -> any StepExecutor {
        guard let raw = environment[stepErrorAfterVariable], let n = Int(raw), n >= 0 else { return executor }
        return FailingStepExecutor(executor, failAfter: n)
    }
}

/// Forwards the first `failAfter` steps, then throws on each step.
final class FailingStepExecutor: StepExecutor {
    struct InjectedStepError: Error, CustomStringConvertible {
        var step: Int
        var description: String { "injected step error at step \(step) (\(FaultInjection.stepErrorAfterVariable))" }
    }

    let inner: any StepExecutor
    let failAfter: Int
    private var steps = 0

    init(_ inner: any StepExecutor, failAfter: Int) {
        self.inner = inner
        self.failAfter = failAfter
    }

    var blockSize: Int { inner.blockSize }
    var blockCount: Int { inner.blockCount }

    func execute(_ chunks: [SequenceChunk], copies: [BlockCopy]) throws -> [[Float]] {
        steps += 1
        if steps > failAfter { throw InjectedStepError(step: steps) }
        return try inner.execute(chunks, copies: copies)
    }
}
