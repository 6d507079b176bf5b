import Synchronization
import Testing
import DromosBalancer
import DromosConfig
import DromosControlPlane
import DromosDaemon
import DromosHost
import DromosSystem
import DromosWire
import Glibc

/// `advertise:` as the config reads it, and the advertiser's rules against a routing table held in
/// memory: what is advertised when, what is removed, what is left alone, and what a failure does.
@Suite struct AdvertiseTests: ConfigTestHelpers {
    @Test func readsTheTableAndTheStopDelay() throws {
        let config = try ConfigLoader.parse(yaml: oneService(webService, top: "interface: eth0\nadvertise: { table: 100 }"), source: "t")
        #expect(config.advertise == AdvertiseSpec(table: 100, stopDelayMilliseconds: 1_000))
        let tuned = try ConfigLoader.parse(yaml: oneService(webService, top: "interface: eth0\nadvertise: { table: 4000000000, stop_delay: 0s }"),
                                           source: "t")
        #expect(tuned.advertise == AdvertiseSpec(table: 4_000_000_000, stopDelayMilliseconds: 0))
        #expect(try ConfigLoader.parse(yaml: oneService(webService), source: "t").advertise == nil)
        // The normalized form says it, and reads back to the same value.
        let text = ConfigSummary.text(config)
        #expect(text.contains("advertise:\n  table: 100\n  stop_delay: 1s\n"), "\(text)")
        #expect(try ConfigLoader.parse(yaml: text, source: "normalized") == config)
        #expect(ConfigSummary.json(config).contains("\"advertise\": {\"table\": 100, \"stop_delay_ms\": 1000}"))
    }

