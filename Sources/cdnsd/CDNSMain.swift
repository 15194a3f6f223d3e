import CDNSDaemon
import Dispatch

@main
enum CDNSMain {
    /// Synchronous on purpose: after an `async` main first suspends, the
    /// Swift runtime ends the main thread with `pthread_exit`, which unwinds
    /// its stack through the unwind tables and leaves about 0.7 MB of them
    /// resident for the life of the daemon. Here the main thread waits for
    /// the command, which runs detached: a plain `Task` would inherit the
    /// main actor, whose queue only an async main drains.
    static func main() {
        MemoryTuning.limitArenas()
        MemoryTuning.useUTCTimeZone()
        let finished = DispatchSemaphore(value: 0)
        Task.detached {
            await CDNSCommand.main()
            finished.signal()
        }
        finished.wait()
    }
}
