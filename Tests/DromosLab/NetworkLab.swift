public import Foundation
import Glibc
import Synchronization

/// Network namespaces, veth pairs and the processes started in them, for one test: torn down when the
/// lab goes away, whether the test passed, failed or threw. Addresses come from 198.18.0.0/15,
/// 2001:db8::/32 and 203.0.113.0/24 only.
///
/// Namespace names carry the test process's pid (`dromos-test-PID-…`): the first lab of a process
/// removes the namespaces, processes and files of test processes that are gone (a crashed run), and
/// leaves those of a run still going (`swift test --parallel` runs several processes at once).
public final class NetworkLab: Sendable {
    public static var isRoot: Bool { getuid() == 0 }
    public static let skipReason = "needs root (network namespaces and packet sockets); skipped"

    static let prefix = "dromos-test-"
    /// Every namespace and file of this lab starts with it.
    public let stem: String
    private let namespaces = Mutex<[String]>([])
    private let directories = Mutex<[URL]>([])
    private let commands = Mutex<[ChildProcess]>([])

    public init() {
        _ = Self.staleLabsRemoved
        stem = "\(Self.prefix)\(getpid())-\(String(UInt32.random(in: 0...0xff_ffff), radix: 16))"
    }

    deinit {
        teardown()
    }

    /// Kills what the lab started and everything still running in its namespaces, then deletes them.
    /// Spawns nothing (the kernel is asked directly), so it is safe in `deinit` and after a failure.
    public func teardown() {
        for command in commands.withLock({ commands in defer { commands = [] }; return commands }) {
            command.signalGroup(SIGKILL)
        }
        for namespace in namespaces.withLock({ names in defer { names = [] }; return names }) {
            NetworkNamespaces.remove(namespace)
        }
        for directory in directories.withLock({ urls in defer { urls = [] }; return urls }) {
            try? FileManager.default.removeItem(at: directory)
        }
    }

    /// Namespaces and a directory made for this lab by something else (tools/lab.sh): removed with it.
    public func adopt(namespaces names: [String], directory: URL? = nil) {
        namespaces.withLock { $0 += names }
        if let directory { directories.withLock { $0.append(directory) } }
    }

    /// A directory for this lab's files, named so that a later run removes it if this process dies first.
    public func filesDirectory() -> URL {
        LabFiles.directory.appendingPathComponent("\(LabFiles.prefix)\(getpid())-\(stem.split(separator: "-").last ?? "")")
    }

    /// A fresh namespace with loopback up and IPv6 off unless asked for, so that nothing but the
    /// test's own frames (no router solicitations, no DAD) crosses its links.
    public func namespace(_ role: String, ipv6: Bool = false) async throws -> String {
        let name = "\(stem)-\(role)"
        try await LabCommand.run(["ip", "netns", "add", name])
        namespaces.withLock { $0.append(name) }
        try await LabCommand.run(["ip", "-n", name, "link", "set", "lo", "up"])
        let value = ipv6 ? "0" : "1"
        try await exec(name, ["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=\(value)", "net.ipv6.conf.default.disable_ipv6=\(value)"])
        return name
    }

    /// A veth pair with `first` in `firstNamespace` and `second` in `secondNamespace`, both up.
    public func veth(_ first: String, in firstNamespace: String, _ second: String, in secondNamespace: String,
                     firstMAC: String? = nil, secondMAC: String? = nil) async throws {
        var command = ["ip", "link", "add", first, "netns", firstNamespace]
        if let firstMAC { command += ["address", firstMAC] }
        command += ["type", "veth", "peer", "name", second, "netns", secondNamespace]
        if let secondMAC { command += ["address", secondMAC] }
        try await LabCommand.run(command)
        try await LabCommand.run(["ip", "-n", firstNamespace, "link", "set", first, "up"])
        try await LabCommand.run(["ip", "-n", secondNamespace, "link", "set", second, "up"])
    }

    /// Runs a command in the namespace to its end (bounded by `timeout`); returns stdout.
    @discardableResult
    public func exec(_ namespace: String, _ arguments: [String], timeout: Double = 180) async throws -> String {
        try await LabCommand.run(["ip", "netns", "exec", namespace] + arguments, timeout: timeout)
    }

    /// Starts a command in the namespace without waiting; the lab kills it at teardown if it still runs.
    public func start(_ namespace: String, _ arguments: [String]) async throws -> RunningCommand {
        try await start(["ip", "netns", "exec", namespace] + arguments)
    }

    /// Starts a command in the test's own namespace; the lab kills it at teardown if it still runs.
    public func start(_ arguments: [String]) async throws -> RunningCommand {
        let command = try await RunningCommand.start(arguments)
        commands.withLock { $0.append(command.process) }
        return command
    }

