public import Foundation
import Glibc
import Subprocess
import Synchronization
import SystemPackage

/// A child process that runs while the test goes on (a daemon, a server, tcpdump, a traffic generator),
/// its stdout and stderr in files the test can read at any time (no pipe can fill up and stall it).
///
/// It runs in a process group of its own behind a small shell guard that kills the whole group once the
/// test process is gone, so that a crashed or killed test run leaves no forwarder or server behind.
public final class RunningCommand: Sendable {
    public let arguments: [String]
    public let output: URL
    public let errors: URL
    let process: ChildProcess

    /// The guard: a watcher in the background kills the group when the test process (`$1`) is gone and
    /// leaves when the command itself is; then the shell becomes the command (same pid, same group).
    static let guardScript = """
        parent=$1; shift
        ( while kill -0 "$parent" 2>/dev/null; do kill -0 $$ 2>/dev/null || exit 0; sleep 1; done; kill -KILL 0 ) \
        </dev/null >/dev/null 2>&1 &
        exec "$@"
        """

    init(_ arguments: [String]) {
        self.arguments = arguments
        let stem = LabFiles.directory.appendingPathComponent("\(LabFiles.prefix)\(getpid())-\(UUID().uuidString)")
        output = stem.appendingPathExtension("out")
        errors = stem.appendingPathExtension("err")
        process = ChildProcess(command: arguments.joined(separator: " "))
    }

    deinit {
        process.signalGroup(SIGKILL)
        try? FileManager.default.removeItem(at: output)
        try? FileManager.default.removeItem(at: errors)
    }

    /// Starts `arguments` and returns once it has a pid.
    public static func start(_ arguments: [String]) async throws -> RunningCommand {
        let command = RunningCommand(arguments)
        let outputFile = try FileDescriptor.open(FilePath(command.output.path), .writeOnly,
                                                 options: [.create, .truncate, .closeOnExec], permissions: .ownerReadWrite)
        let errorFile: FileDescriptor
        do {
            errorFile = try FileDescriptor.open(FilePath(command.errors.path), .writeOnly,
                                                options: [.create, .truncate, .closeOnExec], permissions: .ownerReadWrite)
        } catch {
            try? outputFile.close()
            throw error
        }
        let guarded = ["/bin/sh", "-c", guardScript, "dromos-lab-guard", String(getpid())] + arguments
        try await command.process.launch(guarded, output: outputFile, error: errorFile)
        return command
    }

    public var pid: Int32 { process.pid }
    public var isRunning: Bool { process.exitStatus == nil }
    /// The exit code (128 + the signal when a signal ended it), nil while it runs.
    public var terminationStatus: Int32? { process.exitStatus }

    /// Sends `signal` to the command alone (SIGHUP or SIGTERM to a daemon under test).
    public func signal(_ signal: Int32) { process.signal(signal) }

    /// SIGTERM to the command's whole group.
    public func terminate() { process.signalGroup(SIGTERM) }

    public var standardOutput: String { (try? String(contentsOf: output, encoding: .utf8)) ?? "" }
    public var standardError: String { (try? String(contentsOf: errors, encoding: .utf8)) ?? "" }

    /// Waits (bounded) for the command to end by itself; true when it did.
    @discardableResult
    public func waitForExit(seconds: Double = 60) async -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1_000))
        while isRunning && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        return !isRunning
    }

    /// SIGTERM to the group, SIGKILL after `grace` seconds; returns once the command is gone.
    public func stop(grace: Double = 5) async {
        guard isRunning else { return }
        terminate()
        if await waitForExit(seconds: grace) { return }
        process.signalGroup(SIGKILL)
        await waitForExit(seconds: 10)
    }

    /// Waits for the end (bounded: then the group is stopped and this throws), then returns stdout or
    /// throws with stderr when the exit was not 0.
    @discardableResult
    public func finish(timeout: Double = 60) async throws -> String {
        guard await waitForExit(seconds: timeout) else {
            await stop(grace: 2)
            throw LabError(description: "\(arguments.joined(separator: " ")) did not finish within \(timeout) s")
        }
        guard terminationStatus == 0 else {
            throw LabError(description: "\(arguments.joined(separator: " ")) exited \(terminationStatus ?? -1): \(standardError.suffix(4_000))")
        }
        return standardOutput
    }
}

/// The child behind a `RunningCommand`: swift-subprocess runs it in a detached task whose body watches the
/// pidfd. Until that body returns, swift-subprocess has not reaped the child, so its pid (and group id)
/// cannot have been reused: every signal is sent under the same lock that ends that window.
final class ChildProcess: Sendable {
    struct State {
        var pid: pid_t = 0
        var watching = false
        var exitStatus: Int32? = nil
        var launchAnswered = false
    }

    let command: String
    private let state = Mutex(State())

    init(command: String) { self.command = command }

    var pid: pid_t { state.withLock { $0.pid } }
    var exitStatus: Int32? { state.withLock { $0.exitStatus } }

    func signal(_ signal: Int32) {
        state.withLock { state in if state.watching { _ = kill(state.pid, signal) } }
    }

    func signalGroup(_ signal: Int32) {
        state.withLock { state in if state.watching { _ = kill(-state.pid, signal) } }
    }

    func launch(_ arguments: [String], output: FileDescriptor, error: FileDescriptor) async throws {
        try await withCheckedThrowingContinuation { (launched: CheckedContinuation<Void, any Error>) in
            Task.detached { [self] in
                do {
                    let result = try await Subprocess.run(
                        LabCommand.executable(arguments[0]), arguments: Arguments(Array(arguments.dropFirst())),
                        platformOptions: LabCommand.platformOptions, input: .none,
                        output: .fileDescriptor(output, closeAfterSpawningProcess: true),
                        error: .fileDescriptor(error, closeAfterSpawningProcess: true)
                    ) { execution in
                        let identifier = execution.processIdentifier
                        self.state.withLock { state in
                            state.pid = identifier.value
                            state.watching = true
                            state.launchAnswered = true
                        }
                        launched.resume()
                        while !Self.hasExited(identifier) { try? await Task.sleep(for: .milliseconds(10)) }
                        self.state.withLock { $0.watching = false }
                    }
                    self.state.withLock { $0.exitStatus = LabCommand.code(result.terminationStatus) }
                } catch {
                    let answered = self.state.withLock { state in
                        defer { state.launchAnswered = true; state.watching = false; state.exitStatus = state.exitStatus ?? 127 }
                        return state.launchAnswered
                    }
                    if !answered { launched.resume(throwing: error) }
                }
            }
        }
    }

    /// The pidfd turns readable when the child exits; it stays a zombie until swift-subprocess reaps it.
    private static func hasExited(_ identifier: ProcessIdentifier) -> Bool {
        if identifier.processDescriptor >= 0 {
            var entry = pollfd(fd: identifier.processDescriptor, events: Int16(POLLIN), revents: 0)
            return poll(&entry, 1, 0) > 0
        }
        let stat = (try? String(contentsOfFile: "/proc/\(identifier.value)/stat", encoding: .utf8)) ?? ""
        guard let close = stat.lastIndex(of: ")") else { return true }
        return stat[close...].dropFirst(2).first == "Z"
    }
}

/// Where commands keep their output: one file pair per command, named after the test process so that
/// the files of a crashed run can be told from a running one's.
enum LabFiles {
    static let prefix = "dromos-lab-"
    static var directory: URL { FileManager.default.temporaryDirectory }
}
