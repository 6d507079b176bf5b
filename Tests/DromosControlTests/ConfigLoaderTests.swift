import Foundation
import Testing
import DromosBalancer
import DromosConfig
import DromosControlPlane
import DromosDaemon
import DromosDatapath
import DromosHost
import DromosOffline
import DromosSystem
import DromosWire

@Suite struct ConfigLoaderValidTests: ConfigTestHelpers {
    @Test func readsTheExampleIntoTheExactModel() throws {
        #expect(try ConfigLoader.parse(yaml: exampleConfig, source: "example.yaml") == exampleModel)
    }

    @Test func fillsInEveryDefault() throws {
        let config = try ConfigLoader.parse(yaml: oneService(webService), source: "t")
        let expected = DromosConfig(
            interface: "eth0", mac: nil, controlSocket: "/run/dromos/control.sock", controlGroup: nil, statePath: nil,
            balancer: BalancerSpec(
                services: [ServiceSpec(name: "web", key: ServiceKey(vip: ip("203.0.113.10"), transport: .tcp, port: 80),
                                       scheduler: .maglev, maglevTableSize: 65_537, health: nil,
                                       backends: [BackendSpec(address: ip("198.18.1.11"), weight: 1, mac: nil)])],
                flows: FlowTableSpec()))
        #expect(config == expected)
    }

    @Test func theReceiveRingIsChosenOnlyWhenGiven() throws {
        #expect(try ConfigLoader.parse(yaml: oneService(webService), source: "t").receiveRing == nil)
        let v3 = oneService(webService, top: "interface: eth0\ndatapath: { rx_ring: v3 }")
        #expect(try ConfigLoader.parse(yaml: v3, source: "t").receiveRing == .v3)
        let v2 = oneService(webService, top: "interface: eth0\ndatapath:\n  rx_ring: V2")
        #expect(try ConfigLoader.parse(yaml: v2, source: "t").receiveRing == .v2)
    }

    @Test func aHealthCheckWithoutAPortProbesTheServicePort() throws {
        let config = try ConfigLoader.parse(yaml: web(adding: "health: { type: tcp }"), source: "t")
        #expect(config.balancer.services[0].health == HealthCheckSpec(type: .tcp, port: 80))
    }

    @Test func keywordsIgnoreCase() throws {
        let config = try ConfigLoader.parse(
            yaml: web(adding: "protocol: UDP\nscheduler: WLC\nhealth: { type: Tcp }"), source: "t")
        #expect(config.balancer.services[0].key.transport == .udp)
        #expect(config.balancer.services[0].scheduler == .wlc)
        #expect(config.balancer.services[0].health?.type == .tcp)
    }

    @Test func valuesAreTheTextAsWrittenNotYAMLsGuess() throws {
        // Unquoted, YAML 1.1 reads these as a base-60 integer, a boolean and a float.
        let config = try ConfigLoader.parse(
            yaml: oneService(webService.replacingOccurrences(of: "name: web", with: "name: yes")
                + "\n  - { address: 198.18.1.12, mac: 12:34:56:12:34:56 }", top: "interface: \"1.5\""),
            source: "t")
        #expect(config.interface == "1.5")
        #expect(config.balancer.services[0].name == "yes")
        #expect(config.balancer.services[0].backends[1].mac == mac("12:34:56:12:34:56"))
    }

    @Test func anchorsAndAliasesWork() throws {
        let yaml = """
            interface: eth0
            services:
              - name: a
                vip: 203.0.113.10
                port: 80
                health: &check { type: tcp, interval: 3s, timeout: 1s }
                backends: &pool
                  - { address: 198.18.1.11 }
              - name: b
                vip: 203.0.113.10
                port: 443
                health: *check
                backends: *pool
            """
        let services = try ConfigLoader.parse(yaml: yaml, source: "t").balancer.services
        #expect(services[1].backends == services[0].backends)
        #expect(services[1].health?.intervalMilliseconds == 3_000)
        #expect(services[1].health?.port == 443)
    }

    @Test func aPortSpecificAndAnAllPortsServiceShareAVIP() {
        let yaml = """
            interface: eth0
            services:
              - { name: web, vip: 203.0.113.10, port: 80, backends: [{ address: 198.18.1.11 }] }
              - { name: rest, vip: 203.0.113.10, backends: [{ address: 198.18.1.12 }] }
              - { name: dns, vip: 203.0.113.10, port: 80, protocol: udp, backends: [{ address: 198.18.1.12 }] }
            """
        #expect(problems(yaml) == [])
    }

    @Test func loadsAFile() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("dromos-config-\(UUID().uuidString).yaml").path
        try exampleConfig.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(try ConfigLoader.load(path: path) == exampleModel)
    }
}
