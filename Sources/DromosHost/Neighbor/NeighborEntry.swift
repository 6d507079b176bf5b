import DromosBalancer
import DromosConfig
import DromosIO
public import DromosSystem
public import DromosWire
import Glibc

/// One entry of the kernel's neighbor table (ARP cache, NDP cache), as `ip neigh` shows it.
public struct NeighborEntry: Hashable, Sendable, CustomStringConvertible {
    /// NUD_* states from `linux/neighbour.h`.
    public struct State: OptionSet, Hashable, Sendable {
        public let rawValue: UInt16
        public init(rawValue: UInt16) { self.rawValue = rawValue }
        public static let incomplete = State(rawValue: 0x01)
        public static let reachable = State(rawValue: 0x02)
        public static let stale = State(rawValue: 0x04)
        public static let delay = State(rawValue: 0x08)
        public static let probe = State(rawValue: 0x10)
        public static let failed = State(rawValue: 0x20)
        public static let noARP = State(rawValue: 0x40)
        public static let permanent = State(rawValue: 0x80)

        /// States whose link-layer address frames may be sent to: confirmed, or not yet disproved
        /// (stale, delay, probe keep the last answer while the kernel re-checks it).
        public static let usable: State = [.reachable, .stale, .delay, .probe, .noARP, .permanent]

        public var name: String {
            let names: [(State, String)] = [
                (.incomplete, "INCOMPLETE"), (.reachable, "REACHABLE"), (.stale, "STALE"), (.delay, "DELAY"),
                (.probe, "PROBE"), (.failed, "FAILED"), (.noARP, "NOARP"), (.permanent, "PERMANENT"),
            ]
            let set = names.filter { contains($0.0) }.map(\.1)
            return set.isEmpty ? "NONE" : set.joined(separator: ",")
        }
    }

    public var address: IPAddress
    public var mac: MACAddress?
    public var state: State
    public var interfaceIndex: Int32

    public init(address: IPAddress, mac: MACAddress?, state: State, interfaceIndex: Int32) {
        self.address = address
        self.mac = mac
        self.state = state
        self.interfaceIndex = interfaceIndex
    }

    /// The MAC to send to, when the entry has one in a usable state.
    public var usableMAC: MACAddress? { state.isDisjoint(with: .usable) ? nil : mac }

    public var description: String {
        "\(address) \(mac.map { "lladdr \($0)" } ?? "no lladdr") \(state.name)"
    }
}

extension RouteNetlink {
    private static let destinationAttribute: UInt16 = 1
    private static let linkLayerAttribute: UInt16 = 2
    /// NTF_USE: "use" the entry as a packet would, which starts resolution when it has no answer.
    private static let useFlag: UInt8 = 0x01

    /// The neighbor entries of one interface (RTM_GETNEIGH dump, both families).
    public func neighbors(interfaceIndex: Int32) throws(SystemCallError) -> [NeighborEntry] {
        let request = NetlinkRequest(
            type: Netlink.getNeighbor, flags: Netlink.request | Netlink.dump, fixedHeader: [UInt8](repeating: 0, count: 12))
        return try transact(request, operation: "RTM_GETNEIGH").compactMap { message -> NeighborEntry? in
            guard message.type == Netlink.newNeighbor, message.payload.count >= 12 else { return nil }
            let index = message.payload.hostInteger(at: 4, as: Int32.self)
            guard index == interfaceIndex else { return nil }
            let attributes = message.attributes(after: 12)
            guard let raw = attributes[Self.destinationAttribute],
                  let address = Self.address(raw, family: Int32(message.payload[0])) else { return nil }
            var mac: MACAddress? = nil
            if let link = attributes[Self.linkLayerAttribute], link.count == 6 {
                mac = MACAddress(link[0], link[1], link[2], link[3], link[4], link[5])
            }
            let state = NeighborEntry.State(rawValue: message.payload.hostInteger(at: 8, as: UInt16.self))
            return NeighborEntry(address: address, mac: mac, state: state, interfaceIndex: index)
        }
    }

    /// Asks the kernel to resolve `address` on the interface as if a packet were waiting for it
    /// (RTM_NEWNEIGH with NTF_USE, creating the entry if needed). The kernel sends the ARP request or
    /// neighbor solicitation from its own address on that interface; a fresh entry is left alone.
    public func requestResolution(of address: IPAddress, interfaceIndex: Int32) throws(SystemCallError) {
        let family = UInt8(address.isIPv4 ? AF_INET : AF_INET6)
        // struct ndmsg: family, 3 pad bytes, ifindex, state (none), flags, type.
        let header = [family, 0, 0, 0] + hostBytes(interfaceIndex) + hostBytes(UInt16(0)) + [Self.useFlag, 0]
        let request = NetlinkRequest(
            type: Netlink.newNeighbor, flags: Netlink.request | Netlink.acknowledge | Netlink.create | Netlink.replace,
            fixedHeader: header, attributes: [(Self.destinationAttribute, Self.bytes(of: address))])
        _ = try transact(request, operation: "RTM_NEWNEIGH \(address) use")
    }
}
