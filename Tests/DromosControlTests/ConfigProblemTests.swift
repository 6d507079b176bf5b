import Foundation
import Testing
import DromosConfig
import DromosControlPlane
import DromosDaemon
import DromosDatapath
import DromosHost
import DromosOffline
import DromosSystem
import DromosBalancer

/// Every class of problem, each asserting the exact path and reason, and that nothing else is reported.
@Suite struct ConfigProblemTests: ConfigTestHelpers {
    // MARK: keys

    @Test func unknownKeyAtTheTop() {
        #expect(problems("colour: red\n" + oneService(webService)) == [
            "colour: is not a known key; expected one of: interface, mac, control, state, metrics, flows, datapath, advertise, services",
        ])
    }

    @Test func unknownReceiveRing() {
        #expect(problems(oneService(webService, top: "interface: eth0\ndatapath: { rx_ring: v4 }")) == [
            "datapath.rx_ring: must be one of v2, v3, got \"v4\"",
        ])
        #expect(problems(oneService(webService, top: "interface: eth0\ndatapath: { ring: v2 }")) == [
            "datapath.ring: is not a known key; expected one of: rx_ring",
        ])
    }

    @Test func unknownKeyInAService() {
        #expect(problems(web(adding: "prot: 80")) == [
            "services[0].prot: is not a known key (did you mean port?); expected one of: name, vip, port, protocol, scheduler, maglev_table_size, health, on_all_down, backends, announce",
        ])
    }

    @Test func unknownKeyInABackend() {
        #expect(problems(web(replacing: "  - { address", with: "  - { address: 198.18.1.11, wieght: 2 }")) == [
            "services[0].backends[0].wieght: is not a known key (did you mean weight?); expected one of: address, weight, mac",
        ])
    }

    @Test func unknownKeyInHealth() {
        #expect(problems(web(adding: "health: { type: tcp, retries: 3 }")) == [
            "services[0].health.retries: is not a known key; expected one of: type, port, interval, timeout, rise, fall, path, host, expect",
        ])
    }

    @Test func unknownKeyInFlows() {
        #expect(problems(oneService(webService, top: "interface: eth0\nflows: { tcp-timeout: 5m, Capacity: 10 }")) == [
            "flows.tcp-timeout: is not a known key (did you mean tcp_timeout?); expected one of: capacity, tcp_timeout, tcp_fin_timeout, udp_timeout, fragment_timeout",
            "flows.Capacity: is not a known key (did you mean capacity?); expected one of: capacity, tcp_timeout, tcp_fin_timeout, udp_timeout, fragment_timeout",
        ])
    }

    @Test func unknownKeyInControl() {
        #expect(problems(oneService(webService, top: "interface: eth0\ncontrol: { path: /run/x.sock }")) == [
            "control.path: is not a known key; expected one of: socket, group",
        ])
    }

    @Test func duplicateYAMLKey() {
        let yaml = "interface: eth0\nservices:\n  - name: web\n    vip: 203.0.113.10\n    port: 80\n    port: 81\n    backends: [{ address: 198.18.1.11 }]\n"
        #expect(problems(yaml) == [
            "key \"port\" appears more than once in the same mapping (first at line 5, column 5)",
        ])
    }

    @Test func severalDuplicateYAMLKeysInOneMapping() {
        #expect(problems("b: 1\na: 2\nb: 3\na: 4\n") == [
            "keys \"a\", \"b\" appear more than once in the same mapping (the first \"a\" at line 2, column 1)",
        ])
    }

    // MARK: missing and empty

    @Test func missingRequiredFields() {
        #expect(problems("mac: \"02:00:00:00:00:01\"\n") == ["interface: is required", "services: is required"])
        #expect(problems(oneService("port: 80\nbackends: [{ weight: 2 }]")) == [
            "services[0].name: is required",
            "services[0].vip: is required",
            "services[0].backends[0].address: is required",
        ])
        #expect(problems(oneService("name: web\nvip: 203.0.113.10")) == ["services[0].backends: is required"])
        #expect(problems(web(adding: "health: { interval: 2s }")) == ["services[0].health.type: is required"])
    }

    @Test func keysWithoutValues() {
        #expect(problems(oneService(webService, top: "interface:\nmac:\nstate: ~")) == [
            "interface: has no value",
            "mac: has no value; leave the key out for the default",
            "state: has no value; leave the key out for the default",
        ])
        #expect(problems(web(replacing: "port", with: "port: null")) == [
            "services[0].port: has no value; leave the key out for the default",
        ])
    }

    @Test func emptyLists() {
        #expect(problems("interface: eth0\nservices: []\n") == ["services: must list at least one service"])
        #expect(problems(oneService("name: web\nvip: 203.0.113.10\nbackends: []")) == [
            "services[0].backends: must list at least one backend",
        ])
    }

    @Test func emptyFile() {
        #expect(problems("") == ["is empty; it needs at least interface and services"])
        #expect(problems("# nothing but a comment\n") == ["is empty; it needs at least interface and services"])
    }

    // MARK: kinds

    @Test func wrongKinds() {
        #expect(problems("- interface: eth0\n") == ["expected a mapping, got a list"])
        #expect(problems("interface: eth0\nservices: { name: web }\n") == ["services: expected a list, got a mapping"])
        #expect(problems("interface: eth0\nservices:\n  - web\n") == ["services[0]: expected a mapping, got \"web\""])
        #expect(problems(web(replacing: "backends", with: "backends: 198.18.1.11").replacingOccurrences(of: "      - { address: 198.18.1.11 }\n", with: "")) == [
            "services[0].backends: expected a list, got \"198.18.1.11\"",
        ])
        #expect(problems(web(replacing: "  - { address", with: "  - 198.18.1.11")) == [
            "services[0].backends[0]: expected a mapping, got \"198.18.1.11\"",
        ])
        #expect(problems(web(adding: "health: [tcp]")) == ["services[0].health: expected a mapping, got a list"])
        #expect(problems(oneService(webService, top: "interface: [eth0, eth1]\ncontrol: /run/x.sock")) == [
            "interface: expected a single value, got a list",
            "control: expected a mapping, got \"/run/x.sock\"",
        ])
        #expect(problems(web(replacing: "port", with: "port: { number: 80 }")) == [
            "services[0].port: must be an integer from 1 to 65535, got a mapping",
        ])
        #expect(problems(web(replacing: "name", with: "name: { first: web }")) == [
            "services[0].name: expected a single value, got a mapping",
        ])
    }

    @Test func aKeyThatIsNotAWord() {
        #expect(problems("? [a, b]\n: 1\n" + oneService(webService)) == ["has a key that is a list; keys are plain words"])
    }

    // MARK: addresses

    @Test func badAddressesCarryTheParsersReason() {
        #expect(problems(web(replacing: "vip", with: "vip: 203.0.113.256")) == [
            "services[0].vip: '203.0.113.256' is not an IPv4 address: part 4 (256) is above 255",
        ])
        #expect(problems(web(replacing: "  - { address", with: "  - { address: 2001:db8::zz }")) == [
            "services[0].backends[0].address: '2001:db8::zz' is not an IPv6 address: group 'zz' is not hexadecimal",
        ])
        #expect(problems(web(replacing: "  - { address", with: "  - { address: 198.18.1.11, mac: \"02:00:00:00:01\" }")) == [
            "services[0].backends[0].mac: '02:00:00:00:01' is not a MAC address: expected six octets, found 5",
        ])
        #expect(problems(oneService(webService, top: "interface: eth0\nmac: 02-00-00-00-00")) == [
            "mac: '02-00-00-00-00' is not a MAC address: expected six octets, found 5",
        ])
    }

    @Test func theSourceMACIsUnicast() {
        #expect(problems(oneService(webService, top: "interface: eth0\nmac: \"ff:ff:ff:ff:ff:ff\"")) == [
            "mac: must be a unicast MAC address other than 00:00:00:00:00:00, got ff:ff:ff:ff:ff:ff",
        ])
    }

    @Test func aVIPIsUnicast() {
        #expect(problems(web(replacing: "vip", with: "vip: 224.0.0.10")) == [
            "services[0].vip: must be a unicast address, got 224.0.0.10 (multicast)",
        ])
    }

    // MARK: numbers

    @Test(arguments: [
        ("0", "must be an integer from 1 to 65535, got 0"),
        ("65536", "must be an integer from 1 to 65535, got 65536"),
        ("-80", "must be an integer from 1 to 65535, got -80"),
        ("\"80\"", "must be an unquoted integer from 1 to 65535, got the string \"80\""),
        ("'80'", "must be an unquoted integer from 1 to 65535, got the string \"80\""),
        ("80.0", "must be an integer from 1 to 65535, got \"80.0\""),
        ("http", "must be an integer from 1 to 65535, got \"http\""),
        ("0x50", "must be an integer from 1 to 65535, got \"0x50\""),
        ("0120", "must be an integer from 1 to 65535, got \"0120\""),
        ("+80", "must be an integer from 1 to 65535, got \"+80\""),
        ("99999999999999999999", "must be an integer from 1 to 65535, got \"99999999999999999999\""),
    ])
    func badPort(text: String, reason: String) {
        #expect(problems(web(replacing: "port", with: "port: \(text)")) == ["services[0].port: \(reason)"])
        #expect(problems(web(adding: "health: { type: tcp, port: \(text) }")) == ["services[0].health.port: \(reason)"])
    }

    @Test(arguments: [
        ("heavy", "must be an integer from 0 to 65535, got \"heavy\""),
        ("1.5", "must be an integer from 0 to 65535, got \"1.5\""),
        ("\"1\"", "must be an unquoted integer from 0 to 65535, got the string \"1\""),
        ("1_000", "must be an integer from 0 to 65535, got \"1_000\""),
        ("true", "must be an integer from 0 to 65535, got \"true\""),
        ("-1", "must be an integer from 0 to 65535, got -1"),
        ("70000", "must be an integer from 0 to 65535, got 70000"),
    ])
    func badWeight(text: String, reason: String) {
        #expect(problems(web(replacing: "  - { address", with: "  - { address: 198.18.1.11, weight: \(text) }"))
            == ["services[0].backends[0].weight: \(reason)"])
    }

    @Test func badCounts() {
        #expect(problems(web(adding: "health: { type: tcp, rise: 0, fall: many }")) == [
            "services[0].health.rise: must be an integer from 1 to 100, got 0",
            "services[0].health.fall: must be an integer from 1 to 100, got \"many\"",
        ])
        #expect(problems(oneService(webService, top: "interface: eth0\nflows: { capacity: 0 }")) == [
            "flows.capacity: must be an integer from 1 to 67108864, got 0",
        ])
    }

    // MARK: keywords

    @Test func badSchedulerListsTheAllowedOnes() {
        #expect(problems(web(adding: "scheduler: roundrobin")) == [
            "services[0].scheduler: must be one of maglev, rr, wrr, lc, wlc, sh, got \"roundrobin\"",
        ])
    }

    @Test func badAnnounceListsTheAllowedOnes() throws {
        #expect(problems(web(adding: "announce: bgp")) == [
            "services[0].announce: must be one of none, arp, got \"bgp\"",
        ])
        let config = try ConfigLoader.parse(yaml: web(adding: "announce: arp"), source: "dromos.yaml")
        #expect(config.balancer.services[0].announce == .arp)
        #expect(try ConfigLoader.parse(yaml: web(adding: ""), source: "dromos.yaml").balancer.services[0].announce == .none)
    }

    @Test func badProtocolAndHealthType() {
        #expect(problems(web(adding: "protocol: sctp\nhealth: { type: icmp }")) == [
            "services[0].protocol: must be one of tcp, udp, got \"sctp\"",
            "services[0].health.type: must be one of tcp, http, dsr, none, got \"icmp\"",
        ])
    }

    @Test func healthFieldsOfOneTypeAreRefusedOnAnother() {
        #expect(problems(web(adding: "health: { type: tcp, path: /health, expect: 200 }")) == [
            "services[0].health.path: applies only to type http, not tcp",
            "services[0].health.expect: applies only to type http, not tcp",
        ])
        #expect(problems(web(adding: "health: { type: none, interval: 1s }")) == [
            "services[0].health.interval: type none sends no probes, so it takes no interval",
        ])
        #expect(problems(web(adding: "health: { type: http, path: health, expect: \"399-200\" }")) == [
            "services[0].health.path: must start with / and hold no spaces or control characters, got \"health\"",
            "services[0].health.expect: must be a range from low to high, got \"399-200\"",
        ])
        #expect(problems(web(adding: "health: { type: http, expect: \"200-700\" }")) == [
            "services[0].health.expect: must be statuses from 100 to 599, got 200-700",
        ])
        #expect(problems(web(adding: "on_all_down: forward")) == [
            "services[0].on_all_down: applies only with a health check that sends probes (health: { type: tcp|http|dsr })",
        ])
        #expect(problems(web(adding: "on_all_down: maybe")) == [
            "services[0].on_all_down: must be one of drop, forward, got \"maybe\"",
        ])
        #expect(problems(web(adding: "protocol: udp\nhealth: { type: dsr }")).contains(
            "services[0].health.type: dsr sends a TCP SYN to the VIP, so it checks tcp services only; "
                + "a udp service can check a TCP port of its backends with tcp or http"))
        #expect(problems(web(adding: "health: { type: http, path: \"/healthz?full=1\", host: app.example, expect: 204 }\non_all_down: forward")).isEmpty)
    }

    // MARK: durations

    @Test(arguments: [
        ("2", "needs a unit (ms, s, m or h), got 2 with none"),
        ("1.5s", "must be a whole number with a unit ms, s, m or h (like 500ms or 2s), got \"1.5s\""),
        ("1m30s", "must be a whole number with a unit ms, s, m or h (like 500ms or 2s), got \"1m30s\""),
        ("2 days", "must be a whole number with a unit ms, s, m or h (like 500ms or 2s), got \"2 days\""),
        ("-2s", "must not be negative, got \"-2s\""),
        ("0s", "must be longer than zero, got 0s"),
        ("99999999999999h", "is too long, got \"99999999999999h\""),
    ])
    func badDuration(text: String, reason: String) {
        #expect(problems(web(adding: "health: { type: tcp, interval: \(text), timeout: 1ms }"))
            == ["services[0].health.interval: \(reason)"])
        #expect(problems(oneService(webService, top: "interface: eth0\nflows: { udp_timeout: \(text) }"))
            == ["flows.udp_timeout: \(reason)"])
    }

    @Test func aQuotedDurationIsFine() {
        #expect(problems(web(adding: "health: { type: tcp, interval: \"3s\", timeout: '500ms' }")) == [])
    }

    @Test func timeoutShorterThanInterval() {
        #expect(problems(web(adding: "health: { type: tcp, interval: 1s, timeout: 1s }")) == [
            "services[0].health.timeout: must be shorter than the interval (1s), got 1s",
        ])
    }

    @Test func anAllPortsServiceNeedsAHealthPort() {
        #expect(problems(web(replacing: "port", with: "").replacingOccurrences(of: "backends:", with: "health: { type: tcp }\n    backends:")) == [
            "services[0].health.port: is required when the service has no port (it takes all ports)",
        ])
    }

    // MARK: top-level values

    @Test(arguments: [
        ("\"\"", "must not be empty"),
        ("enp0s31f6.100.long", "must be at most 15 bytes (a Linux interface name), got \"enp0s31f6.100.long\""),
        ("eth0/1", "must not contain '/', ':' or whitespace, got \"eth0/1\""),
        ("\"eth0:1\"", "must not contain '/', ':' or whitespace, got \"eth0:1\""),
        ("\"eth 0\"", "must not contain '/', ':' or whitespace, got \"eth 0\""),
        ("..", "must be an interface name, got \"..\""),
    ])
    func badInterface(text: String, reason: String) {
        #expect(problems(oneService(webService, top: "interface: \(text)")) == ["interface: \(reason)"])
    }

    @Test func pathsAreAbsoluteAndSocketsShort() {
        let long = "/" + String(repeating: "s", count: 107)
        #expect(problems(oneService(webService, top: "interface: eth0\nstate: state.yaml\ncontrol: { socket: \(long), group: \"wheel users\" }")) == [
            "state: must be an absolute path, got \"state.yaml\"",
            "control.socket: must be at most 107 bytes (the limit of a Unix socket path), got 108",
            "control.group: must be a group name (1 to 32 bytes, no '/', ':' or whitespace), got \"wheel users\"",
        ])
    }

    // MARK: between services and backends

    @Test func duplicateServiceNames() {
        let yaml = """
            interface: eth0
            services:
              - { name: web, vip: 203.0.113.10, port: 80, backends: [{ address: 198.18.1.11 }] }
              - { name: web, vip: 203.0.113.10, port: 443, backends: [{ address: 198.18.1.11 }] }
            """
        #expect(problems(yaml) == ["services[1].name: \"web\" is the name of services[0] already"])
    }

    @Test func duplicateServiceKey() {
        let yaml = """
            interface: eth0
            services:
              - { name: web, vip: 203.0.113.10, port: 80, backends: [{ address: 198.18.1.11 }] }
              - { name: www, vip: 203.0.113.10, port: 80, protocol: TCP, backends: [{ address: 198.18.1.12 }] }
            """
        #expect(problems(yaml) == ["services[1]: takes the same VIP, protocol and port (tcp 203.0.113.10:80) as services[0]"])
    }

    @Test func duplicateBackend() {
        #expect(problems(web(replacing: "  - { address", with: "  - { address: 198.18.1.11 }\n  - { address: 198.18.1.12 }\n  - { address: 198.18.1.11, weight: 2 }")) == [
            "services[0].backends[2].address: 198.18.1.11 is listed already as backends[0]",
        ])
    }

    @Test func familyMismatch() {
        #expect(problems(web(replacing: "  - { address", with: "  - { address: 198.18.1.11 }\n  - { address: 2001:db8::12 }")) == [
            "services[0].backends[1].address: must be IPv4 like the VIP 203.0.113.10, got 2001:db8::12",
        ])
    }

    @Test func backendIsTheVIP() {
        #expect(problems(web(replacing: "  - { address", with: "  - { address: 203.0.113.10 }")) == [
            "services[0].backends[0].address: must not be the VIP itself (203.0.113.10)",
        ])
    }

    @Test func tableSizeMustBePrime() {
        #expect(problems(web(adding: "maglev_table_size: 65536")) == [
            "services[0].maglev_table_size: must be a prime from 2 to 655373 (such as 65537), got 65536",
        ])
    }

    @Test func tableSizeIsForTableSchedulersOnly() {
        #expect(problems(web(adding: "scheduler: rr\nmaglev_table_size: 251")) == [
            "services[0].maglev_table_size: applies only to the maglev and sh schedulers, not rr",
        ])
    }

    // MARK: syntax

    @Test func syntaxErrorsGiveLineAndColumn() {
        #expect(problems("interface: eth0\nservices: [web, api\nflows: {}\n") == [
            "is not valid YAML at line 3, column 6: did not find expected ',' or ']' (while parsing a flow sequence at line 2, column 11)",
        ])
        #expect(problems("interface: eth0\n  mac: x\n") == [
            "is not valid YAML at line 2, column 6: mapping values are not allowed in this context",
        ])
        #expect(problems("interface: \"eth0\u{7}\"\n") == [
            "is not valid YAML at line 1, column 17: control characters are not allowed",
        ])
        #expect(problems("interface: eth0\nservices: *pool\n") == [
            "is not valid YAML at line 2, column 11: found undefined alias",
        ])
    }

    @Test func oneDocumentOnly() {
        #expect(problems("interface: eth0\n---\ninterface: eth1\n") == [
            "holds more than one YAML document (the second starts at line 2, column 1); it must be one",
        ])
    }

    // MARK: all at once

    @Test func reportsEveryProblemInFileOrder() {
        let yaml = """
            interface: eth0/1
            services:
              - name: web
                vip: 203.0.113.10
                port: "80"
                scheduler: roundrobin
                health: { type: tcp, interval: 2, timeout: 1s }
                backends:
                  - { address: 198.18.1.11, weight: heavy }
                  - { address: 2001:db8::12 }
                  - { address: 198.18.1.11, wieght: 2 }
                  - { address: 198.18.1.300 }
              - name: web
                vip: 203.0.113.999
                backends: [{ address: 198.18.1.21 }, { address: 198.18.1.21 }]
              - name: api
                vip: 203.0.113.10
                port: 443
                backends: []
              - { name: api2, vip: 203.0.113.10, port: 443, backends: [{ address: 198.18.1.31 }] }
            flows: { capacity: 0, tcp_timeout: 0s }
            """
        #expect(problems(yaml) == [
            "interface: must not contain '/', ':' or whitespace, got \"eth0/1\"",
            "services[0].port: must be an unquoted integer from 1 to 65535, got the string \"80\"",
            "services[0].scheduler: must be one of maglev, rr, wrr, lc, wlc, sh, got \"roundrobin\"",
            "services[0].health.interval: needs a unit (ms, s, m or h), got 2 with none",
            "services[0].backends[0].weight: must be an integer from 0 to 65535, got \"heavy\"",
            "services[0].backends[1].address: must be IPv4 like the VIP 203.0.113.10, got 2001:db8::12",
            "services[0].backends[2].address: 198.18.1.11 is listed already as backends[0]",
            "services[0].backends[2].wieght: is not a known key (did you mean weight?); expected one of: address, weight, mac",
            "services[0].backends[3].address: '198.18.1.300' is not an IPv4 address: part 4 (300) is above 255",
            "services[1].name: \"web\" is the name of services[0] already",
            "services[1].vip: '203.0.113.999' is not an IPv4 address: part 4 (999) is above 255",
            "services[1].backends[1].address: 198.18.1.21 is listed already as backends[0]",
            "services[2].backends: must list at least one backend",
            "services[3]: takes the same VIP, protocol and port (tcp 203.0.113.10:443) as services[2]",
            "flows.capacity: must be an integer from 1 to 67108864, got 0",
            "flows.tcp_timeout: must be longer than zero, got 0s",
        ])
    }

    // MARK: reporting

    @Test func eachProblemIsALineNamingTheFile() {
        do {
            _ = try ConfigLoader.parse(yaml: web(replacing: "  - { address", with: "  - { address: 198.18.1.11, weight: heavy }"),
                                       source: "/etc/dromos.yaml")
            Issue.record("expected problems")
        } catch {
            #expect(error.description == "/etc/dromos.yaml: services[0].backends[0].weight: must be an integer from 0 to 65535, got \"heavy\"")
        }
        do {
            _ = try ConfigLoader.parse(yaml: "", source: "empty.yaml")
        } catch {
            #expect(error.lines == ["empty.yaml: is empty; it needs at least interface and services"])
        }
    }

    @Test func aMissingFileSaysWhy() {
        #expect(throws: ConfigError.self) { try ConfigLoader.load(path: "/nonexistent/dromos.yaml") }
        do {
            _ = try ConfigLoader.load(path: "/nonexistent/dromos.yaml")
        } catch {
            #expect(error.description == "/nonexistent/dromos.yaml: cannot be opened: No such file or directory")
        }
    }

    @Test func aFileThatIsNotTextSaysSo() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("dromos-binary-\(UUID().uuidString)").path
        _ = FileManager.default.createFile(atPath: path, contents: Data([0x69, 0x3a, 0x20, 0xff, 0xfe]))
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            _ = try ConfigLoader.load(path: path)
            Issue.record("expected problems")
        } catch {
            #expect(error.problems.map(\.description) == ["is not UTF-8 text"])
        }
    }
}
