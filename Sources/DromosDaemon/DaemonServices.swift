import DromosSystem
import Glibc
import ServiceLifecycle
import Synchronization
import UnixSignals

/// One stage of the daemon as a swift-service-lifecycle service: `begin` when the group starts it,
/// then it waits for the group's graceful shutdown (SIGTERM, SIGINT, or another service failing), then
/// `end`. Both run on a thread of their own: they block (nft, joining threads).
struct DaemonStage: Service {
    let name: String
    let begin: @Sendable () throws -> Void
    let end: @Sendable () -> Void

    func run() async throws {
        try await offThePool(begin)
        // Throws CancellationError only when the group is cancelled rather than shut down: end anyway.
        try? await gracefulShutdown()
        await offThePool(end)
    }
}

/// SIGHUP reloads the configuration (the same path as `dromos ctl reload`), one reload at a time.
struct ReloadOnHangUp: Service {
    let reload: @Sendable () -> Void

    func run() async throws {
        for await _ in await UnixSignalsSequence(trapping: .sighup).cancelOnGracefulShutdown() {
            await offThePool(reload)
        }
    }
}

/// Runs `body` every `interval` until the graceful shutdown (the lost-frame report).
struct Periodic: Service {
    let interval: Duration
    let body: @Sendable () -> Void

    func run() async throws {
        // The sleep ends with the graceful shutdown: the group stops its services one after another, and
        // a second spent here would be a second before the daemon withdraws its routes.
        while !Task.isShuttingDownGracefully {
            do { try await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) } } catch { return }
            // The body blocks (netlink, the workers' counters): never on a thread of the concurrency pool.
            await offThePool(body)
        }
    }
}

/// The daemon's work that blocks (nft, fsync, waiting for workers to adopt a table, joining threads)
/// runs on a thread of its own, never on one of Swift concurrency's few threads.
func offThePool(_ body: @escaping @Sendable () throws -> Void) async throws {
    try await withCheckedThrowingContinuation { (done: CheckedContinuation<Void, any Error>) in
        let thread = BackgroundThread {
            do { try body(); done.resume() } catch { done.resume(throwing: error) }
        }
        thread.detach()
    }
}

func offThePool(_ body: @escaping @Sendable () -> Void) async {
    await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
        let thread = BackgroundThread {
            body()
            done.resume()
        }
        thread.detach()
    }
}

/// What the daemon's own threads block, so that the process's signals reach the lifecycle's handlers
/// and never interrupt a worker in its ring.
enum DaemonSignals {
    static func blockInThisThread() { BackgroundThread.blockLifecycleSignals() }
}
