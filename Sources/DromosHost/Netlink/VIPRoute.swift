public import DromosConfig
public import DromosSystem
public import DromosWire
import Glibc

/// A VIP's host route in the advertisement table: what `ip route add VIP/32 dev IFACE table T proto 249`
/// adds, and what a routing daemon learns from that table and announces.
public struct VIPRoute: Hashable, Sendable, CustomStringConvertible {
    public var vip: IPAddress
    public var interfaceIndex: Int32
    public var table: UInt32
    public var routeProtocol: UInt8

    public init(vip: IPAddress, interfaceIndex: Int32, table: UInt32, routeProtocol: UInt8 = AdvertiseSpec.routeProtocol) {
        self.vip = vip
        self.interfaceIndex = interfaceIndex
        self.table = table
        self.routeProtocol = routeProtocol
    }

    public var description: String {
        let name = RouteNetlink.interfaceName(interfaceIndex) ?? "#\(interfaceIndex)"
        return "\(vip)/\(InterfaceAddress.hostPrefixLength(vip)) dev \(name) table \(table) proto \(routeProtocol)"
    }
}

extension Netlink {
    static let newRoute: UInt16 = 24
    static let deleteRoute: UInt16 = 25
    static let getRoute: UInt16 = 26
}

extension RouteNetlink {
    private enum RouteAttribute {
        static let destination: UInt16 = 1
        static let outputInterface: UInt16 = 4
        static let table: UInt16 = 15
    }
    /// `struct rtmsg`: family, dst_len, src_len, tos, table, protocol, scope, type, then 32 bits of flags.
    private static let routeHeaderLength = 12
    private static let unicast: UInt8 = 1
    private static let scopeUniverse: UInt8 = 0
    private static let scopeLink: UInt8 = 253
    /// On delete: match a route of any scope.
    private static let scopeNowhere: UInt8 = 255
    /// `rtm_table` when the id does not fit its byte; RTA_TABLE then says which.
    private static let compatTable: UInt8 = 252

    /// The host routes of `routeProtocol` in `table`, of both families (RTM_GETROUTE dump).
    public func vipRoutes(table: UInt32, routeProtocol: UInt8) throws(SystemCallError) -> [VIPRoute] {
        // Filtered by the kernel where it can (strict checking, Linux 4.20): a host with a full BGP table
        // in main must not hand over a million routes once a second. The filter below stays for older ones.
        enableStrictDumps()
        var header = [UInt8](repeating: 0, count: Self.routeHeaderLength)
        header[5] = routeProtocol
        let request = NetlinkRequest(
            type: Netlink.getRoute, flags: Netlink.request | Netlink.dump, fixedHeader: header,
            attributes: [(RouteAttribute.table, hostBytes(table))])
        return try transact(request, operation: "RTM_GETROUTE").compactMap { message -> VIPRoute? in
            guard message.type == Netlink.newRoute, message.payload.count >= Self.routeHeaderLength else { return nil }
            let header = message.payload
            let family = Int32(header[0])
            let attributes = message.attributes(after: Self.routeHeaderLength)
            let routeTable = attributes[RouteAttribute.table].flatMap { $0.count == 4 ? $0.hostInteger(at: 0, as: UInt32.self) : nil }
                ?? UInt32(header[4])
            guard routeTable == table, header[5] == routeProtocol,
                  let raw = attributes[RouteAttribute.destination], let vip = Self.address(raw, family: family),
                  Int(header[1]) == InterfaceAddress.hostPrefixLength(vip) else { return nil }
            let index = attributes[RouteAttribute.outputInterface].flatMap { $0.count == 4 ? $0.hostInteger(at: 0, as: Int32.self) : nil } ?? 0
            return VIPRoute(vip: vip, interfaceIndex: index, table: table, routeProtocol: routeProtocol)
        }
    }

    /// Adds the route, or replaces one to the same destination in that table (so a second add is no error).
    public func add(_ route: VIPRoute) throws(SystemCallError) {
        _ = try transact(Self.routeRequest(route, type: Netlink.newRoute, flags: Netlink.create | Netlink.replace),
                         operation: "RTM_NEWROUTE \(route)")
    }

    /// Deletes the route; one that is gone already (the kernel flushes IPv4 routes of an interface that
    /// goes down) is no error.
    public func delete(_ route: VIPRoute) throws(SystemCallError) {
        do {
            _ = try transact(Self.routeRequest(route, type: Netlink.deleteRoute, flags: 0), operation: "RTM_DELROUTE \(route)")
        } catch where error.code == .noSuchProcess || error.code == .noSuchFileOrDirectory {
            return
        }
    }

    private static func routeRequest(_ route: VIPRoute, type: UInt16, flags: UInt16) -> NetlinkRequest {
        let isIPv4 = route.vip.isIPv4
        // iproute2's choice for a route without a gateway: link scope for IPv4; IPv6 has only universe.
        let scope = type == Netlink.deleteRoute ? scopeNowhere : isIPv4 ? scopeLink : scopeUniverse
        let header: [UInt8] = [
            UInt8(isIPv4 ? AF_INET : AF_INET6), UInt8(InterfaceAddress.hostPrefixLength(route.vip)), 0, 0,
            route.table <= 255 ? UInt8(route.table) : compatTable, route.routeProtocol, scope, unicast,
        ] + hostBytes(UInt32(0))
        return NetlinkRequest(
            type: type, flags: Netlink.request | Netlink.acknowledge | flags, fixedHeader: header,
            attributes: [(RouteAttribute.destination, bytes(of: route.vip)), (RouteAttribute.outputInterface, hostBytes(route.interfaceIndex)),
                         (RouteAttribute.table, hostBytes(route.table))])
    }
}
