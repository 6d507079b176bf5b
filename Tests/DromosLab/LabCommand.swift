import Dispatch
import Glibc
import Subprocess
import SystemPackage

public struct LabError: Error, CustomStringConvertible {
    public let description: String
    public init(description: String) { self.description = description }
}

/// What a finished command left: its exit code (128 + the signal when a signal ended it) and its output.
public struct CommandOutcome: Sendable {
    public var status: Int32
    public var output: String
    public var errors: String
}

/// Child processes for the tests and the lab, on swift-subprocess. Foundation's `Process` is not safe to
/// spawn from the many threads swift-testing runs tests on (it crashed the suite inside `Process.run()`),
/// and it passes the spawning thread's blocked signals on; swift-subprocess spawns with an empty mask and
/// default handlers, reaps through a pidfd and collects output with a bound.
public enum LabCommand {
    /// More than any command of the suite prints (tcpdump -r over a capture of 8,000 connections is a few MiB).
    public static let outputLimit = 64 << 20
    static let errorLimit = 4 << 20

    static func executable(_ name: String) -> Executable {
        name.contains("/") ? .path(FilePath(name)) : .name(name)
    }

    /// A process group of its own, so that a time-out or teardown reaches whatever the command started.
    static var platformOptions: PlatformOptions {
        var options = PlatformOptions()
        options.processGroupID = 0
        options.teardownSequence = [.gracefulShutDown(toProcessGroup: true, allowedDurationToNextStep: .seconds(2))]
        return options
    }

    static func code(_ status: TerminationStatus) -> Int32 {
        switch status {
        case .exited(let code): return code
        case .signaled(let signal): return 128 + signal
        }
    }

    /// Runs `arguments` to its end, at most `timeout` seconds (generous: `ip` and `sysctl` wait for the
    /// kernel's rtnl lock, which namespaces being torn down elsewhere can hold for tens of seconds on a
    /// loaded host): then its process group gets SIGTERM, two
    /// seconds later SIGKILL, and the call throws. A non-zero exit is an outcome here, not an error.
    public static func outcome(_ arguments: [String], input: String? = nil, timeout: Double = 180) async throws -> CommandOutcome {
        guard let name = arguments.first else { throw LabError(description: "empty command") }
        let rest = Arguments(Array(arguments.dropFirst()))
        let command = arguments.joined(separator: " ")
        return try await withThrowingTaskGroup(of: CommandOutcome?.self) { group in
            group.addTask {
                if let input {
                    let result = try await Subprocess.run(executable(name), arguments: rest, platformOptions: platformOptions,
                                               input: .string(input), output: .string(limit: outputLimit),
                                               error: .string(limit: errorLimit))
                    return CommandOutcome(status: code(result.terminationStatus), output: result.standardOutput, errors: result.standardError)
                }
                let result = try await Subprocess.run(executable(name), arguments: rest, platformOptions: platformOptions,
                                           output: .string(limit: outputLimit), error: .string(limit: errorLimit))
                return CommandOutcome(status: code(result.terminationStatus), output: result.standardOutput, errors: result.standardError)
            }
            group.addTask {
                try await Task.sleep(for: .milliseconds(Int(timeout * 1_000)))
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let outcome = first else {
                throw LabError(description: "\(command) did not finish within \(timeout) s")
            }
            return outcome
        }
    }

    /// Runs `arguments` to its end (bounded by `timeout`); returns stdout, throws with stderr on a non-zero exit.
    @discardableResult
    public static func run(_ arguments: [String], input: String? = nil, timeout: Double = 180) async throws -> String {
        let result = try await outcome(arguments, input: input, timeout: timeout)
        guard result.status == 0 else {
            throw LabError(description: "\(arguments.joined(separator: " ")) exited \(result.status): \(result.errors.suffix(4_000))")
        }
        return result.output
    }
}

/// Waits on a thread that is not one of Swift concurrency's for an async operation. Only for code that runs
/// on a lab thread (`NetworkLab.onThread`): a test function itself is async and awaits, so that it never
/// holds one of the cooperative pool's threads (two on this machine) while the operation needs one.
func waitOffThePool<T: Sendable>(_ operation: @escaping @Sendable () async throws -> T) throws -> T {
    let box = ResultBox<T>()
    let done = DispatchSemaphore(value: 0)
    Task.detached {
        do { box.set(.success(try await operation())) } catch { box.set(.failure(error)) }
        done.signal()
    }
    done.wait()
    return try box.get()
}
