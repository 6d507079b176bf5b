import SystemPackage
import DromosBalancer
import DromosConfig
import DromosIO
public import DromosSystem
import DromosWire
import Glibc

/// A NETLINK_ROUTE socket for one request at a time: the kernel's own interface to addresses and the
/// neighbor table, where `ip addr` and `ip neigh` go too. It lives in the network namespace of the thread
/// that opened it.
public final class RouteNetlink {
    private let socket: SocketDescriptor
    private var sequence: UInt32 = UInt32.random(in: 1...0xffff)
    /// A dump reply datagram is at most a page or two; this also fits a full neighbor table's batches.
    private let receiveBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65_536, alignment: 8)

    public init() throws(SystemCallError) {
        socket = try SocketDescriptor(domain: AF_NETLINK, type: Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), protocol: 0)
        // A kernel that never answers must not hang `dromos backend` or the resolver thread.
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        let raw = socket.rawValue
        _ = try Syscall.call("setsockopt(SO_RCVTIMEO)") {
            Int(setsockopt(raw, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size)))
        }
    }

    deinit {
        receiveBuffer.deallocate()
    }

    /// NETLINK_GET_STRICT_CHK: dump requests are checked and their header and attributes filter the
    /// dump in the kernel. Not there before Linux 4.20, where the caller's own filter does the work.
    func enableStrictDumps() {
        var on: Int32 = 1
        let raw = socket.rawValue
        _ = try? Syscall.call("setsockopt(NETLINK_GET_STRICT_CHK)") {
            Int(setsockopt(raw, 270 /* SOL_NETLINK */, 12 /* NETLINK_GET_STRICT_CHK */, &on, socklen_t(MemoryLayout<Int32>.size)))
        }
    }

    /// Sends `request` and collects the reply: every message of a dump, or nothing for an acknowledged
    /// change. A kernel refusal becomes a `SystemCallError` named `operation` with the kernel's error number.
    func transact(_ request: NetlinkRequest, operation: String) throws(SystemCallError) -> [NetlinkMessage] {
        sequence &+= 1
        let expected = sequence
        let bytes = request.bytes(sequence: expected)
        let raw = socket.rawValue
        _ = try Syscall.call("send(netlink)") { bytes.withUnsafeBytes { Int(send(raw, $0.baseAddress, $0.count, 0)) } }
        var replies: [NetlinkMessage] = []
        while true {
            let buffer = receiveBuffer
            let count = try Syscall.call("recv(netlink)") { Int(recv(raw, buffer.baseAddress, buffer.count, 0)) }
            let datagram = Array(buffer[0..<count])[...]
            // A late answer to an earlier request that timed out is not ours.
            guard NetlinkMessage.sequence(of: datagram) == expected else { continue }
            for message in NetlinkMessage.split(datagram) {
                switch message.type {
                case Netlink.done:
                    return replies
                case Netlink.error:
                    // struct nlmsgerr: a negative error number, 0 for an acknowledgement.
                    let code = message.payload.count >= 4 ? message.payload.hostInteger(at: 0, as: Int32.self) : -EPROTO
                    if code == 0 { return replies }
                    throw SystemCallError(call: operation, code: Errno(rawValue: -code))
                default:
                    replies.append(message)
                }
            }
            if request.flags & Netlink.dump == 0 && !replies.isEmpty { return replies }
        }
    }
}
