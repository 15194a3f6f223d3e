import Synchronization

/// The deadlines of the database operations in flight (`PostgresBackend.bounded`),
/// checked by one task a few times a second instead of a timer per
/// operation: a commit then costs no timer registration, no extra task and
/// no wake-up of the timer thread, only a lock to add and one to remove.
///
/// An operation is failed within `tick` after its deadline, which is small
/// against the seconds an operation may take.
final class OperationDeadlines: Sendable {
    /// How often `run` looks for operations past their deadline.
    static let tick = Duration.milliseconds(100)

    private struct Entry {
        let deadline: ContinuousClock.Instant
        let expire: @Sendable () -> Void
    }

    private struct State {
        var next: UInt64 = 0
        var entries: [UInt64: Entry] = [:]
    }

    private let state = Mutex(State())

    /// Registers `expire` to run once `deadline` has passed, unless
    /// `remove` is called first; returns the handle for `remove`.
    func add(_ deadline: ContinuousClock.Instant, _ expire: @escaping @Sendable () -> Void) -> UInt64 {
        state.withLock { state in
            state.next += 1
            state.entries[state.next] = Entry(deadline: deadline, expire: expire)
            return state.next
        }
    }

    /// Forgets an operation that finished.
    func remove(_ handle: UInt64) {
        _ = state.withLock { $0.entries.removeValue(forKey: handle) }
    }

    /// Runs the `expire` of every operation past its deadline at `now`, outside the lock.
    func expire(at now: ContinuousClock.Instant) {
        let due = state.withLock { state -> [Entry] in
            let due = state.entries.filter { $0.value.deadline <= now }
            for handle in due.keys { state.entries.removeValue(forKey: handle) }
            return Array(due.values)
        }
        for entry in due { entry.expire() }
    }

    /// Checks the deadlines every `tick` until the task is cancelled.
    func run() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: Self.tick)
            expire(at: .now)
        }
    }
}
