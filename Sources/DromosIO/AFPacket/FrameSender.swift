import CLinuxPacket
public import DromosSystem
import DromosWire
import Glibc

/// A send-only packet socket on one interface, for the few frames the control plane writes itself
/// (gratuitous ARP, unsolicited neighbor advertisements). Protocol 0: the kernel delivers it nothing, so
/// it costs the datapath nothing and needs no ring.
public final class FrameSender {
    private let descriptor: SocketDescriptor
    private let interfaceIndex: Int32
    public let interface: String

    public init(interface: String) throws(SystemCallError) {
        self.interface = interface
        let index = try Syscall.interfaceIndex(interface)
        interfaceIndex = index
        descriptor = try SocketDescriptor(domain: AF_PACKET, type: Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), protocol: 0)
        var address = sockaddr_ll()
        address.sll_family = UInt16(AF_PACKET)
        address.sll_ifindex = index
        let raw = descriptor.rawValue
        _ = try withUnsafePointer(to: &address) { pointer throws(SystemCallError) in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address throws(SystemCallError) in
                try Syscall.call("bind") { Int(bind(raw, address, socklen_t(MemoryLayout<sockaddr_ll>.size))) }
            }
        }
    }

    /// Makes the interface accept frames to a multicast MAC (an IPv6 solicited-node group) for as long as
    /// this socket lives: a NIC with a multicast filter would otherwise drop solicitations for a VIP the
    /// host itself has not joined. The kernel counts memberships, so the closing socket undoes exactly this.
    public func joinMulticast(_ mac: [UInt8]) throws(SystemCallError) {
        var request = packet_mreq()
        request.mr_ifindex = interfaceIndex
        request.mr_type = UInt16(PACKET_MR_MULTICAST)
        request.mr_alen = UInt16(mac.count)
        withUnsafeMutableBytes(of: &request.mr_address) { address in
            for (index, byte) in mac.prefix(address.count).enumerated() { address[index] = byte }
        }
        try Syscall.setOption(descriptor, level: SOL_PACKET, PACKET_ADD_MEMBERSHIP, "setsockopt(PACKET_ADD_MEMBERSHIP)", request)
    }

    /// Sends one whole Ethernet frame on the interface.
    public func send(_ frame: UnsafeRawBufferPointer) throws(SystemCallError) {
        let raw = descriptor.rawValue
        _ = try Syscall.call("send(AF_PACKET)") { Int(Glibc.send(raw, frame.baseAddress, frame.count, 0)) }
    }
}
