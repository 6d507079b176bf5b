public import DromosConfig
import DromosSystem
public import Glibc

/// Unix-domain stream sockets for the control socket and `dromos ctl`.
public enum UnixSocket {
    public static func address(_ path: String) throws(ControlError) -> sockaddr_un {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard !bytes.isEmpty, bytes.count < capacity, !bytes.contains(0) else {
            throw ControlError("socket path \"\(path)\" must be 1 to \(capacity - 1) bytes (a Unix socket's limit)")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        return address
    }

    /// A process's supplementary groups, from /proc (SO_PEERCRED carries only the primary group).
    public static func supplementaryGroups(of pid: pid_t) -> [gid_t] {
        guard let status = try? ConfigFile.read("/proc/\(pid)/status") else { return [] }
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Groups:") }) else { return [] }
        return line.dropFirst("Groups:".count).split(whereSeparator: { $0 == " " || $0 == "\t" }).compactMap { gid_t($0) }
    }
}

/// `struct ucred` of <sys/socket.h> (what SO_PEERCRED gives), which Glibc's module leaves out without
/// _GNU_SOURCE; same layout.
public struct PeerCredentials: Sendable {
    public var pid: pid_t = 0
    public var uid: uid_t = 0
    public var gid: gid_t = 0
    public init() {}
}
