import Testing
import DromosBalancer
import DromosConfig
import DromosControlPlane
import DromosDaemon
import DromosDatapath
import DromosHost
import DromosOffline
import DromosSystem

@Suite struct ConfigSummaryTests: ConfigTestHelpers {
    @Test func printsTheNormalizedConfiguration() {
        #expect(ConfigSummary.text(exampleModel) == """
            # valid: 2 services, 4 backends; defaults filled in
            interface: eth0
            mac: "02:00:00:00:00:01"
            control:
              socket: /run/dromos/control.sock
              group: dromos
            state: /var/lib/dromos/state.yaml
            flows:
              capacity: 65536
              tcp_timeout: 10m
              tcp_fin_timeout: 1m
              udp_timeout: 2m
              fragment_timeout: 15s
            # datapath: rx_ring: v2 (the default; dromos run --rx-ring overrides)
            # advertise: none (no VIP routes for a routing daemon)
            services:
              - name: web  # tcp 203.0.113.10:80
                vip: 203.0.113.10
                port: 80
                protocol: tcp
                scheduler: maglev
                maglev_table_size: 65537
                # announce: none (a router routes the VIP here)
                health: { type: tcp, port: 80, interval: 2s, timeout: 1s, rise: 2, fall: 3 }
                # on_all_down: drop (no backend up: VIP traffic dropped as no-backend)
                backends:
                  - { address: 198.18.1.11, weight: 1 }  # mac by ARP
                  - { address: 198.18.1.12, weight: 1, mac: "02:00:00:00:01:12" }
              - name: dns6  # udp [2001:db8::53]:*
                vip: "2001:db8::53"
                # port: all
                protocol: udp
                scheduler: sh
                maglev_table_size: 251
                # announce: none (a router routes the VIP here)
                health: { type: tcp, port: 53, interval: 5s, timeout: 500ms, rise: 2, fall: 3 }
                # on_all_down: drop (no backend up: VIP traffic dropped as no-backend)
                backends:
                  - { address: "2001:db8:1::11", weight: 3, mac: "12:34:56:12:34:56" }
                  - { address: "2001:db8:1::12", weight: 0 }  # mac by NDP, draining

            """)
    }

    @Test func saysWhatIsOffAndLeavesOutTheTableOfSchedulersWithout() throws {
        let config = try ConfigLoader.parse(yaml: web(adding: "scheduler: lc"), source: "t")
        #expect(ConfigSummary.text(config) == """
            # valid: 1 service, 1 backend; defaults filled in
            interface: eth0
            # mac: the interface's own
            control:
              socket: /run/dromos/control.sock
              # group: none (root only)
            # state: none (runtime changes are not kept across restarts)
            flows:
              capacity: 1048576
              tcp_timeout: 15m
              tcp_fin_timeout: 2m
              udp_timeout: 5m
              fragment_timeout: 30s
            # datapath: rx_ring: v2 (the default; dromos run --rx-ring overrides)
            # advertise: none (no VIP routes for a routing daemon)
            services:
              - name: web  # tcp 203.0.113.10:80
                vip: 203.0.113.10
                port: 80
                protocol: tcp
                scheduler: lc
                # announce: none (a router routes the VIP here)
                # health: none (backends count as up)
                backends:
                  - { address: 198.18.1.11, weight: 1 }  # mac by ARP

            """)
    }

    @Test func theTextReadsBackToTheSameConfiguration() throws {
        let odd = oneService(webService, top: "interface: \"yes\"\nstate: \"/var/lib/dromos state: #1.yaml\"")
        // Names YAML would read as null or a boolean when printed plain.
        let nullName = web(replacing: "name", with: "name: \"null\"")
        let trueName = web(replacing: "name", with: "name: \"True\"")
        let v3 = oneService(webService, top: "interface: eth0\ndatapath: { rx_ring: v3 }")
        for yaml in [exampleConfig, web(adding: "scheduler: rr"), odd, nullName, trueName, v3] {
            let config = try ConfigLoader.parse(yaml: yaml, source: "t")
            #expect(try ConfigLoader.parse(yaml: ConfigSummary.text(config), source: "normalized") == config)
        }
    }

    @Test func printsJSON() throws {
        let config = try ConfigLoader.parse(yaml: web(adding: "health: { type: tcp }"), source: "t")
        #expect(ConfigSummary.json(config) == """
            {"interface": "eth0", "mac": null, "control": {"socket": "/run/dromos/control.sock", "group": null}, \
            "state": null, "flows": {"capacity": 1048576, "tcp_timeout_ms": 900000, "tcp_fin_timeout_ms": 120000, \
            "udp_timeout_ms": 300000, "fragment_timeout_ms": 30000}, "datapath": {"rx_ring": null}, "advertise": null, "services": [{"name": "web", \
            "key": "tcp 203.0.113.10:80", "vip": "203.0.113.10", "port": 80, "protocol": "tcp", "scheduler": "maglev", \
            "maglev_table_size": 65537, "health": {"type": "tcp", "port": 80, "interval_ms": 2000, "timeout_ms": 1000, \
            "rise": 2, "fall": 3, "path": null, "host": null, "expect": null}, "backends": [{"address": "198.18.1.11", "weight": 1, "mac": null}], "announce": "none", "on_all_down": "drop"}]}

            """)
    }

    @Test func jsonHasNullsForAllPortsAndTablelessSchedulers() throws {
        let yaml = """
            interface: eth0
            services:
              - { name: any, vip: 2001:db8::10, scheduler: wrr, backends: [{ address: 2001:db8::11, mac: 02:00:00:00:00:11 }] }
            """
        let json = ConfigSummary.json(try ConfigLoader.parse(yaml: yaml, source: "t"))
        #expect(json.contains(#""port": null, "protocol": "tcp", "scheduler": "wrr", "maglev_table_size": null, "health": null"#))
        #expect(json.contains(#"{"address": "2001:db8::11", "weight": 1, "mac": "02:00:00:00:00:11"}"#))
    }
}
