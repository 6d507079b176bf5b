import DromosBalancer
import DromosConfig
import DromosIO
public import DromosSystem
public import DromosWire

/// Tells the link that the VIPs are at the balancer's MAC: a gratuitous ARP per IPv4 VIP and an
/// unsolicited neighbor advertisement (override flag) per IPv6 VIP, so neighbors and switches update
/// their caches at start and when another balancer takes a VIP over (failover).
public final class VIPAnnouncer {
    public let interface: String
    public let mac: MACAddress
    private let sender: FrameSender

    public init(interface: String, mac: MACAddress) throws(HostError) {
        self.interface = interface
        self.mac = mac
        do {
            sender = try FrameSender(interface: interface)
        } catch {
            throw HostError("cannot open a packet socket on \(interface) to announce VIPs: \(error)")
        }
    }

    /// Joins the solicited-node groups of the IPv6 VIPs, so their solicitations reach the datapath.
    public func listen(for vips: [IPAddress]) -> [String] {
        vips.compactMap { vip -> String? in
            guard case .v6(let address) = vip else { return nil }
            let group = MACAddress.ipv6Multicast(address.solicitedNodeMulticast)
            do {
                try sender.joinMulticast(group.octets)
            } catch {
                return "could not join \(group) on \(interface) for \(vip): \(error)"
            }
            return nil
        }
    }

    /// Sends one announcement per VIP; returns one line per VIP saying what was sent or why not.
    public func announce(_ vips: [IPAddress]) -> [String] {
        let frame = UnsafeMutableRawBufferPointer.allocate(byteCount: 128, alignment: 8)
        defer { frame.deallocate() }
        return vips.map { vip in
            let length: Int
            let what: String
            switch vip {
            case .v4(let address):
                let framing = EthernetFraming(destination: .broadcast, source: mac)
                length = ARPFrame.write(.announcement(of: address, at: mac), framing: framing, into: frame)
                what = "gratuitous ARP"
            case .v6(let address):
                let framing = EthernetFraming(destination: .ipv6Multicast(.allNodes), source: mac)
                length = NDPFrame.write(.announcement(of: address, at: mac), framing: framing, into: frame)
                what = "unsolicited neighbor advertisement"
            }
            do {
                try sender.send(UnsafeRawBufferPointer(rebasing: frame[0..<length]))
            } catch {
                return "could not announce \(vip) on \(interface): \(error)"
            }
            return "announced \(vip) at \(mac) on \(interface) (\(what))"
        }
    }
}

extension RouteNetlink {
    /// The interface's own MAC (RTM_GETLINK, IFLA_ADDRESS).
    public func linkAddress(interfaceIndex: Int32) throws(SystemCallError) -> MACAddress? {
        // struct ifinfomsg: family, pad, type, index, flags, change.
        let header = [UInt8](repeating: 0, count: 4) + hostBytes(interfaceIndex) + [UInt8](repeating: 0, count: 8)
        let request = NetlinkRequest(type: Netlink.getLink, flags: Netlink.request, fixedHeader: header)
        for message in try transact(request, operation: "RTM_GETLINK") where message.type == Netlink.newLink {
            if let raw = message.attributes(after: 16)[1], raw.count == 6 {
                return MACAddress(raw[0], raw[1], raw[2], raw[3], raw[4], raw[5])
            }
        }
        return nil
    }
}
