/// Writes Ethernet/IPv4 ARP frames: the balancer's replies for a VIP, its announcements, and the requests
/// it sends to learn a backend's MAC.
public enum ARPFrame {
    public static let messageLength = 28

    /// Writes the frame into `buffer` and returns its length; 0 (and nothing written) when it does not fit.
    /// No padding to 60 bytes: the sending NIC's driver pads short frames.
    public static func write(_ message: ARPMessage, framing: EthernetFraming, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        let length = framing.length &+ messageLength
        guard buffer.count >= length, let base = buffer.baseAddress else { return 0 }
        framing.write(etherType: EtherType.arp, to: base)
        let arp = base + framing.length
        arp.storeBytes(of: UInt16(1).bigEndian, as: UInt16.self)  // Ethernet
        arp.storeBytes(of: EtherType.ipv4.bigEndian, toByteOffset: 2, as: UInt16.self)
        arp.storeBytes(of: UInt8(6), toByteOffset: 4, as: UInt8.self)
        arp.storeBytes(of: UInt8(4), toByteOffset: 5, as: UInt8.self)
        arp.storeBytes(of: message.operation.bigEndian, toByteOffset: 6, as: UInt16.self)
        MACRewrite.store(message.senderMAC, at: arp + 8)
        arp.storeBytes(of: message.senderIP.rawValue.bigEndian, toByteOffset: 14, as: UInt32.self)
        MACRewrite.store(message.targetMAC, at: arp + 18)
        arp.storeBytes(of: message.targetIP.rawValue.bigEndian, toByteOffset: 24, as: UInt32.self)
        return length
    }
}

extension ARPMessage {
    /// The answer to this request: `mac` owns the asked-for address.
    public func reply(from mac: MACAddress) -> ARPMessage {
        ARPMessage(operation: ARPMessage.reply, senderMAC: mac, senderIP: targetIP, targetMAC: senderMAC, targetIP: senderIP)
    }

    /// A gratuitous ARP in request form (sender and target address both `address`), which Linux and
    /// most switches take to update their tables; Linux's own `arp_notify` sends the same.
    public static func announcement(of address: IPv4Address, at mac: MACAddress) -> ARPMessage {
        ARPMessage(operation: ARPMessage.request, senderMAC: mac, senderIP: address, targetMAC: .zero, targetIP: address)
    }

    public static func request(for target: IPv4Address, from sender: IPv4Address, at mac: MACAddress) -> ARPMessage {
        ARPMessage(operation: ARPMessage.request, senderMAC: mac, senderIP: sender, targetMAC: .zero, targetIP: target)
    }

    /// Sender and target address are the same: an announcement, not a question to answer.
    @inlinable
    public var isGratuitous: Bool { senderIP == targetIP }
}
