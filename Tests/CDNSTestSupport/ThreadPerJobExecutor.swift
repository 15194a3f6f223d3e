import Dispatch
import Foundation
import Synchronization
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

/// A counting semaphore whose waiters suspend instead of blocking a thread,
/// served in arrival order.
final class AsyncPermits: Sendable {
    private struct State {
        var available: Int
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state: Mutex<State>

    init(_ count: Int) {
        state = Mutex(State(available: max(1, count)))
    }

    func acquire() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let granted = state.withLock { state in
                if state.available > 0 {
                    state.available -= 1
                    return true
                }
                state.waiters.append(continuation)
                return false
            }
            if granted { continuation.resume() }
        }
    }

    func release() {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if state.waiters.isEmpty {
                state.available += 1
                return nil
            }
            return state.waiters.removeFirst()
        }
        next?.resume()
    }
}

/// Runs a test, or every test of a suite, and the child tasks it starts,
/// on ``ThreadPerJobExecutor``: for tests that block their thread, so that
/// they do not starve the tests that run beside them.
///
/// At most `CDNS_TEST_CONCURRENCY` (4 by default) such tests run at once.
/// They start daemons, knotd, pebble, lego and PostgreSQL sessions; left
/// unbounded, all of them start together, and on two cores their waits of
/// a few seconds stop holding.
public struct BlockingTrait: SuiteTrait, TestTrait, TestScoping {
    public var isRecursive: Bool { true }

    static let permits = AsyncPermits(ProcessInfo.processInfo.environment["CDNS_TEST_CONCURRENCY"].flatMap(Int.init) ?? 4)

    @TaskLocal static var holdsPermit = false

    public func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        try await withTaskExecutorPreference(ThreadPerJobExecutor.shared) {
            guard !test.isSuite, !Self.holdsPermit else { return try await function() }
            await Self.permits.acquire()
            defer { Self.permits.release() }
            try await Self.$holdsPermit.withValue(true) { try await function() }
        }
    }
}

extension Trait where Self == BlockingTrait {
    /// The test blocks its thread (see ``BlockingTrait``).
    public static var blocking: Self { BlockingTrait() }
}
