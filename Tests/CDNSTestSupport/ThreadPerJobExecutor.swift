import Dispatch
import Testing

/// A task executor that runs each job on a thread of libdispatch's
/// overcommit pool, which starts another thread whenever every one it has
/// is busy: a job that blocks (waits for a process, sleeps, polls a socket)
/// holds only its own thread.
///
/// On Linux, Swift's global executor has one thread per core and cannot
/// tell a blocked thread from a busy one. Every test target runs in one
/// process, so on two cores two integration tests waiting for lego used
/// to stall every other test, and the API tests' clients gave up after
/// their 20 s read timeout.
final class ThreadPerJobExecutor: TaskExecutor {
    static let shared = ThreadPerJobExecutor()

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        // A serial queue of its own targets the overcommit root queue.
        DispatchQueue(label: "cdnsd.test.job").async {
            job.runSynchronously(on: self.asUnownedTaskExecutor())
        }
    }
}

/// Runs a test, or every test of a suite, and the child tasks it starts,
/// on ``ThreadPerJobExecutor``: for tests that block their thread, so that
/// they do not starve the tests that run beside them.
public struct BlockingTrait: SuiteTrait, TestTrait, TestScoping {
    public var isRecursive: Bool { true }

    public func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        try await withTaskExecutorPreference(ThreadPerJobExecutor.shared) { try await function() }
    }
}

extension Trait where Self == BlockingTrait {
    /// The test blocks its thread (see ``BlockingTrait``).
    public static var blocking: Self { BlockingTrait() }
}
