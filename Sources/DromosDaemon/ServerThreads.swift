import DromosConfig
import DromosControlPlane
import DromosDatapath
import DromosSystem
import NIOCore
import NIOPosix
import Synchronization

/// The two threads behind each of the daemon's servers. The event loop only moves bytes and never waits;
/// the pool's single thread runs the work that can take tens of milliseconds or block on the workers'
/// mailboxes (a control request, a metrics scrape). One thread, so that work runs in the order it was
/// submitted, whichever connection it came from.
struct ServerThreads: Sendable {
    let eventLoops = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    let work = NIOThreadPool(numberOfThreads: 1)

    init() {
        work.start()
    }

    /// Lets the work in progress finish (its answer can still be written), refuses what is queued behind
    /// it, then closes every connection. Not from an event loop thread: it waits for that thread.
    func shutdown() {
        try? work.syncShutdownGracefully()
        try? eventLoops.syncShutdownGracefully()
    }
}

/// A bound listener and its threads. It is bound with auto-read off, so connections wait in the backlog
/// until the daemon is ready for them (`start`), and it is torn down once however many paths reach
/// `stop` (the service group, a failed start, deinit of the daemon).
final class ListeningServer: Sendable {
    let threads: ServerThreads
    private let listener: any Channel
    private let stopped = Atomic<Bool>(false)

    /// Binds with `bind`; if that fails, the threads are shut down and the error is told by `failure`.
    init(bind: (ServerThreads) throws -> any Channel, failure: (String) -> ControlError) throws(ControlError) {
        let threads = ServerThreads()
        do {
            listener = try bind(threads)
        } catch {
            threads.shutdown()
            throw failure(failureText(error))
        }
        self.threads = threads
    }

    func start() {
        _ = listener.setOption(ChannelOptions.autoRead, value: true)
    }

    /// Closes the listener and every connection; true only for the call that did it.
    @discardableResult
    func stop() -> Bool {
        guard !stopped.exchange(true, ordering: .acquiringAndReleasing) else { return false }
        try? listener.close().wait()
        threads.shutdown()
        return true
    }
}
