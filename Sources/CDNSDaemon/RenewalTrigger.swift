import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import UnixSignals

/// Wakes one renewal loop early: the loop sleeps until its next due time
/// or until something pulls the trigger (SIGHUP, a managed certificate
/// added or removed), whichever comes first; it does no periodic polling.
final class RenewalTrigger: Sendable {
    /// Why the loop woke early.
    struct Wake: OptionSet, Sendable {
        let rawValue: Int
        static let hangup = Wake(rawValue: 1)
        static let changed = Wake(rawValue: 2)
    }

    private struct State {
        var pending: Wake = []
        var cancelled = false
        var waiter: CheckedContinuation<Wake, Never>?
    }

    private let state = Mutex(State())

    init() {}

    /// Wakes the waiting loop, or the next wait if none is waiting now.
    func pull(_ reason: Wake = .hangup) {
        let waiter = state.withLock { state -> CheckedContinuation<Wake, Never>? in
            guard let waiter = state.waiter else {
                state.pending.formUnion(reason)
                return nil
            }
            state.waiter = nil
            return waiter
        }
        waiter?.resume(returning: reason)
    }

    /// Waits until `deadline` or a pull, and says which pulls came (empty:
    /// the deadline). Returns at once when the calling task is cancelled.
    /// One waiter at a time.
    func wait(until deadline: Date) async -> Wake {
        state.withLock { $0.cancelled = false }
        return await withTaskGroup(of: Wake.self) { group in
            group.addTask { await self.nextPull() }
            group.addTask {
                let seconds = deadline.timeIntervalSinceNow
                if seconds > 0 { try? await Task.sleep(for: .milliseconds(Int64(min(seconds, 86400 * 365) * 1000))) }
                return []
            }
            let first = await group.next() ?? []
            group.cancelAll()
            return first
        }
    }

    private func nextPull() async -> Wake {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Wake, Never>) in
                let ready = state.withLock { state -> Wake? in
                    if state.cancelled {
                        state.cancelled = false
                        return []
                    }
                    if !state.pending.isEmpty {
                        defer { state.pending = [] }
                        return state.pending
                    }
                    state.waiter = continuation
                    return nil
                }
                if let ready { continuation.resume(returning: ready) }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<Wake, Never>? in
                guard let waiter = state.waiter else {
                    state.cancelled = true
                    return nil
                }
                state.waiter = nil
                return waiter
            }
            waiter?.resume(returning: [])
        }
    }
}

/// SIGHUP for the whole daemon. `serve` traps it before anything else
/// starts, whatever the configuration, so it never ends the process; each
/// SIGHUP first reloads the configuration file (zones, records, static
/// TSIG keys, log level; a file that does not load leaves the running
/// configuration in place), then pulls every renewal loop's trigger (the
/// API certificate renews now, managed certificates are re-read and
/// failed renewals retried now).
struct HangupService: Service {
    let signals: UnixSignalsSequence
    let triggers: [RenewalTrigger]
    var reload: (@Sendable () async -> Void)? = nil
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            for await _ in signals {
                logger.info("SIGHUP received", metadata: ["renewal_loops": "\(triggers.count)"])
                if let reload { await reload() }
                for trigger in triggers { trigger.pull(.hangup) }
            }
        }
    }
}
