import Glibc

/// A plain pthread for work that blocks (a reload, stopping the workers, waiting on a raw socket): it
/// must not hold one of Swift concurrency's few threads, or an event loop, while it waits. It blocks the
/// signals the daemon's lifecycle handles (SIGINT, SIGTERM, SIGHUP), so they reach the lifecycle's
/// handlers and never interrupt it.
public struct BackgroundThread: ~Copyable {
    public static let lifecycleSignals: [Int32] = [SIGINT, SIGTERM, SIGHUP]

    private let thread: pthread_t

    public init(_ body: @escaping @Sendable () -> Void) {
        let context = Unmanaged.passRetained(Body(body)).toOpaque()
        var thread = pthread_t()
        let created = pthread_create(&thread, nil, { raw in
            BackgroundThread.blockLifecycleSignals()
            Unmanaged<Body>.fromOpaque(raw!).takeRetainedValue().run()
            return nil
        }, context)
        precondition(created == 0, "pthread_create failed: \(created)")
        self.thread = thread
    }

    public consuming func join() {
        pthread_join(thread, nil)
    }

    /// For a thread nobody waits for: its resources go when it ends.
    public consuming func detach() {
        pthread_detach(thread)
    }

    /// In the calling thread.
    public static func blockLifecycleSignals() {
        var signals = sigset_t()
        sigemptyset(&signals)
        for signal in lifecycleSignals { sigaddset(&signals, signal) }
        pthread_sigmask(SIG_BLOCK, &signals, nil)
    }

    private final class Body {
        let run: @Sendable () -> Void
        init(_ run: @escaping @Sendable () -> Void) { self.run = run }
    }
}
