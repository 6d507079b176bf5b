/// Writes neighbor solicitations and advertisements with their IPv6 header and ICMPv6 checksum.
public enum NDPFrame {
    static let ipv6HeaderLength = 40

    /// The frame's length for `message`: Ethernet, IPv6, the 24-byte message and the 8-byte option.
    public static func length(of message: NDPMessage, framing: EthernetFraming) -> Int {
        framing.length &+ ipv6HeaderLength &+ NeighborDiscovery.messageLength &+ (message.linkLayerAddress == nil ? 0 : 8)
    }

    /// Writes the frame into `buffer` and returns its length; 0 (and nothing written) when it does not fit.
    public static func write(_ message: NDPMessage, framing: EthernetFraming, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        let length = length(of: message, framing: framing)
        guard buffer.count >= length, let base = buffer.baseAddress else { return 0 }
        framing.write(etherType: EtherType.ipv6, to: base)
        let ip = base + framing.length
        let payloadLength = length &- framing.length &- ipv6HeaderLength
        ip.storeBytes(of: UInt32(0x6000_0000).bigEndian, as: UInt32.self)
        ip.storeBytes(of: UInt16(truncatingIfNeeded: payloadLength).bigEndian, toByteOffset: 4, as: UInt16.self)
        ip.storeBytes(of: IPProtocolNumber.icmpv6, toByteOffset: 6, as: UInt8.self)
        ip.storeBytes(of: UInt8(255), toByteOffset: 7, as: UInt8.self)
        store(message.source, at: ip + 8)
        store(message.destination, at: ip + 24)
        let icmp = ip + ipv6HeaderLength
        icmp.storeBytes(of: message.type, as: UInt8.self)
        icmp.storeBytes(of: UInt8(0), toByteOffset: 1, as: UInt8.self)
        icmp.storeBytes(of: UInt16(0), toByteOffset: 2, as: UInt16.self)
        icmp.storeBytes(of: (UInt32(message.flags) << 24).bigEndian, toByteOffset: 4, as: UInt32.self)
        store(message.target, at: icmp + 8)
        if let mac = message.linkLayerAddress {
            let option = message.isSolicitation ? NeighborDiscovery.sourceLinkLayerOption : NeighborDiscovery.targetLinkLayerOption
            icmp.storeBytes(of: option, toByteOffset: 24, as: UInt8.self)
            icmp.storeBytes(of: UInt8(1), toByteOffset: 25, as: UInt8.self)
            MACRewrite.store(mac, at: icmp + 26)
        }
        var checksum = InternetChecksum()
        checksum.add(message.source)
        checksum.add(message.destination)
        checksum.add(UInt32(truncatingIfNeeded: payloadLength))
        checksum.add(UInt32(IPProtocolNumber.icmpv6))
        checksum.add(ByteView(UnsafeRawBufferPointer(start: icmp, count: payloadLength)), from: 0, count: payloadLength)
        icmp.storeBytes(of: checksum.value.bigEndian, toByteOffset: 2, as: UInt16.self)
        return length
    }

    private static func store(_ address: IPv6Address, at pointer: UnsafeMutableRawPointer) {
        pointer.storeBytes(of: address.high.bigEndian, as: UInt64.self)
        pointer.storeBytes(of: address.low.bigEndian, toByteOffset: 8, as: UInt64.self)
    }
}
