// What the Decide and Worker benchmarks share, so that "Decide 4096 hot flows in 1M table" and the worker
// loop measure the same table and the same frames, and their difference is the loop's own cost.

public import DromosBalancer
public import DromosWire

public enum Fixtures {
    public static let vip = IPv4Address(203, 0, 113, 10)
    public static let flowTableCapacity = 1_048_576
    public static let sourceMAC = MACAddress(rawValue: 0x0200_0000_0001)

    /// One TCP service on the VIP's port 80 with ten equal backends.
    public static func webTable() -> ForwardingTable {
        let backends = (0..<10).map { index in
            BackendSpec(address: .v4(IPv4Address(198, 18, 1, UInt8(11 + index))), weight: 1,
                        mac: MACAddress(rawValue: 0x0200_0000_0111 + UInt64(index)))
        }
        let service = ServiceSpec(name: "web", key: ServiceKey(vip: .v4(vip), transport: .tcp, port: 80), backends: backends)
        return try! ForwardingTable(generation: 1, services: [service])
    }

    /// A balancer over `webTable()` with a flow table of a million entries.
    public static func webBalancer() -> BalancerWorker {
        BalancerWorker(table: webTable(), flowTable: FlowTableSpec(capacity: flowTableCapacity), sourceMAC: sourceMAC)
    }

    /// Ethernet + IPv4 (198.51.x.y → the VIP) + TCP ACK to port 80, 54 bytes; the flow number picks the
    /// client address (its low 16 bits) and port (the rest).
    public static func tcpFrame(flow: Int) -> [UInt8] {
        let client = UInt32(0xc633_0000) | UInt32(flow & 0xffff)
        let port = UInt16(10_000 + flow >> 16)
        return [
            0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0xfe, 0x08, 0x00,
            0x45, 0, 0, 40, 0, 1, 0x40, 0, 64, 6, 0, 0,
            UInt8(client >> 24), UInt8(client >> 16 & 0xff), UInt8(client >> 8 & 0xff), UInt8(client & 0xff),
            203, 0, 113, 10,
            UInt8(port >> 8), UInt8(port & 0xff), 0, 80, 0, 0, 0, 1, 0, 0, 0, 1, 0x50, 0x10, 0xff, 0xff, 0, 0, 0, 0,
        ]
    }
}
