/// Writes Ethernet frames carrying one TCP segment without payload (a SYN, a RST): the `dsr` health
/// probe's, sent to a backend's MAC with the VIP as destination, as forwarded client traffic arrives.
public enum TCPControlFrame {
    public static let syn: UInt8 = 0x02
    public static let rst: UInt8 = 0x04
    public static let ack: UInt8 = 0x10

    public struct Segment: Sendable {
        public var source: IPAddress
        public var destination: IPAddress
        public var sourcePort: UInt16
        public var destinationPort: UInt16
        public var sequence: UInt32
        public var acknowledgment: UInt32
        public var flags: UInt8

        public init(source: IPAddress, destination: IPAddress, sourcePort: UInt16, destinationPort: UInt16,
                    sequence: UInt32, acknowledgment: UInt32 = 0, flags: UInt8) {
            self.source = source
            self.destination = destination
            self.sourcePort = sourcePort
            self.destinationPort = destinationPort
            self.sequence = sequence
            self.acknowledgment = acknowledgment
            self.flags = flags
        }
    }

    static let tcpLength = 24  // 20 bytes of header and the MSS option (SYN) or a NOP-padded 4 (RST)

    /// Untagged; source and destination of one family (else empty).
    public static func bytes(_ segment: Segment, from sourceMAC: MACAddress, to destinationMAC: MACAddress) -> [UInt8] {
        var frame: [UInt8] = []
        frame += macBytes(destinationMAC) + macBytes(sourceMAC)
        var checksum = InternetChecksum()
        switch (segment.source, segment.destination) {
        case (.v4(let source), .v4(let destination)):
            frame += be16(EtherType.ipv4)
            var header: [UInt8] = [0x45, 0] + be16(UInt16(20 + tcpLength)) + [0, 0, 0x40, 0, 64, 6, 0, 0]
            header += be32(source.rawValue) + be32(destination.rawValue)
            var headerSum = InternetChecksum()
            for index in stride(from: 0, to: header.count, by: 2) { headerSum.add(UInt16(header[index]) << 8 | UInt16(header[index + 1])) }
            header[10] = UInt8(headerSum.value >> 8)
            header[11] = UInt8(headerSum.value & 0xff)
            frame += header
            checksum.add(source.rawValue)
            checksum.add(destination.rawValue)
            checksum.add(UInt16(6))
            checksum.add(UInt16(tcpLength))
        case (.v6(let source), .v6(let destination)):
            frame += be16(EtherType.ipv6)
            frame += [0x60, 0, 0, 0] + be16(UInt16(tcpLength)) + [6, 64]
            frame += be64(source.high) + be64(source.low) + be64(destination.high) + be64(destination.low)
            checksum.add(source)
            checksum.add(destination)
            checksum.add(UInt32(tcpLength))
            checksum.add(UInt16(6))
        default:
            return []
        }
        var tcp = be16(segment.sourcePort) + be16(segment.destinationPort) + be32(segment.sequence) + be32(segment.acknowledgment)
        tcp += [UInt8(tcpLength / 4) << 4, segment.flags] + be16(segment.flags & syn != 0 ? 64_240 : 0) + [0, 0, 0, 0]
        // MSS 1460 on a SYN, as a real client's; NOPs otherwise.
        tcp += segment.flags & syn != 0 ? [2, 4, 0x05, 0xb4] : [1, 1, 1, 1]
        for index in stride(from: 0, to: tcp.count, by: 2) { checksum.add(UInt16(tcp[index]) << 8 | UInt16(tcp[index + 1])) }
        tcp[16] = UInt8(checksum.value >> 8)
        tcp[17] = UInt8(checksum.value & 0xff)
        return frame + tcp
    }

    private static func macBytes(_ mac: MACAddress) -> [UInt8] { (0..<6).map { UInt8(truncatingIfNeeded: mac.rawValue >> (40 - 8 * $0)) } }
    private static func be16(_ value: UInt16) -> [UInt8] { [UInt8(value >> 8), UInt8(value & 0xff)] }
    private static func be32(_ value: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: value >> (24 - 8 * $0)) } }
    private static func be64(_ value: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: value >> (56 - 8 * $0)) } }
}
