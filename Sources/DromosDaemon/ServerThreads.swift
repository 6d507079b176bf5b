import DromosConfig
import DromosControlPlane
import DromosDatapath
import DromosSystem
import NIOCore
import NIOPosix

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
