import DromosBalancer
import DromosConfig
import DromosControlPlane
import DromosDatapath
import DromosHost
import DromosIO
import DromosSystem
import DromosWire
import Glibc
import Synchronization

/// A plain pthread for the daemon's work that blocks (a reload, stopping the workers): it must not hold
/// one of Swift concurrency's few threads while it waits. It blocks the signals the lifecycle handles.
struct BackgroundThread: ~Copyable {
    private let thread: pthread_t

    init(_ body: @escaping @Sendable () -> Void) {
        let context = Unmanaged.passRetained(Body(body)).toOpaque()
        var thread = pthread_t()
        let created = pthread_create(&thread, nil, { raw in
            DaemonSignals.blockInThisThread()
            Unmanaged<Body>.fromOpaque(raw!).takeRetainedValue().run()
            return nil
        }, context)
        precondition(created == 0, "pthread_create failed: \(created)")
        self.thread = thread
    }

    consuming func join() {
        pthread_join(thread, nil)
    }

    /// For a thread nobody waits for: its resources go when it ends.
    consuming func detach() {
        pthread_detach(thread)
    }

    private final class Body {
        let run: @Sendable () -> Void
        init(_ run: @escaping @Sendable () -> Void) { self.run = run }
    }
}
