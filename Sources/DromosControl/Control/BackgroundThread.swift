import Glibc

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

/// errno in words, for messages that go to an operator.
func systemErrorText(_ code: Int32 = errno) -> String { String(cString: strerror(code)) }

/// Milliseconds of CLOCK_MONOTONIC for idle timers.
func monotonicNow() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) &* 1_000 &+ UInt64(now.tv_nsec) / 1_000_000
}
