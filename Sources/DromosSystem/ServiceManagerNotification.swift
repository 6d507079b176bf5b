import CLinuxPacket
import Glibc

/// systemd's readiness protocol (`Type=notify`): a datagram such as `READY=1` to the Unix socket named
/// in `NOTIFY_SOCKET` (a leading `@` is an abstract address). Without that variable (not run by systemd)
/// it does nothing. Hand-written: no mirrored library speaks it, and it is one datagram.
public enum ServiceManagerNotification {
    /// Sends `state` (e.g. "READY=1\nSTATUS=…"); returns why not when it could not, nil otherwise.
    @discardableResult
    public static func send(_ state: String) -> String? {
        guard let path = getenv("NOTIFY_SOCKET").map({ String(cString: $0) }), !path.isEmpty else { return nil }
        let bytes = Array(path.utf8)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard bytes.count < capacity else { return "NOTIFY_SOCKET is longer than a socket path" }
        withUnsafeMutableBytes(of: &address.sun_path) { target in
            for (index, byte) in bytes.enumerated() { target[index] = byte == UInt8(ascii: "@") && index == 0 ? 0 : byte }
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + (bytes.first == UInt8(ascii: "@") ? 0 : 1))
        do {
            let socket = try SocketDescriptor(domain: AF_UNIX, type: Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), protocol: 0)
            let raw = socket.rawValue
            let message = Array(state.utf8)
            _ = try Syscall.call("sendto(NOTIFY_SOCKET)") {
                withUnsafePointer(to: &address) { pointer in
                    pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { target in
                        Int(sendto(raw, message, message.count, Int32(MSG_NOSIGNAL), target, length))
                    }
                }
            }
            return nil
        } catch {
            return "\(error)"
        }
    }
}
