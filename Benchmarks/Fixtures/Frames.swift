// The frames the Parsing benchmarks parse, shared with `tools/instructions.sh`, which counts the
// instructions of the same parse.

import DromosWire

/// The fixture frames. Addresses and ports are fixed so the setup checks can name what they expect.
public enum TestFrames {
    public static let clientMAC: UInt64 = 0x02_00_00_00_00_01
    public static let balancerMAC: UInt64 = 0x02_00_00_00_00_fe
    public static let backendMAC: UInt64 = 0x02_00_00_00_00_42
    public static let sourcePort: UInt16 = 49_152
    public static let destinationPort: UInt16 = 443
    public static let vlanID: UInt16 = 100

    /// Ethernet + IPv4 (20 bytes, total length 50) + TCP SYN (20 bytes) + 10 payload bytes: 64 bytes.
    public static func tcpIPv4() -> [UInt8] {
        var frame = ethernetHeader(tags: [], etherType: EtherType.ipv4)
        frame += ipv4TCPDatagram()
        precondition(frame.count == 64)
        return frame
    }

    /// The same datagram behind one 802.1Q tag (TPID 0x8100, VLAN 100, priority 0): 68 bytes.
    public static func vlanTCPIPv4() -> [UInt8] {
        var frame = ethernetHeader(tags: [(EtherType.vlan, vlanID)], etherType: EtherType.ipv4)
        frame += ipv4TCPDatagram()
        precondition(frame.count == 68)
        return frame
    }

    /// Ethernet + IPv6 (40) + hop-by-hop (8) + destination options (8) + UDP (8) + 16 payload bytes:
    /// payload length 40, 94 bytes in all.
    public static func udpIPv6WithExtensionHeaders() -> [UInt8] {
        let payload = [UInt8](repeating: 0x5a, count: 16)
        // Each extension header: next header, length in 8-octet units beyond the first (0), then a
        // PadN option filling the remaining 6 bytes.
        let hopByHop: [UInt8] = [IPProtocolNumber.ipv6DestinationOptions, 0, 1, 4, 0, 0, 0, 0]
        let destinationOptions: [UInt8] = [IPProtocolNumber.udp, 0, 1, 4, 0, 0, 0, 0]
        var udp: [UInt8] = []
        udp.appendBigEndian(sourcePort)
        udp.appendBigEndian(destinationPort)
        udp.appendBigEndian(UInt16(8 + payload.count))
        udp.appendBigEndian(UInt16(0)) // checksum: not checked by the parser
        let upperLayer = hopByHop + destinationOptions + udp + payload

        var ipv6: [UInt8] = []
        ipv6.appendBigEndian(UInt32(0x6000_0000)) // version 6, traffic class 0, flow label 0
        ipv6.appendBigEndian(UInt16(upperLayer.count))
        ipv6.append(IPProtocolNumber.ipv6HopByHop)
        ipv6.append(64) // hop limit
        ipv6 += [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [0x01] // 2001:db8::1
        ipv6 += [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [0x80] // 2001:db8::80

        var frame = ethernetHeader(tags: [], etherType: EtherType.ipv6)
        frame += ipv6 + upperLayer
        precondition(frame.count == 94)
        return frame
    }

    public static func ethernetHeader(tags: [(tpid: UInt16, id: UInt16)], etherType: UInt16) -> [UInt8] {
        var header: [UInt8] = []
        header.appendMAC(balancerMAC)
        header.appendMAC(clientMAC)
        for tag in tags {
            header.appendBigEndian(tag.tpid)
            header.appendBigEndian(tag.id)
        }
        header.appendBigEndian(etherType)
        return header
    }

    /// IPv4 header (no options) + TCP header with only SYN set + 10 payload bytes: total length 50.
    public static func ipv4TCPDatagram() -> [UInt8] {
        let payload = [UInt8](repeating: 0xa5, count: 10)
        var tcp: [UInt8] = []
        tcp.appendBigEndian(sourcePort)
        tcp.appendBigEndian(destinationPort)
        tcp.appendBigEndian(UInt32(0x1000_0000)) // sequence number
        tcp.appendBigEndian(UInt32(0)) // acknowledgment number
        tcp.append(5 << 4) // data offset: 5 words
        tcp.append(TCPFlag.syn)
        tcp.appendBigEndian(UInt16(64_240)) // window
        tcp.appendBigEndian(UInt16(0)) // checksum: not checked by the parser
        tcp.appendBigEndian(UInt16(0)) // urgent pointer

        var ip: [UInt8] = []
        ip.append(0x45) // version 4, IHL 5
        ip.append(0) // DSCP/ECN
        ip.appendBigEndian(UInt16(20 + tcp.count + payload.count))
        ip.appendBigEndian(UInt16(0x1c46)) // identification
        ip.appendBigEndian(UInt16(0x4000)) // don't fragment, offset 0
        ip.append(64) // TTL
        ip.append(IPProtocolNumber.tcp)
        ip.appendBigEndian(UInt16(0)) // checksum, filled below
        ip += [192, 0, 2, 1] // 192.0.2.1
        ip += [198, 51, 100, 10] // 198.51.100.10
        let checksum = internetChecksum(ip)
        ip[10] = UInt8(checksum >> 8)
        ip[11] = UInt8(checksum & 0xff)
        return ip + tcp + payload
    }

    public static func internetChecksum(_ bytes: [UInt8]) -> UInt16 {
        var sum: UInt32 = 0
        var index = 0
        while index + 1 < bytes.count {
            sum += UInt32(bytes[index]) << 8 | UInt32(bytes[index + 1])
            index += 2
        }
        if index < bytes.count { sum += UInt32(bytes[index]) << 8 }
        while sum > 0xffff { sum = (sum & 0xffff) + (sum >> 16) }
        return ~UInt16(sum)
    }
}

extension [UInt8] {
    public mutating func appendBigEndian(_ value: UInt16) {
        append(UInt8(value >> 8))
        append(UInt8(value & 0xff))
    }

    public mutating func appendBigEndian(_ value: UInt32) {
        appendBigEndian(UInt16(value >> 16))
        appendBigEndian(UInt16(value & 0xffff))
    }

    public mutating func appendMAC(_ value: UInt64) {
        for shift in stride(from: 40, through: 0, by: -8) {
            append(UInt8(truncatingIfNeeded: value >> UInt64(shift)))
        }
    }
}