    @Test func refusesTablesThatAreNotItsOwnAndDelaysTooLong() {
        func problems(_ advertise: String) -> [String] { self.problems(oneService(webService, top: "interface: eth0\nadvertise: \(advertise)")) }
        #expect(problems("{ table: 254 }") == [
            "advertise.table: must be a table of its own, not 254 (the kernel's main table: routes there would change this host's "
                + "forwarding); pick an unused one such as 100",
        ])
        #expect(problems("{ table: 255 }").first?.contains("the kernel's local table") == true)
        #expect(problems("{ table: 0 }").first?.contains("must be an integer from 1 to 4294967295, got 0") == true)
        #expect(problems("{ table: 4294967296 }") == ["advertise.table: must be an integer from 1 to 4294967295, got 4294967296"])
        #expect(problems("{ table: \"100\" }").first?.contains("unquoted integer") == true)
        #expect(problems("{ stop_delay: 1s }") == ["advertise.table: is required"])
        #expect(problems("{ table: 100, stop_delay: 21s }") == [
            "advertise.stop_delay: must be at most 20s (the service manager's stop timeout must cover it), got 21s",
        ])
        #expect(problems("{ table: 100, asn: 65001 }") == ["advertise.asn: is not a known key; expected one of: table, stop_delay"])
        #expect(problems("100") == ["advertise: expected a mapping, got \"100\""])
    }

    /// A reload applies the services; an edited `advertise` (or any other setting a running daemon cannot
    /// take over) is refused with its name, never left unapplied in silence.
    @Test func aReloadRefusesWhatOnlyARestartApplies() throws {
        let running = try ConfigLoader.parse(yaml: oneService(webService, top: "interface: eth0\nadvertise: { table: 100 }"), source: "t")
        var edited = running
        edited.balancer.services[0].backends[0].weight = 5
        #expect(Daemon.restartOnlyChanges(from: running, to: edited).isEmpty)
        edited.advertise = AdvertiseSpec(table: 101)
        edited.metricsListen = ListenAddress.defaultMetrics
        edited.interface = "eth1"
        #expect(Daemon.restartOnlyChanges(from: running, to: edited) == [
            "interface (from eth0 to eth1) changed: that needs a restart, not a reload (the services are what a reload applies)",
            "metrics changed: that needs a restart, not a reload (the services are what a reload applies)",
            "advertise changed: that needs a restart, not a reload (the services are what a reload applies)",
        ])
    }

    @Test func aVIPIsServableWhileAServiceOfItHasABackendForNewFlows() throws {
        let vip = ip("203.0.113.10"), other = ip("203.0.113.11")
        let macA = mac("02:00:00:00:01:11"), macB = mac("02:00:00:00:01:12")
        func service(_ name: String, _ vip: IPAddress, port: UInt16, _ backends: [BackendSpec]) -> ServiceSpec {
            ServiceSpec(name: name, key: ServiceKey(vip: vip, transport: .tcp, port: port), scheduler: .maglev, maglevTableSize: 251,
                        backends: backends)
        }
        let a = BackendSpec(address: ip("198.18.1.11"), weight: 1, mac: macA)
        let b = BackendSpec(address: ip("198.18.1.12"), weight: 1, mac: macB)
        let services = [service("web", vip, port: 80, [a]), service("tls", vip, port: 443, [b]), service("api", other, port: 80, [a, b])]
        func servable(_ states: [BackendKey: BackendState], weights: [Int] = [1, 1]) throws -> [IPAddress] {
            var adjusted = services
            adjusted[2].backends[0].weight = weights[0]
            adjusted[2].backends[1].weight = weights[1]
            return try ForwardingTable(generation: 1, services: adjusted, states: states).servableVIPs
        }
        func key(_ service: ServiceSpec, _ backend: BackendSpec) -> BackendKey { BackendKey(service: service.key, address: backend.address) }
        #expect(try servable([:]) == [vip, other])
        // One service of the VIP without a backend leaves it servable by the other.
        #expect(try servable([key(services[0], a): BackendState(isUp: false, mac: macA)]) == [vip, other])
        #expect(try servable([key(services[0], a): BackendState(isUp: false, mac: macA),
                              key(services[1], b): BackendState(isUp: false, mac: macB)]) == [other], "both services down")
        #expect(try servable([key(services[2], a): BackendState(isUp: false, mac: macA)], weights: [1, 0]) == [vip], "down, and drained")
    }

    /// A routing table in memory, with a switch to make changes fail.
    final class MemoryTable: Sendable {
        let routes = Mutex<Set<VIPRoute>>([])
        let failing = Mutex(false)
        let failingDeletes = Mutex(false)
        var access: RouteTableAccess {
            RouteTableAccess(
                list: { [self] () throws(SystemCallError) in Array(routes.withLock { $0 }) },
                add: { [self] route throws(SystemCallError) in
                    if failing.withLock({ $0 }) { throw SystemCallError(call: "RTM_NEWROUTE", code: .networkDown) }
                    routes.withLock { _ = $0.insert(route) }
                },
                delete: { [self] route throws(SystemCallError) in
                    if failingDeletes.withLock({ $0 }) { throw SystemCallError(call: "RTM_DELROUTE", code: .notPermitted) }
                    routes.withLock { _ = $0.remove(route) }
                })
        }
        var vips: Set<IPAddress> { Set(routes.withLock { $0 }.filter { $0.interfaceIndex == 7 }.map(\.vip)) }
    }

    /// A table of generation `generation` whose servable VIPs are `vips` (one service each, a backend with a MAC).
    func table(_ vips: [IPAddress], generation: UInt32) throws -> ForwardingTable {
        let services = vips.enumerated().map { index, vip in
            ServiceSpec(name: "s\(index)", key: ServiceKey(vip: vip, transport: .tcp, port: 80), scheduler: .maglev, maglevTableSize: 251,
                        backends: [BackendSpec(address: ip("198.18.1.11"), weight: 1, mac: mac("02:00:00:00:01:11"))])
        }
        return try ForwardingTable(generation: generation, services: services)
    }

    @Test func advertisesWhatCanBeServedWhileForwardingAndNotWithdrawn() throws {
        let table = MemoryTable()
        let vip = ip("203.0.113.10"), vip6 = ip("2001:db8::10"), stale = ip("203.0.113.99")
        // Left by a crashed run: one on our interface, one on another daemon's.
        let otherDaemons = VIPRoute(vip: stale, interfaceIndex: 8, table: 100)
        table.routes.withLock { $0 = [VIPRoute(vip: stale, interfaceIndex: 7, table: 100), otherDaemons] }
        let lines = Mutex<[String]>([])
        let advertiser = RouteAdvertiser(spec: AdvertiseSpec(table: 100), interfaceIndex: 7, access: table.access,
                                         log: { line in lines.withLock { $0.append(line) } })
        advertiser.removeStale()
        #expect(table.vips.isEmpty)
        #expect(table.routes.withLock { $0.contains(otherDaemons) }, "another interface's routes are not ours")
        advertiser.update(try self.table([vip, vip6], generation: 3))
        #expect(table.vips.isEmpty, "nothing before the workers forward")

        // The daemon read generation 2 before generation 3 was published: the newer one counts.
        advertiser.start(try self.table([vip], generation: 2))
        #expect(table.vips == [vip, vip6])
        advertiser.update(try self.table([vip6], generation: 4))
        #expect(table.vips == [vip6])
        #expect(lines.withLock { $0 }.contains { $0.hasPrefix("advertise: withdrew 203.0.113.10/32") && $0.hasSuffix("(no backend of the VIP takes new flows)") })

        #expect(try advertiser.withdraw().get() == [vip6])
        #expect(table.vips.isEmpty && advertiser.snapshot.isWithdrawn)
        advertiser.update(try self.table([vip, vip6], generation: 5))
        advertiser.refresh()
        #expect(table.vips.isEmpty, "withdrawn holds across table changes")
        #expect(try advertiser.restore().get() == [vip, vip6])
        #expect(table.vips == [vip, vip6])

        // Someone else removed one: back at the next check.
        table.routes.withLock { _ = $0.remove(VIPRoute(vip: vip, interfaceIndex: 7, table: 100)) }
        advertiser.refresh()
        #expect(table.vips == [vip, vip6])
        #expect(lines.withLock { $0 }.contains { $0.hasPrefix("advertise: added 203.0.113.10/32") && $0.hasSuffix("(it had been removed from the table)") })

        // A failing kernel: reported once, retried, and the end of it said.
        table.routes.withLock { _ = $0.remove(VIPRoute(vip: vip, interfaceIndex: 7, table: 100)) }
        table.failing.withLock { $0 = true }
        advertiser.refresh()
        advertiser.refresh()
        #expect(advertiser.snapshot.problem?.contains("cannot advertise 203.0.113.10/32") == true)
        #expect(lines.withLock { $0 }.filter { $0.contains("cannot advertise") }.count == 1, "not every second")
        table.failing.withLock { $0 = false }
        advertiser.refresh()
        #expect(advertiser.snapshot.problem == nil && table.vips == [vip, vip6])
        #expect(lines.withLock { $0 }.contains("advertise: the routing table is as wanted again"))

        #expect(advertiser.stop() == nil)
        #expect(table.vips.isEmpty)
        #expect(lines.withLock { $0 }.contains { $0.hasSuffix("(stopping)") })
        advertiser.refresh()
        advertiser.update(try self.table([vip], generation: 6))
        #expect(table.vips.isEmpty, "nothing comes back after the stop")
        #expect(throws: ControlError.self) { try advertiser.withdraw().get() }
        #expect(table.routes.withLock { $0.contains(otherDaemons) })
    }

    /// A withdrawal that fails at the stop is retried by the next `stop` and reported until it succeeds.
    @Test func aFailedWithdrawalAtTheStopIsRetried() throws {
        let table = MemoryTable()
        let vip = ip("203.0.113.10")
        let advertiser = RouteAdvertiser(spec: AdvertiseSpec(table: 100), interfaceIndex: 7, access: table.access, log: { _ in })
        advertiser.start(try self.table([vip], generation: 1))
        #expect(table.vips == [vip])
        table.failingDeletes.withLock { $0 = true }
        #expect(advertiser.stop()?.contains("cannot withdraw 203.0.113.10/32") == true)
        #expect(table.vips == [vip])
        table.failingDeletes.withLock { $0 = false }
        #expect(advertiser.stop() == nil)
        #expect(table.vips.isEmpty)
        #expect(advertiser.stop() == nil, "nothing left to do")
    }
}
