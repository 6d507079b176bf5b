import Glibc
import Synchronization

/// A plain pthread for the daemon's side jobs (control socket, metrics): they block in poll() and must
/// not borrow the Swift concurrency pool, which the daemon does not otherwise run.
struct BackgroundThread: ~Copyable {
    private let thread: pthread_t

    init(_ body: @escaping @Sendable () -> Void) {
        let context = Unmanaged.passRetained(Body(body)).toOpaque()
        var thread = pthread_t()
        let created = pthread_create(&thread, nil, { raw in
            Unmanaged<Body>.fromOpaque(raw!).takeRetainedValue().run()
            return nil
        }, context)
        precondition(created == 0, "pthread_create failed: \(created)")
        self.thread = thread
    }

    consuming func join() {
        pthread_join(thread, nil)
    }

    private final class Body {
        let run: @Sendable () -> Void
        init(_ run: @escaping @Sendable () -> Void) { self.run = run }
    }
}

/// A server's loop thread with its stop flag: started once, and stopped (flag set, thread joined) by
/// the first `stop` only, so a second stop from a failed start-up path or deinit is harmless.
final class ServiceThread: Sendable {
    private let stopping = Atomic<Bool>(false)
    private let thread = Mutex<BackgroundThread?>(nil)

    /// The loop asks this once per poll round.
    var isStopping: Bool { stopping.load(ordering: .acquiring) }

    func start(_ loop: @escaping @Sendable () -> Void) {
        thread.withLock { $0 = BackgroundThread(loop) }
    }

    /// True when this call stopped the thread (the caller then releases what the loop used).
    func stop() -> Bool {
        guard !stopping.exchange(true, ordering: .acquiringAndReleasing) else { return false }
        thread.withLock { running in
            if let thread = running.take() { thread.join() }
        }
        return true
    }
}
