import DromosBalancer
import DromosConfig
import DromosControlPlane
import DromosHost
import DromosWire
import Testing

/// The config file and the control protocol read services with one schema: the same service gives the
/// same spec, and the same mistake the same path (under each surface's prefix) and the same reason.
@Suite struct ServiceSchemaTests: ConfigTestHelpers {
    /// Written as an operator writes YAML (plain words, block and flow style) and as a client writes JSON.
    static let yamlServices = """
        interface: eth0
        services:
          - name: web
            vip: 203.0.113.10
            port: 80
            protocol: TCP
            maglev_table_size: 251
            health: { type: tcp, interval: 5s, timeout: 500ms, rise: 3 }
            backends:
              - { address: 198.18.1.11 }
              - { address: 198.18.1.12, weight: 0, mac: 12:34:56:12:34:56 }
            announce: ARP
          - name: dns6
            vip: 2001:db8::53
            protocol: udp
            scheduler: wlc
            health: { type: tcp, port: 53, interval: 2s, timeout: 1s, fall: 5 }
            backends:
              - address: 2001:db8:1::11
                weight: 3

        """

    static let jsonServices = [
        #"{"name": "web", "vip": "203.0.113.10", "port": 80, "protocol": "TCP", "maglev_table_size": 251, "#
            + #""health": {"type": "tcp", "interval": "5s", "timeout": "500ms", "rise": 3}, "#
            + #""backends": [{"address": "198.18.1.11"}, {"address": "198.18.1.12", "weight": 0, "mac": "12:34:56:12:34:56"}], "#
            + #""announce": "ARP"}"#,
        #"{"name": "dns6", "vip": "2001:db8::53", "protocol": "udp", "scheduler": "wlc", "#
            + #""health": {"type": "tcp", "port": 53, "interval": "2s", "timeout": "1s", "fall": 5}, "#
            + #""backends": [{"address": "2001:db8:1::11", "weight": 3}]}"#,
    ]

    var expectedServices: [ServiceSpec] {
        [
            ServiceSpec(
                name: "web", key: ServiceKey(vip: ip("203.0.113.10"), transport: .tcp, port: 80), scheduler: .maglev,
                maglevTableSize: 251,
                health: HealthCheckSpec(type: .tcp, port: 80, intervalMilliseconds: 5_000, timeoutMilliseconds: 500, rise: 3, fall: 3),
                backends: [BackendSpec(address: ip("198.18.1.11")),
                           BackendSpec(address: ip("198.18.1.12"), weight: 0, mac: mac("12:34:56:12:34:56"))],
                announce: .arp),
            ServiceSpec(
                name: "dns6", key: ServiceKey(vip: ip("2001:db8::53"), transport: .udp, port: nil), scheduler: .wlc,
                health: HealthCheckSpec(type: .tcp, port: 53, intervalMilliseconds: 2_000, timeoutMilliseconds: 1_000, rise: 2, fall: 5),
                backends: [BackendSpec(address: ip("2001:db8:1::11"), weight: 3)]),
        ]
    }

    func decodedService(_ json: String) throws -> ServiceSpec {
        try ServiceCodec.decodeService(try JSONReader.parse(json), path: "service")
    }

    /// The refusal of a `service add` carrying `json` as its service; empty when it is accepted.
    func refusal(_ json: String) -> String {
        do {
            _ = try decodedService(json)
            return ""
        } catch {
            return "\(error)"
        }
    }

    @Test func theSameServiceIsTheSameSpecFromTheFileAndFromARequest() throws {
        let fromYAML = try ConfigLoader.parse(yaml: Self.yamlServices, source: "t").balancer.services
        let fromJSON = try Self.jsonServices.map(decodedService)
        #expect(fromYAML == expectedServices)
        #expect(fromJSON == expectedServices)
    }

    /// What the state file writes, the schema reads back unchanged.
    @Test func anEncodedServiceReadsBackTheSame() throws {
        for service in expectedServices + exampleModel.balancer.services {
            #expect(try ServiceCodec.decodeService(try JSONReader.parse(ServiceCodec.encode(service).encoded), path: "s") == service)
        }
    }

    /// One field changed from a valid service; nil leaves the key out.
    struct Change: Sendable {
        var key: String
        var yaml: String?
        var json: String?
    }

