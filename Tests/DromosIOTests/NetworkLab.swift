import Foundation
import CLinuxPacket
import Glibc
import Synchronization

struct LabError: Error, CustomStringConvertible {
    let description: String
}

/// Network namespaces and veth pairs for one test, deleted when the lab goes away, also when the test
/// failed or threw. Names carry a random suffix so parallel runs and leftovers never collide; addresses
/// come from 198.18.0.0/15, 2001:db8::/32 and 203.0.113.0/24 only.
final class NetworkLab: @unchecked Sendable {
    static var isRoot: Bool { getuid() == 0 }
    static let skipReason = "AF_PACKET tests need root (network namespaces and packet sockets); skipped"

    let suffix = String(UInt32.random(in: 0...0xff_ffff), radix: 16)
    private let lock = NSLock()
    private var namespaces: [String] = []

    deinit {
        deleteNamespaces()
    }

    /// Deletes the lab's namespaces now. A namespace a thread or socket still uses lives on, nameless,
    /// until they are gone.
    func deleteNamespaces() {
        for namespace in lock.withLock({ () -> [String] in defer { namespaces = [] }; return namespaces }) {
            _ = try? Self.run(["ip", "netns", "del", namespace])
        }
    }

    /// A fresh namespace with loopback up and IPv6 off unless asked for, so that nothing but the
    /// test's own frames (no router solicitations, no DAD) crosses its links.
    func namespace(_ role: String, ipv6: Bool = false) throws -> String {
        let name = "dromos-\(role)-\(suffix)"
        try Self.run(["ip", "netns", "add", name])
        lock.withLock { namespaces.append(name) }
        try Self.run(["ip", "-n", name, "link", "set", "lo", "up"])
        let value = ipv6 ? "0" : "1"
        try exec(name, ["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=\(value)", "net.ipv6.conf.default.disable_ipv6=\(value)"])
        return name
    }

    /// A veth pair with `first` in `firstNamespace` and `second` in `secondNamespace`, both up.
    func veth(_ first: String, in firstNamespace: String, _ second: String, in secondNamespace: String,
              firstMAC: String? = nil, secondMAC: String? = nil) throws {
        var command = ["ip", "link", "add", first, "netns", firstNamespace]
        if let firstMAC { command += ["address", firstMAC] }
        command += ["type", "veth", "peer", "name", second, "netns", secondNamespace]
        if let secondMAC { command += ["address", secondMAC] }
        try Self.run(command)
        try Self.run(["ip", "-n", firstNamespace, "link", "set", first, "up"])
        try Self.run(["ip", "-n", secondNamespace, "link", "set", second, "up"])
    }

    @discardableResult
    func exec(_ namespace: String, _ arguments: [String], timeout: Double = 30) throws -> String {
        try Self.run(["ip", "netns", "exec", namespace] + arguments, timeout: timeout)
    }

    /// Starts a command in the namespace without waiting; `finish` collects it.
    func start(_ namespace: String, _ arguments: [String]) throws -> RunningCommand {
        try RunningCommand(["ip", "netns", "exec", namespace] + arguments)
    }

    /// Runs a command to its end (bounded by `timeout`), returns stdout, throws with stderr on failure.
    @discardableResult
    static func run(_ arguments: [String], timeout: Double = 30) throws -> String {
        let command = try RunningCommand(arguments)
        return try command.finish(timeout: timeout)
    }

    /// Runs `body` on a new thread that has joined the namespaces it `enter`s; the test thread waits at
    /// most `timeout` seconds. Sockets keep the namespace they were opened in, so one thread can open
    /// ports in several namespaces and drive them all.
    func onThread<T: Sendable>(timeout: Double = 60, _ body: @escaping @Sendable (NamespaceEntry) throws -> T) throws -> T {
        let box = ResultBox<T>()
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            box.set(Result { try body(NamespaceEntry()) })
            done.signal()
        }
        thread.stackSize = 8 << 20
        thread.start()
        guard done.wait(timeout: .now() + timeout) == .success else {
            // The stuck thread keeps the lab alive, so deinit would not run: delete the namespaces here.
            deleteNamespaces()
            throw LabError(description: "the namespace thread did not finish within \(timeout) s")
        }
        return try box.get()
    }
}

/// Moves the calling thread into a named network namespace (setns affects only that thread).
struct NamespaceEntry: Sendable {
    func enter(_ namespace: String) throws {
        let descriptor = open("/var/run/netns/\(namespace)", O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw LabError(description: "open netns \(namespace): errno \(errno)") }
        defer { close(descriptor) }
        guard dromos_setns_network(descriptor) == 0 else {
            throw LabError(description: "setns \(namespace): errno \(errno)")
        }
    }
}

final class ResultBox<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var result: Result<T, any Error>? = nil
    func set(_ value: Result<T, any Error>) { lock.withLock { result = value } }
    func get() throws -> T {
        guard let result = lock.withLock({ result }) else { throw LabError(description: "no result") }
        return try result.get()
    }
}

/// A child process with its output collected to files (no pipe can fill up and stall it).
final class RunningCommand: @unchecked Sendable {
    let arguments: [String]
    let process = Process()
    let output: URL
    let errors: URL

    init(_ arguments: [String]) throws {
        self.arguments = arguments
        let directory = FileManager.default.temporaryDirectory
        output = directory.appendingPathComponent("dromos-lab-\(UUID().uuidString).out")
        errors = directory.appendingPathComponent("dromos-lab-\(UUID().uuidString).err")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errors.path, contents: nil)
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.standardOutput = try FileHandle(forWritingTo: output)
        process.standardError = try FileHandle(forWritingTo: errors)
        // The test runner's worker threads block every signal and Foundation's Process passes the
        // caller's mask on: a child would ignore terminate() (SIGTERM stays pending) for good. Spawn
        // with an empty mask; a signal meant for the test process can arrive on this thread meanwhile,
        // which is no worse than arriving on the main thread.
        var open = sigset_t(), previous = sigset_t()
        sigemptyset(&open)
        pthread_sigmask(SIG_SETMASK, &open, &previous)
        defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
        try process.run()
    }

    deinit {
        if process.isRunning { process.terminate() }
        try? FileManager.default.removeItem(at: output)
        try? FileManager.default.removeItem(at: errors)
    }

    var isRunning: Bool { process.isRunning }

    /// Waits for the end (polling, bounded), then returns stdout or throws with stderr.
    @discardableResult
    func finish(timeout: Double = 30) throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(2_000) }
        if process.isRunning {
            process.terminate()
            // waitUntilExit can hang off the main run loop and a child may ignore SIGTERM: bounded.
            let grace = Date().addingTimeInterval(2)
            while process.isRunning && Date() < grace { usleep(2_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            throw LabError(description: "\(arguments.joined(separator: " ")) did not finish within \(timeout) s")
        }
        let text = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
        guard process.terminationStatus == 0 else {
            let message = (try? String(contentsOf: errors, encoding: .utf8)) ?? ""
            throw LabError(description: "\(arguments.joined(separator: " ")) exited \(process.terminationStatus): \(message)")
        }
        return text
    }
}

/// Set by the test thread, read by a forwarding loop on another thread.
final class StopFlag: Sendable {
    private let value = Atomic<Bool>(false)
    func stop() { value.store(true, ordering: .releasing) }
    var isStopped: Bool { value.load(ordering: .acquiring) }
}

/// Monotonic nanoseconds, the clock Python's time.monotonic_ns() reads (not namespaced).
func monotonicNanoseconds() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
}
