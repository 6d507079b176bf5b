import CLinuxPacket
import Foundation
import Glibc

/// Named network namespaces entered and removed with the kernel's calls rather than `ip netns`, so that teardown
/// spawns nothing: what `ip netns pids` and `ip netns del` do, done from `deinit` or after a crash.
enum NetworkNamespaces {
    static func path(_ namespace: String) -> String { "/run/netns/\(namespace)" }

    /// SIGKILL to every process inside, then the name unmounted and removed. The namespace itself goes
    /// when its last process and socket do.
    static func remove(_ namespace: String) {
        for _ in 0..<3 {
            let inside = pids(in: namespace)
            if inside.isEmpty { break }
            for pid in inside { kill(pid, SIGKILL) }
            usleep(20_000)
        }
        umount2(path(namespace), Int32(MNT_DETACH))
        unlink(path(namespace))
    }

    /// The processes whose network namespace is this one (the test process itself never counts: a lab
    /// thread may have entered it).
    static func pids(in namespace: String) -> [pid_t] {
        var target = stat()
        guard stat(path(namespace), &target) == 0 else { return [] }
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        let me = getpid()
        return entries.compactMap { entry -> pid_t? in
            guard let pid = pid_t(entry), pid != me else { return nil }
            var namespace = stat()
            guard stat("/proc/\(entry)/ns/net", &namespace) == 0 else { return nil }
            return namespace.st_dev == target.st_dev && namespace.st_ino == target.st_ino ? pid : nil
        }
    }

    /// Moves the calling thread into a named network namespace (setns affects only that thread).
    static func enter(_ namespace: String) throws {
        let descriptor = open(path(namespace), O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw LabError(description: "open netns \(namespace): errno \(errno)") }
        defer { close(descriptor) }
        guard dromos_setns_network(descriptor) == 0 else {
            throw LabError(description: "setns \(namespace): errno \(errno)")
        }
    }
}
