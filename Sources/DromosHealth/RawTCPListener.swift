import CLinuxPacket
import DromosSystem
import DromosWire
import Glibc
import Synchronization

/// The TCP segments of one family that the host itself receives, read on a thread of their own from a
/// raw socket; each SYN-ACK is handed to `answered`. The thread wakes at least every 200 ms to see
/// whether it should stop.
final class RawTCPListener: Sendable {
    struct Answer: Equatable {
        var source: IPAddress
        var sourcePort: UInt16
        var destinationPort: UInt16
        var acknowledgment: UInt32
    }

    private let stopping = Atomic<Bool>(false)
    private let finished = Atomic<Bool>(false)

    init(ipv4: Bool, answered: @escaping @Sendable (Answer) -> Void) throws(SystemCallError) {
        let socket = try SocketDescriptor(domain: ipv4 ? AF_INET : AF_INET6,
                                          type: Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), protocol: Int32(IPPROTO_TCP))
        try Syscall.setOption(socket, level: SOL_SOCKET, SO_RCVTIMEO, "setsockopt(SO_RCVTIMEO)", timeval(tv_sec: 0, tv_usec: 200_000))
        if ipv4 { try Self.keepOnlySYNACKs(socket) }
        let owned = Mutex(socket)
        BackgroundThread { [self] in
            owned.withLock { socket in
                Self.read(socket, ipv4: ipv4, until: stopping, answered)
            }
            finished.store(true, ordering: .releasing)
        }.detach()
    }

    /// Asks the thread to stop and waits until it has (at most about 200 ms); the socket closes with it.
    func stop() {
        stopping.store(true, ordering: .releasing)
        while !finished.load(ordering: .acquiring) { usleep(10_000) }
    }

    private static func read(_ socket: borrowing SocketDescriptor, ipv4: Bool, until stopping: borrowing Atomic<Bool>,
                             _ answered: (Answer) -> Void) {
        var buffer = [UInt8](repeating: 0, count: 2_048)
        var from = sockaddr_in6()
        while !stopping.load(ordering: .acquiring) {
            var length = socklen_t(MemoryLayout<sockaddr_in6>.size)
            let raw = socket.rawValue
            let count: Int
            do {
                count = try Syscall.call("recvfrom") {
                    buffer.withUnsafeMutableBytes { bytes in
                        withUnsafeMutablePointer(to: &from) { address in
                            address.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                                recvfrom(raw, bytes.baseAddress, bytes.count, 0, $0, &length)
                            }
                        }
                    }
                }
            } catch {
                // The receive timeout: look at the stop flag and wait again. Anything else (a lasting
                // error) must not spin a core: wait a little before trying again.
                if error.code != .resourceTemporarilyUnavailable { usleep(50_000) }
                continue
            }
            let answer = buffer.withUnsafeBytes { bytes in
                ipv4 ? parseIPv4(UnsafeRawBufferPointer(rebasing: bytes[..<count]))
                     : parseTCP(UnsafeRawBufferPointer(rebasing: bytes[..<count]), source: .v6(address(of: from)))
            }
            if let answer { answered(answer) }
        }
    }

    /// The kernel hands the socket only TCP segments with SYN and ACK set and RST clear: the host's other
    /// TCP traffic is not copied to it, and cannot fill its buffer so that a probe's answer is lost. (An
    /// IPv4 raw socket's filter sees the IP header first; IPv6's is left unfiltered, and read the same.)
    private static func keepOnlySYNACKs(_ socket: borrowing SocketDescriptor) throws(SystemCallError) {
        func statement(_ code: Int32, _ k: UInt32) -> sock_filter { sock_filter(code: UInt16(code), jt: 0, jf: 0, k: k) }
        func jump(_ code: Int32, _ k: UInt32, _ jt: UInt8, _ jf: UInt8) -> sock_filter { sock_filter(code: UInt16(code), jt: jt, jf: jf, k: k) }
        var program = [
            statement(BPF_LD | BPF_B | BPF_ABS, 9),                        // protocol
            jump(BPF_JMP | BPF_JEQ | BPF_K, UInt32(IPPROTO_TCP), 0, 5),    // not TCP: drop
            statement(BPF_LDX | BPF_B | BPF_MSH, 0),                       // X = IP header length
            statement(BPF_LD | BPF_B | BPF_IND, 13),                       // TCP flags
            statement(BPF_ALU | BPF_AND | BPF_K, 0x16),                    // SYN, RST, ACK
            jump(BPF_JMP | BPF_JEQ | BPF_K, 0x12, 0, 1),                   // SYN and ACK, no RST
            statement(BPF_RET | BPF_K, 0xffff),
            statement(BPF_RET | BPF_K, 0),
        ]
        try program.withUnsafeMutableBufferPointer { (instructions: inout UnsafeMutableBufferPointer<sock_filter>) throws(SystemCallError) in
            try Syscall.setOption(socket, level: SOL_SOCKET, SO_ATTACH_FILTER, "setsockopt(SO_ATTACH_FILTER)",
                                  sock_fprog(len: UInt16(instructions.count), filter: instructions.baseAddress))
        }
    }

    /// An IPv4 raw socket hands over the IP header too.
    static func parseIPv4(_ packet: UnsafeRawBufferPointer) -> Answer? {
        guard packet.count >= 20, packet[0] >> 4 == 4, packet[9] == 6 else { return nil }
        let headerLength = Int(packet[0] & 0x0f) * 4
        guard headerLength >= 20, packet.count >= headerLength else { return nil }
        let source = IPv4Address(rawValue: UInt32(packet[12]) << 24 | UInt32(packet[13]) << 16 | UInt32(packet[14]) << 8 | UInt32(packet[15]))
        return parseTCP(UnsafeRawBufferPointer(rebasing: packet[headerLength...]), source: .v4(source))
    }

    /// A SYN-ACK's ports and acknowledgment number; nil for anything else.
    static func parseTCP(_ segment: UnsafeRawBufferPointer, source: IPAddress) -> Answer? {
        guard segment.count >= 20 else { return nil }
        let flags = segment[13]
        guard flags & (TCPControlFrame.syn | TCPControlFrame.ack | TCPControlFrame.rst) == TCPControlFrame.syn | TCPControlFrame.ack else { return nil }
        func u16(_ offset: Int) -> UInt16 { UInt16(segment[offset]) << 8 | UInt16(segment[offset + 1]) }
        let acknowledgment = UInt32(u16(8)) << 16 | UInt32(u16(10))
        return Answer(source: source, sourcePort: u16(0), destinationPort: u16(2), acknowledgment: acknowledgment)
    }

    private static func address(of socketAddress: sockaddr_in6) -> IPv6Address {
        withUnsafeBytes(of: socketAddress.sin6_addr) { bytes in
            var high: UInt64 = 0, low: UInt64 = 0
            for index in 0..<8 { high = high << 8 | UInt64(bytes[index]) }
            for index in 8..<16 { low = low << 8 | UInt64(bytes[index]) }
            return IPv6Address(high: high, low: low)
        }
    }
}