    static let base = [
        Change(key: "name", yaml: "web", json: #""web""#),
        Change(key: "vip", yaml: "203.0.113.10", json: #""203.0.113.10""#),
        Change(key: "port", yaml: "80", json: "80"),
        Change(key: "backends", yaml: "[{ address: 198.18.1.11 }]", json: #"[{"address": "198.18.1.11"}]"#),
    ]

    static func service(_ changes: [Change]) -> (yaml: String, json: String) {
        var fields = base
        for change in changes {
            if let index = fields.firstIndex(where: { $0.key == change.key }) { fields[index] = change } else { fields.append(change) }
        }
        let yaml = fields.compactMap { field in field.yaml.map { "\(field.key): \($0)" } }.joined(separator: ", ")
        let json = fields.compactMap { field in field.json.map { "\"\(field.key)\": \($0)" } }.joined(separator: ", ")
        return ("interface: eth0\nservices:\n  - { \(yaml) }\n", "{\(json)}")
    }

    static func change(_ key: String, _ yaml: String?, _ json: String?) -> [Change] { [Change(key: key, yaml: yaml, json: json)] }

    struct BadField: Sendable, CustomTestStringConvertible {
        var changes: [Change]
        var path: String
        var reason: String
        var testDescription: String { "\(path): \(reason)" }
    }

    static func bad(_ changes: [Change], _ path: String, _ reason: String) -> BadField {
        BadField(changes: changes, path: path, reason: reason)
    }

    static let badFields: [BadField] = [
        bad(change("maglev_table_size", "65536", "65536"), "maglev_table_size", "must be a prime from 2 to 655373 (such as 65537), got 65536"),
        bad(change("maglev_table_size", "1", "1"), "maglev_table_size", "must be a prime from 2 to 655373 (such as 65537), got 1"),
        bad(change("maglev_table_size", #""251""#, #""251""#), "maglev_table_size",
         "must be an unquoted integer from 2 to 655373, got the string \"251\""),
        bad(change("maglev_table_size", "1.5", "1.5"), "maglev_table_size", "must be an integer from 2 to 655373, got \"1.5\""),
        bad(change("scheduler", "rr", #""rr""#) + change("maglev_table_size", "251", "251"), "maglev_table_size",
         "applies only to the maglev and sh schedulers, not rr"),
        bad(change("health", "{ type: tcp, interval: 2 }", #"{"type": "tcp", "interval": 2}"#), "health.interval",
         "needs a unit (ms, s, m or h), got 2 with none"),
        bad(change("health", "{ type: tcp, interval: 0s }", #"{"type": "tcp", "interval": "0s"}"#), "health.interval",
         "must be longer than zero, got 0s"),
        bad(change("health", "{ type: tcp, timeout: 1.5s }", #"{"type": "tcp", "timeout": "1.5s"}"#), "health.timeout",
         "must be a whole number with a unit ms, s, m or h (like 500ms or 2s), got \"1.5s\""),
        bad(change("health", "{ type: tcp, interval: 1s, timeout: 1s }", #"{"type": "tcp", "interval": "1s", "timeout": "1s"}"#),
         "health.timeout", "must be shorter than the interval (1s), got 1s"),
        bad(change("health", "{ type: tcp, interval_ms: 2000 }", #"{"type": "tcp", "interval_ms": 2000}"#), "health.interval_ms",
         "is not a known key (the field is interval, a duration with its unit such as \"2s\" or \"2000ms\"); "
            + "expected one of: type, port, interval, timeout, rise, fall, path, host, expect"),
        bad(change("health", "{ type: tcp, timeout_ms: 1000 }", #"{"type": "tcp", "timeout_ms": 1000}"#), "health.timeout_ms",
         "is not a known key (the field is timeout, a duration with its unit such as \"1s\" or \"1000ms\"); "
            + "expected one of: type, port, interval, timeout, rise, fall, path, host, expect"),
        bad(change("health", "{ type: tcp, retries: 3 }", #"{"type": "tcp", "retries": 3}"#), "health.retries",
         "is not a known key; expected one of: type, port, interval, timeout, rise, fall, path, host, expect"),
        bad(change("health", "{ type: icmp }", #"{"type": "icmp"}"#), "health.type", "must be one of tcp, http, dsr, none, got \"icmp\""),
        bad(change("health", "{ interval: 2s }", #"{"interval": "2s"}"#), "health.type", "is required"),
        bad(change("health", "{ type: tcp, rise: 0 }", #"{"type": "tcp", "rise": 0}"#), "health.rise", "must be an integer from 1 to 100, got 0"),
        bad(change("health", "{ type: tcp, fall: true }", #"{"type": "tcp", "fall": true}"#), "health.fall",
         "must be an integer from 1 to 100, got \"true\""),
        bad(change("health", "{ type: tcp, port: 0 }", #"{"type": "tcp", "port": 0}"#), "health.port", "must be an integer from 1 to 65535, got 0"),
        bad(change("port", nil, nil) + change("health", "{ type: tcp }", #"{"type": "tcp"}"#), "health.port",
         "is required when the service has no port (it takes all ports)"),
        bad(change("health", "[tcp]", #"["tcp"]"#), "health", "expected a mapping, got a list"),
        bad(change("health", "null", "null"), "health", "has no value; leave the key out for the default"),
        bad(change("port", "65536", "65536"), "port", "must be an integer from 1 to 65535, got 65536"),
        bad(change("port", #""80""#, #""80""#), "port", "must be an unquoted integer from 1 to 65535, got the string \"80\""),
        bad(change("port", "null", "null"), "port", "has no value; leave the key out for the default"),
        bad(change("protocol", "sctp", #""sctp""#), "protocol", "must be one of tcp, udp, got \"sctp\""),
        bad(change("scheduler", "roundrobin", #""roundrobin""#), "scheduler", "must be one of maglev, rr, wrr, lc, wlc, sh, got \"roundrobin\""),
        bad(change("announce", "bgp", #""bgp""#), "announce", "must be one of none, arp, got \"bgp\""),
        bad(change("name", #""bad name!""#, #""bad name!""#), "name", "may contain only letters, digits, '.', '_' and '-', got \"bad name!\""),
        bad(change("name", "{ first: web }", #"{"first": "web"}"#), "name", "expected a single value, got a mapping"),
        bad(change("name", nil, nil), "name", "is required"),
        bad(change("vip", "203.0.113.256", #""203.0.113.256""#), "vip", "'203.0.113.256' is not an IPv4 address: part 4 (256) is above 255"),
        bad(change("vip", "224.0.0.10", #""224.0.0.10""#), "vip", "must be a unicast address, got 224.0.0.10 (multicast)"),
        bad(change("backends", "[]", "[]"), "backends", "must list at least one backend"),
        bad(change("backends", nil, nil), "backends", "is required"),
        bad(change("backends", "{ address: 198.18.1.11 }", #"{"address": "198.18.1.11"}"#), "backends", "expected a list, got a mapping"),
        bad(change("backends", "[{ address: 198.18.1.11, weight: 70000 }]", #"[{"address": "198.18.1.11", "weight": 70000}]"#),
         "backends[0].weight", "must be an integer from 0 to 65535, got 70000"),
        bad(change("backends", #"[{ address: 198.18.1.11, weight: "1" }]"#, #"[{"address": "198.18.1.11", "weight": "1"}]"#),
         "backends[0].weight", "must be an unquoted integer from 0 to 65535, got the string \"1\""),
        bad(change("backends", "[{ address: 198.18.1.11, mac: 02:00:00:00:01 }]", #"[{"address": "198.18.1.11", "mac": "02:00:00:00:01"}]"#),
         "backends[0].mac", "'02:00:00:00:01' is not a MAC address: expected six octets, found 5"),
        bad(change("backends", #"[{ address: 198.18.1.11, mac: "ff:ff:ff:ff:ff:ff" }]"#,
                #"[{"address": "198.18.1.11", "mac": "ff:ff:ff:ff:ff:ff"}]"#),
         "backends[0].mac", "must be a unicast MAC address other than 00:00:00:00:00:00, got ff:ff:ff:ff:ff:ff"),
        bad(change("backends", "[{ weight: 2 }]", #"[{"weight": 2}]"#), "backends[0].address", "is required"),
        bad(change("backends", "[{ address: 203.0.113.10 }]", #"[{"address": "203.0.113.10"}]"#), "backends[0].address",
         "must not be the VIP itself (203.0.113.10)"),
        bad(change("backends", "[{ address: 2001:db8::12 }]", #"[{"address": "2001:db8::12"}]"#), "backends[0].address",
         "must be IPv4 like the VIP 203.0.113.10, got 2001:db8::12"),
        bad(change("backends", "[{ address: 198.18.1.11 }, { address: 198.18.1.11 }]",
                #"[{"address": "198.18.1.11"}, {"address": "198.18.1.11"}]"#),
         "backends[1].address", "198.18.1.11 is listed already as backends[0]"),
        bad(change("backends", "[{ address: 198.18.1.11, wieght: 2 }]", #"[{"address": "198.18.1.11", "wieght": 2}]"#),
         "backends[0].wieght", "is not a known key (did you mean weight?); expected one of: address, weight, mac"),
        bad(change("prot", "80", "80"), "prot",
         "is not a known key (did you mean port?); expected one of: name, vip, port, protocol, scheduler, maglev_table_size, health, on_all_down, backends, announce"),
    ]

    @Test(arguments: badFields)
    func aBadFieldIsRefusedByBothWithTheSameReason(field: BadField) {
        let (yaml, json) = Self.service(field.changes)
        #expect(problems(yaml) == ["services[0].\(field.path): \(field.reason)"], "\(yaml)")
        #expect(refusal(json) == "service.\(field.path): \(field.reason)", "\(json)")
    }

    struct BadBackend: Sendable, CustomTestStringConvertible {
        var yaml: String
        var json: String
        var path: String
        var reason: String
        var testDescription: String { "\(path): \(reason)" }
    }

    static let badBackends = [
        BadBackend(yaml: "{ address: 198.18.1.300 }", json: #"{"address": "198.18.1.300"}"#, path: "address",
                   reason: "'198.18.1.300' is not an IPv4 address: part 4 (300) is above 255"),
        BadBackend(yaml: "{ address: 224.0.0.1 }", json: #"{"address": "224.0.0.1"}"#, path: "address",
                   reason: "must be a unicast address, got 224.0.0.1 (multicast)"),
        BadBackend(yaml: "{ weight: 2 }", json: #"{"weight": 2}"#, path: "address", reason: "is required"),
        BadBackend(yaml: "{ address: 198.18.1.12, weight: 70000 }", json: #"{"address": "198.18.1.12", "weight": 70000}"#,
                   path: "weight", reason: "must be an integer from 0 to 65535, got 70000"),
        BadBackend(yaml: "{ address: 198.18.1.12, weight: -1 }", json: #"{"address": "198.18.1.12", "weight": -1}"#,
                   path: "weight", reason: "must be an integer from 0 to 65535, got -1"),
        BadBackend(yaml: "{ address: 198.18.1.12, weight: 1.5 }", json: #"{"address": "198.18.1.12", "weight": 1.5}"#,
                   path: "weight", reason: "must be an integer from 0 to 65535, got \"1.5\""),
        BadBackend(yaml: #"{ address: 198.18.1.12, mac: "01:00:5e:00:00:01" }"#,
                   json: #"{"address": "198.18.1.12", "mac": "01:00:5e:00:00:01"}"#, path: "mac",
                   reason: "must be a unicast MAC address other than 00:00:00:00:00:00, got 01:00:5e:00:00:01"),
        BadBackend(yaml: "{ address: 198.18.1.12, mac: ~ }", json: #"{"address": "198.18.1.12", "mac": null}"#, path: "mac",
                   reason: "has no value; leave the key out for the default"),
        BadBackend(yaml: "{ address: 198.18.1.12, colour: red }", json: #"{"address": "198.18.1.12", "colour": "red"}"#,
                   path: "colour", reason: "is not a known key; expected one of: address, weight, mac"),
    ]

    /// `backend add` carries a backend's fields beside `command` and `service`, read as an entry of the
    /// file's `backends` is.
    @Test(arguments: badBackends)
    func aBadBackendIsRefusedByBothWithTheSameReason(backend: BadBackend) {
        let (yaml, _) = Self.service(Self.change("backends", "[\(backend.yaml)]", nil))
        #expect(problems(yaml) == ["services[0].backends[0].\(backend.path): \(backend.reason)"], "\(yaml)")
        #expect(throws: ControlError("\(backend.path): \(backend.reason)")) {
            try ServiceCodec.decodeBackend(try JSONReader.parse(backend.json), path: "")
        }
    }

    /// `backend weight` takes the weight alone, by the same rule.
    @Test func aWeightAloneHasTheBackendsRule() throws {
        #expect(try ServiceCodec.decodeWeight(.number(7), path: "weight") == 7)
        #expect(throws: ControlError("weight: must be an integer from 0 to 65535, got 70000")) {
            try ServiceCodec.decodeWeight(.number(70_000), path: "weight")
        }
        #expect(throws: ControlError("weight: must be an unquoted integer from 0 to 65535, got the string \"2\"")) {
            try ServiceCodec.decodeWeight(.string("2"), path: "weight")
        }
    }

    /// A request, like the file, has every problem reported at once.
    @Test func everyProblemOfAServiceIsReported() {
        let (yaml, json) = Self.service(Self.change("port", "0", "0") + Self.change("scheduler", "fastest", #""fastest""#)
            + Self.change("backends", #"[{ address: 198.18.1.300, weight: "heavy" }]"#, #"[{"address": "198.18.1.300", "weight": "heavy"}]"#))
        let expected = [
            "port: must be an integer from 1 to 65535, got 0",
            "scheduler: must be one of maglev, rr, wrr, lc, wlc, sh, got \"fastest\"",
            "backends[0].address: '198.18.1.300' is not an IPv4 address: part 4 (300) is above 255",
            "backends[0].weight: must be an unquoted integer from 0 to 65535, got the string \"heavy\"",
        ]
        // The file lists them in file order, a request in the order the schema reads them.
        #expect(problems(yaml).sorted() == expected.map { "services[0].\($0)" }.sorted(), "\(problems(yaml))")
        #expect(refusal(json).components(separatedBy: "; ").sorted() == expected.map { "service.\($0)" }.sorted(), "\(refusal(json))")
    }
}
