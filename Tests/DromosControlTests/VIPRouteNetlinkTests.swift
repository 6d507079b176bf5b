import DromosConfig
import DromosHost
import DromosLab
import DromosWire
import Foundation
import Testing

/// The advertiser's routes over rtnetlink, in a namespace of the test's own, checked with `ip route`:
/// both families, a table id above 255 (RTA_TABLE, not the header's byte), idempotent add and delete.
@Suite(.enabled(if: NetworkLab.isRoot, Comment(rawValue: NetworkLab.skipReason)))
final class VIPRouteNetlinkTests {
    let lab = NetworkLab()

    @Test func addsListsAndDeletesHostRoutesOfBothFamilies() async throws {
        let namespace = try await lab.namespace("rt", ipv6: true)
        try await lab.veth("v0", in: namespace, "v1", in: namespace)
        let table: UInt32 = 1_000
        let (listed, afterDelete) = try await lab.onThread { entry in
            try entry.enter(namespace)
            let netlink = try RouteNetlink()
            let index = try #require(RouteNetlink.interfaceIndex("v0"))
            let routes = [VIPRoute(vip: .v4(IPv4Address(203, 0, 113, 10)), interfaceIndex: index, table: table),
                          VIPRoute(vip: try IPAddress(parsing: "2001:db8:ffff::10"), interfaceIndex: index, table: table)]
            for route in routes {
                try netlink.add(route)
                try netlink.add(route)
            }
            // Not ours: another protocol in the same table, and ours in another table.
            try entry.exec(namespace, ["ip", "route", "add", "203.0.113.11/32", "dev", "v0", "table", "\(table)", "proto", "static"])
            try entry.exec(namespace, ["ip", "route", "add", "203.0.113.12/32", "dev", "v0", "table", "\(table + 1)", "proto", "249"])
            let listed = try netlink.vipRoutes(table: table, routeProtocol: AdvertiseSpec.routeProtocol)
            let shown = try entry.exec(namespace, ["ip", "route", "show", "table", "\(table)"])
                + entry.exec(namespace, ["ip", "-6", "route", "show", "table", "\(table)"])
            for route in routes {
                try netlink.delete(route)
                try netlink.delete(route)
            }
            return (Set(listed).subtracting(routes).isEmpty && listed.count == 2 ? shown : "listed \(listed)",
                    try netlink.vipRoutes(table: table, routeProtocol: AdvertiseSpec.routeProtocol))
        }
        #expect(listed.contains("203.0.113.10 dev v0 proto 249 scope link"), "\(listed)")
        #expect(listed.contains("2001:db8:ffff::10 dev v0 proto 249"), "\(listed)")
        #expect(afterDelete.isEmpty)
        let left = try await lab.exec(namespace, ["ip", "route", "show", "table", "all"])
            + lab.exec(namespace, ["ip", "-6", "route", "show", "table", "all"])
        #expect(left.contains("203.0.113.11 dev v0 table 1000 proto static") && left.contains("203.0.113.12 dev v0 table 1001 proto 249")
                && !left.contains("203.0.113.10") && !left.contains("2001:db8:ffff::10"), "\(left)")
    }
}
