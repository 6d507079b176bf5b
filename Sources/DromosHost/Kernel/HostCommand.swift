import Dispatch
import DromosBalancer
import DromosConfig
import DromosIO
import DromosSystem
import DromosWire
import Subprocess
import SystemPackage

/// The host tools the daemon runs (nft), on swift-subprocess: spawned with an empty signal mask and
/// default handlers whatever thread asks, reaped through a pidfd, output collected with a bound.
enum HostCommand {
    struct Outcome: Sendable {
        /// The exit code, 128 + the signal when a signal ended it.
        var status: Int32
        /// Standard output and standard error together, in the order written.
        var output: String
    }

    struct TimedOut: Error, CustomStringConvertible {
        var description: String
    }

    static let outputLimit = 1 << 20

    /// Runs `arguments` (no shell; the first is an absolute path) with `input` on stdin, bounded by
    /// `timeoutSeconds`: then its process gets SIGTERM, two seconds later SIGKILL, and this throws.
    static func run(_ arguments: [String], input: String, timeoutSeconds: Int) async throws -> Outcome {
        let options = {
            var options = PlatformOptions()
            options.teardownSequence = [.gracefulShutDown(toProcessGroup: false, allowedDurationToNextStep: .seconds(2))]
            return options
        }()
        let command = arguments.joined(separator: " ")
        return try await withThrowingTaskGroup(of: Outcome?.self) { group in
            group.addTask {
                let result = try await Subprocess.run(
                    .path(FilePath(arguments[0])), arguments: Arguments(Array(arguments.dropFirst())),
                    platformOptions: options, input: .string(input),
                    output: .string(limit: outputLimit), error: .combinedWithOutput)
                switch result.terminationStatus {
                case .exited(let code): return Outcome(status: code, output: result.standardOutput)
                case .signaled(let signal): return Outcome(status: 128 + signal, output: result.standardOutput)
                }
            }
            group.addTask {
                try await Task.sleep(for: .seconds(timeoutSeconds))
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let outcome = first else {
                throw TimedOut(description: "\(command) did not finish within \(timeoutSeconds) s")
            }
            return outcome
        }
    }

    /// `run` for the daemon's own threads (main, control, reload, neighbor), which are plain threads:
    /// never call it from a task of Swift concurrency, whose few threads it would hold while it waits.
    static func runBlocking(_ arguments: [String], input: String, timeoutSeconds: Int) throws -> Outcome {
        let box = OutcomeBox()
        let done = DispatchSemaphore(value: 0)
        Task.detached {
            do { box.result = .success(try await run(arguments, input: input, timeoutSeconds: timeoutSeconds)) } catch {
                box.result = .failure(error)
            }
            done.signal()
        }
        done.wait()
        return try box.result!.get()
    }

    /// Written once by the task before it signals, read once after the wait: the semaphore orders them.
    private final class OutcomeBox: @unchecked Sendable {
        var result: Result<Outcome, any Error>?
    }
}