    /// Runs a command to its end (bounded by `timeout`), returns stdout, throws with stderr on failure.
    @discardableResult
    public static func run(_ arguments: [String], timeout: Double = 180) async throws -> String {
        try await LabCommand.run(arguments, timeout: timeout)
    }

    /// Runs `body` on a new thread that may join the namespaces it `enter`s, while the test awaits it (at
    /// most `timeout` seconds) without holding a thread of the concurrency pool. Sockets keep the
    /// namespace they were opened in, so one thread can open ports in several namespaces and drive them all.
    public func onThread<T: Sendable>(timeout: Double = 300, _ body: @escaping @Sendable (NamespaceEntry) throws -> T) async throws -> T {
        let box = ResultBox<T>()
        let entry = NamespaceEntry(lab: self)
        let thread = Thread {
            do { box.set(.success(try body(entry))) } catch { box.set(.failure(error)) }
        }
        thread.stackSize = 8 << 20
        thread.start()
        let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1_000))
        while !box.isSet {
            guard ContinuousClock.now < deadline else {
                // The stuck thread holds the lab, so deinit would not run: tear down here.
                teardown()
                throw LabError(description: "the namespace thread did not finish within \(timeout) s")
            }
            try await Task.sleep(for: .milliseconds(5))
        }
        return try box.get()
    }

    /// Removes, once per test process, what test processes that are gone left behind.
    static let staleLabsRemoved: Void = {
        guard isRoot else { return }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/run/netns")) ?? []
        for name in names where name.hasPrefix(prefix) && !ownerIsAlive(name, prefix: prefix) {
            NetworkNamespaces.remove(name)
        }
        let directory = LabFiles.directory
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        for file in files where file.hasPrefix(LabFiles.prefix) && !ownerIsAlive(file, prefix: LabFiles.prefix) {
            try? FileManager.default.removeItem(at: directory.appendingPathComponent(file))
        }
    }()

    /// Whether the pid after `prefix` in `name` is a live process.
    static func ownerIsAlive(_ name: String, prefix: String) -> Bool {
        guard let pid = Int32(name.dropFirst(prefix.count).prefix { $0.isNumber }) else { return false }
        return pid == getpid() || kill(pid, 0) == 0 || errno == EPERM
    }
}

/// Handed to the body of `NetworkLab.onThread`: joins namespaces, and runs commands from the lab thread
/// (waiting for them there, never on a thread of the concurrency pool).
public struct NamespaceEntry: Sendable {
    let lab: NetworkLab

    /// Moves the calling thread into a named network namespace (setns affects only that thread).
    public func enter(_ namespace: String) throws {
        try NetworkNamespaces.enter(namespace)
    }

    @discardableResult
    public func exec(_ namespace: String, _ arguments: [String], timeout: Double = 180) throws -> String {
        try waitOffThePool { [lab] in try await lab.exec(namespace, arguments, timeout: timeout) }
    }

    public func start(_ namespace: String, _ arguments: [String]) throws -> RunningCommand {
        try waitOffThePool { [lab] in try await lab.start(namespace, arguments) }
    }

    @discardableResult
    public func finish(_ command: RunningCommand, timeout: Double = 180) throws -> String {
        try waitOffThePool { try await command.finish(timeout: timeout) }
    }
}

public final class ResultBox<T: Sendable>: Sendable {
    private let result = Mutex<Result<T, any Error>?>(nil)
    public init() {}
    public func set(_ value: Result<T, any Error>) { result.withLock { $0 = value } }
    public var isSet: Bool { result.withLock { $0 != nil } }
    public func get() throws -> T {
        guard let result = result.withLock({ $0 }) else { throw LabError(description: "no result") }
        return try result.get()
    }
}

/// Set by the test thread, read by a forwarding loop on another thread.
public final class StopFlag: Sendable {
    private let value = Atomic<Bool>(false)
    public init() {}
    public func stop() { value.store(true, ordering: .releasing) }
    public var isStopped: Bool { value.load(ordering: .acquiring) }
}

/// Monotonic nanoseconds, the clock Python's time.monotonic_ns() reads (not namespaced).
public func monotonicNanoseconds() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
}

/// Polls `condition` every 20 ms until it holds or `seconds` passed, yielding its thread in between.
/// Returns whether it held. For what a test cannot be told directly (a log line, a counter).
public func waitUntil(seconds: Double, _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1_000))
    while !condition() {
        guard ContinuousClock.now < deadline else { return false }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return true
}

/// The same for a condition that must itself wait (asking a daemon over its control socket, say), asked
/// `every` so often.
public func waitUntil(seconds: Double, every interval: Duration, _ condition: () async -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1_000))
    while await !condition() {
        guard ContinuousClock.now < deadline else { return false }
        try? await Task.sleep(for: interval)
    }
    return true
}

extension Sequence {
    /// `map` for an async transform, one element after the other (starting servers, say).
    public func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for element in self { results.append(try await transform(element)) }
        return results
    }
}
