import DromosWire

/// Real frames as hex, one header per segment, so a test reads like the wire. The checksums are real
/// too (computed when the bytes were made), though the parser does not need them.
enum Hex {
    static func bytes(_ segments: String...) -> [UInt8] {
        let digits = segments.joined().filter { !$0.isWhitespace }
        precondition(digits.count % 2 == 0, "odd number of hex digits")
        var result: [UInt8] = []
        var index = digits.startIndex
        while index < digits.endIndex {
            let next = digits.index(index, offsetBy: 2)
            result.append(UInt8(digits[index..<next], radix: 16)!)
            index = next
        }
        return result
    }
}

enum Segment {
    /// dst 02:00:00:00:00:01 (the balancer), src 02:00:00:00:00:02 (the router).
    static let ethernetIPv4 = "02 00 00 00 00 01  02 00 00 00 00 02  08 00"
    static let ethernetIPv6 = "02 00 00 00 00 01  02 00 00 00 00 02  86 dd"
    static let ethernetARP = "ff ff ff ff ff ff  02 00 00 00 00 02  08 06"
    static let macs = "02 00 00 00 00 01  02 00 00 00 00 02"

    /// 198.51.100.7 → 203.0.113.10, TCP, total length 40, DF, id 0x1c46.
    static let ipv4TCPHeader = "45 00 00 28 1c 46 40 00 40 06 b8 44 c6 33 64 07 cb 00 71 0a"
    /// 40001 → 80, SYN.
    static let tcpSYN = "9c 41 00 50 00 00 00 01 00 00 00 00 50 02 ff ff ad 0a 00 00"
    /// 198.51.100.7:5353 → 203.0.113.10:53, UDP, payload "dromos".
    static let ipv4UDP = """
        45 00 00 22 1c 46 40 00 40 11 b8 3f c6 33 64 07 cb 00 71 0a
        14 e9 00 35 00 0e 41 1b 64 72 6f 6d 6f 73
        """
    /// 2001:db8:100::7 → 2001:db8:ffff::10, next header TCP, payload length 20.
    static let ipv6TCPHeader = """
        60 00 00 00 00 14 06 40 20 01 0d b8 01 00 00 00 00 00 00 00 00 00 00 07
        20 01 0d b8 ff ff 00 00 00 00 00 00 00 00 00 10
        """
    /// 40002 → 443, SYN, checksummed for the IPv6 addresses above.
    static let tcpSYNv6 = "9c 42 01 bb 00 00 00 01 00 00 00 00 50 02 ff ff b5 5b 00 00"
    /// The IPv6 address pair of the frames above, after version/length/next-header/hop-limit.
    static let ipv6Addresses = """
        20 01 0d b8 01 00 00 00 00 00 00 00 00 00 00 07
        20 01 0d b8 ff ff 00 00 00 00 00 00 00 00 00 10
        """
}

func parse(_ bytes: [UInt8], wireLength: Int? = nil) -> ParsedFrame {
    bytes.withUnsafeBytes { FrameParser.parse($0, wireLength: wireLength) }
}

func ip(_ text: String) -> IPAddress {
    try! IPAddress(parsing: text)
}

func tcpFrame() -> [UInt8] {
    Hex.bytes(Segment.ethernetIPv4, Segment.ipv4TCPHeader, Segment.tcpSYN)
}
