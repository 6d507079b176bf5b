import DromosBalancer
import DromosConfig
import DromosControlPlane
import DromosDaemon
import DromosDatapath
import DromosHost
import DromosOffline
import DromosSystem
import DromosWire
import Testing

@Suite struct DaemonPreflightTests {
    static let yaml = """
        interface: eth0
        services:
          - name: web
            vip: 203.0.113.10
            port: 80
            protocol: tcp
            backends:
              - { address: 198.18.1.11, mac: "02:00:00:00:01:11" }
              - { address: 198.18.1.12 }
          - name: dns6
            vip: 2001:db8::53
            port: 53
            protocol: udp
            backends:
              - { address: "2001:db8::1:11", mac: "02:00:00:00:01:21" }
        """

    @Test func reportsEveryHostProblemWithItsFix() throws {
        let config = try ConfigLoader.parse(yaml: Self.yaml, source: "test.yaml")
        let interfaces = [HostInterface(name: "lo", isUp: true, addresses: [try IPAddress(parsing: "203.0.113.10")]),
                          HostInterface(name: "eth0", isUp: false, addresses: [])]
        let problems = DaemonPreflight.problems(config: config, isRoot: false, interfaces: interfaces)
        #expect(problems.count == 4, "\(problems)")
        #expect(problems.contains { $0.contains("needs root") })
        #expect(problems.contains { $0.contains("ip link set eth0 up") })
        #expect(problems.contains { $0.contains("ip addr del 203.0.113.10/32 dev lo") })
        #expect(problems.contains { $0.contains("198.18.1.12") && $0.contains("no IPv4 address: add one in the backends' subnet") })
    }

    /// A backend without a static mac is resolved by the kernel, from an address of its family on the interface.
    @Test func aBackendWithoutMACNeedsAnAddressToAskFrom() throws {
        var config = try ConfigLoader.parse(yaml: Self.yaml, source: "test.yaml")
        config.balancer.services[1].backends[0].mac = nil
        let onlyIPv6 = [HostInterface(name: "eth0", isUp: true, addresses: [try IPAddress(parsing: "fe80::1")])]
        let problems = DaemonPreflight.problems(config: config, isRoot: true, interfaces: onlyIPv6)
        #expect(problems.count == 1, "\(problems)")
        #expect(problems.first?.hasPrefix("services[web].backends[1] (198.18.1.12) has no 'mac', so the kernel must ARP for it on eth0") == true)
        let onlyIPv4 = [HostInterface(name: "eth0", isUp: true, addresses: [try IPAddress(parsing: "198.18.0.1")])]
        let problems6 = DaemonPreflight.problems(config: config, isRoot: true, interfaces: onlyIPv4)
        #expect(problems6.count == 1 && problems6[0].contains("disable_ipv6=0"), "\(problems6)")
        let both = [HostInterface(name: "eth0", isUp: true, addresses: [try IPAddress(parsing: "198.18.0.1"), try IPAddress(parsing: "fe80::1")])]
        #expect(DaemonPreflight.problems(config: config, isRoot: true, interfaces: both).isEmpty)
    }

    @Test func aGoodHostPasses() throws {
        let config = try ConfigLoader.parse(yaml: Self.yaml, source: "test.yaml")
        let interfaces = [HostInterface(name: "eth0", isUp: true, addresses: [try IPAddress(parsing: "198.18.0.1")])]
        #expect(DaemonPreflight.problems(config: config, isRoot: true, interfaces: interfaces).isEmpty)
        let missing = DaemonPreflight.problems(config: config, isRoot: true, interfaces: [])
        #expect(missing.count == 1 && missing[0].contains("does not exist"))
    }

    @Test func theDropRuleCoversEveryVIPOnce() throws {
        let rule = KernelDropRule(interface: "eth0", vips: [try IPAddress(parsing: "203.0.113.10"),
                                                             try IPAddress(parsing: "2001:db8::53"),
                                                             try IPAddress(parsing: "203.0.113.10")])
        #expect(rule.vips.count == 2)
        #expect(rule.script.contains("table netdev dromos"))
        #expect(rule.script.contains("hook ingress device \"eth0\""))
        #expect(rule.script.contains("ip daddr { 203.0.113.10 } drop"))
        #expect(rule.script.contains("ip6 daddr { 2001:db8::53 } drop"))
    }

    @Test func pcapRefusesReceiveCoalescingWithTheEthtoolFix() {
        #expect(DaemonPreflight.pcapOffloadProblem(interface: "eth0", activeCoalescing: []) == nil)
        let problem = DaemonPreflight.pcapOffloadProblem(interface: "eth0", activeCoalescing: ["gro", "rx-gro-hw"])
        #expect(problem?.contains("ethtool -K eth0 gro off rx-gro-hw off") == true, "\(problem ?? "")")
        #expect(problem?.contains("--io pcap") == true)
    }

    @Test func theAFPacketSettingsFollowTheRingKind() {
        let v2 = DatapathSettings.afpacket(interface: "eth0", ring: .v2)
        #expect(v2.version == .v2)
        // Every V2 slot holds a 64 KiB super-frame; a block wastes less than one page.
        #expect(v2.blockSize % 4_096 == 0 && v2.blockSize % v2.frameSize < 4_096)
        #expect(v2.blockSize / v2.frameSize * v2.blockCount == 1_024)
        let v3 = DatapathSettings.afpacket(interface: "eth0", ring: .v3)
        #expect(v3.version == .v3 && v3.retireTimeoutMilliseconds == 1)
        #expect(ReceiveRingKind.default == .v2)
    }
}