enum SocketAddressing {
    /// Binds `socket` to `address` and port 0; returns the port the kernel chose.
    static func bindToAnyPort(_ socket: borrowing SocketDescriptor, _ address: IPAddress) throws(SystemCallError) -> UInt16 {
        let raw = socket.rawValue
        var storage = sockaddr_in6()
        var length: socklen_t
        switch address {
        case .v4(let v4):
            var ipv4 = sockaddr_in()
            ipv4.sin_family = sa_family_t(AF_INET)
            ipv4.sin_addr.s_addr = v4.rawValue.bigEndian
            length = socklen_t(MemoryLayout<sockaddr_in>.size)
            withUnsafeMutableBytes(of: &storage) { target in withUnsafeBytes(of: ipv4) { target.copyMemory(from: $0) } }
        case .v6(let v6):
            storage.sin6_family = sa_family_t(AF_INET6)
            withUnsafeMutableBytes(of: &storage.sin6_addr) { bytes in
                for index in 0..<8 { bytes[index] = UInt8(truncatingIfNeeded: v6.high >> (56 - 8 * index)) }
                for index in 0..<8 { bytes[8 + index] = UInt8(truncatingIfNeeded: v6.low >> (56 - 8 * index)) }
            }
            length = socklen_t(MemoryLayout<sockaddr_in6>.size)
        }
        _ = try withUnsafePointer(to: &storage) { pointer throws(SystemCallError) in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address throws(SystemCallError) in
                try Syscall.call("bind") { Int(bind(raw, address, length)) }
            }
        }
        var bound = sockaddr_in6()
        var boundLength = socklen_t(MemoryLayout<sockaddr_in6>.size)
        _ = try withUnsafeMutablePointer(to: &bound) { pointer throws(SystemCallError) in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address throws(SystemCallError) in
                try Syscall.call("getsockname") { Int(getsockname(raw, address, &boundLength)) }
            }
        }
        // sin_port and sin6_port sit at the same offset.
        return UInt16(bigEndian: bound.sin6_port)
    }
}
