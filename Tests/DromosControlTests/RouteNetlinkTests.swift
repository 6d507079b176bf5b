import Testing
import DromosConfig
import DromosControlPlane
import DromosDaemon
import DromosDatapath
import DromosHost
import DromosOffline
import DromosSystem
import DromosWire

/// rtnetlink against the kernel of the test's namespace, read only (no root needed, nothing changed),
/// cross-checked with `getifaddrs`, which reads the same tables another way.
@Suite struct RouteNetlinkTests {
    @Test func seesTheSameAddressesAsGetifaddrs() throws {
        let netlink = try RouteNetlink()
        let viaNetlink = try netlink.addresses()
        let loopback = try #require(viaNetlink.first { $0.address == (try? IPAddress(parsing: "127.0.0.1")) })
        #expect(loopback.interfaceName == "lo")
        #expect(loopback.prefixLength == 8)
        #expect(loopback.interfaceIndex == RouteNetlink.interfaceIndex("lo"))
        for interface in HostInterface.all() {
            for address in interface.addresses {
                #expect(viaNetlink.contains { $0.address == address && $0.interfaceName == interface.name },
                        "\(address) on \(interface.name) is missing from RTM_GETADDR: \(viaNetlink)")
            }
        }
    }

    @Test func readsLinkAddressesAndNeighborTables() throws {
        let netlink = try RouteNetlink()
        let loopback = try #require(RouteNetlink.interfaceIndex("lo"))
        #expect(try netlink.linkAddress(interfaceIndex: loopback) == .zero)
        // The loopback has no neighbors worth an entry; the dump must still come back complete.
        #expect(try netlink.neighbors(interfaceIndex: loopback).allSatisfy { $0.interfaceIndex == loopback })
        #expect(RouteNetlink.interfaceIndex("no-such-interface-\(UInt32.random(in: 0...9999))") == nil)
    }

    @Test func namesNeighborStates() {
        #expect(NeighborEntry.State.reachable.name == "REACHABLE")
        #expect(NeighborEntry.State(rawValue: 0).name == "NONE")
        let stale = NeighborEntry(address: .v4(IPv4Address(198, 18, 0, 11)), mac: MACAddress(2, 0, 0, 0, 1, 0x11), state: .stale, interfaceIndex: 2)
        #expect(stale.usableMAC == MACAddress(2, 0, 0, 0, 1, 0x11))
        var failed = stale
        failed.state = .failed
        #expect(failed.usableMAC == nil)
        #expect(failed.description == "198.18.0.11 lladdr 02:00:00:00:01:11 FAILED")
    }
}
