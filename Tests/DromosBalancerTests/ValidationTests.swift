import Testing
import DromosBalancer
import DromosWire

private func ip(_ text: String) -> IPAddress { try! IPAddress(parsing: text) }

private func web(port: UInt16? = 80, backends: [BackendSpec]? = nil, tableSize: Int = 65_537,
                 health: HealthCheckSpec? = nil, name: String = "web") -> ServiceSpec {
    ServiceSpec(
        name: name, key: ServiceKey(vip: ip("203.0.113.10"), transport: .tcp, port: port),
        maglevTableSize: tableSize, health: health,
        backends: backends ?? [BackendSpec(address: ip("198.18.1.11")), BackendSpec(address: ip("198.18.1.12"))])
}

private func reasons(_ problems: [FieldProblem]) -> [String] { problems.map(\.description) }

@Suite struct ServiceValidationTests {
    @Test func aSoundServiceHasNoProblems() {
        #expect(web().problems().isEmpty)
        #expect(web(port: nil, health: HealthCheckSpec(type: .tcp, port: 8080)).problems().isEmpty)
        #expect(web(tableSize: 2).problems().isEmpty)
        #expect(web(tableSize: ServiceSpec.maximumMaglevTableSize).problems().isEmpty)
    }

    @Test(arguments: [
        ("", "name: must not be empty"),
        (String(repeating: "a", count: 65), "name: must be at most 64 characters, got 65"),
        ("my web", "name: may contain only letters, digits, '.', '_' and '-', got \"my web\""),
        ("wéb", "name: may contain only letters, digits, '.', '_' and '-', got \"wéb\""),
    ])
    func rejectsNames(name: String, problem: String) {
        #expect(reasons(web(name: name).problems()) == [problem])
    }

    @Test func acceptsNamesOfTheAllowedCharacters() {
        #expect(web(name: "Web-1.prod_eu").problems().isEmpty)
        #expect(web(name: String(repeating: "a", count: 64)).problems().isEmpty)
    }

    @Test(arguments: [1_000, 65_536, 1, 0, -7, 655_379])
    func rejectsTableSizesThatAreNotPrimeOrOutOfRange(size: Int) {
        #expect(reasons(web(tableSize: size).problems())
            == ["maglev_table_size: must be a prime from 2 to 655373 (such as 65537), got \(size)"])
    }

    @Test func needsABackend() {
        #expect(reasons(web(backends: []).problems()) == ["backends: must list at least one backend"])
    }

    @Test func namesTheFirstOccurrenceOfARepeatedBackend() {
        let backends = ["198.18.1.11", "198.18.1.12", "198.18.1.13", "198.18.1.12", "198.18.1.12"]
            .map { BackendSpec(address: ip($0)) }
        #expect(reasons(web(backends: backends).problems()) == [
            "backends[3].address: 198.18.1.12 is listed already as backends[1]",
            "backends[4].address: 198.18.1.12 is listed already as backends[1]",
        ])
    }

    @Test func backendsMustBeOfTheVIPsFamily() {
        let service = web(backends: [BackendSpec(address: ip("198.18.1.11")), BackendSpec(address: ip("2001:db8::11"))])
        #expect(reasons(service.problems())
            == ["backends[1].address: must be IPv4 like the VIP 203.0.113.10, got 2001:db8::11"])
        let six = ServiceSpec(name: "six", key: ServiceKey(vip: ip("2001:db8::10"), transport: .udp, port: nil),
                              backends: [BackendSpec(address: ip("198.18.1.11"))])
        #expect(reasons(six.problems()) == ["backends[0].address: must be IPv6 like the VIP 2001:db8::10, got 198.18.1.11"])
    }

    @Test func aBadWeightDoesNotHideTheAddressChecks() {
        let backends = [BackendSpec(address: ip("198.18.1.11")), BackendSpec(address: ip("2001:db8::11"), weight: -1)]
        #expect(reasons(web(backends: backends).problems()) == [
            "backends[1].weight: must be an integer from 0 to 65535, got -1",
            "backends[1].address: must be IPv4 like the VIP 203.0.113.10, got 2001:db8::11",
        ])
    }

    @Test func aBackendIsNotTheVIP() {
        #expect(reasons(web(backends: [BackendSpec(address: ip("203.0.113.10"))]).problems())
            == ["backends[0].address: must not be the VIP itself (203.0.113.10)"])
    }

    @Test(arguments: [
        ("0.0.0.0", "unspecified"), ("255.255.255.255", "broadcast"), ("127.0.0.1", "loopback"),
        ("224.0.0.1", "multicast"), ("239.255.255.250", "multicast"),
        ("::", "unspecified"), ("::1", "loopback"), ("ff02::1", "multicast"),
    ])
    func backendsAndVIPsAreUnicast(address: String, kind: String) {
        let reason = "must be a unicast address, got \(ip(address)) (\(kind))"
        let backend = BackendSpec(address: ip(address))
        #expect(reasons(backend.problems()) == ["address: \(reason)"])
        let service = ServiceSpec(name: "s", key: ServiceKey(vip: ip(address), transport: .tcp, port: 80),
                                  backends: [BackendSpec(address: ip(address.contains(":") ? "2001:db8::1" : "10.0.0.1"))])
        #expect(reasons(service.problems()) == ["vip: \(reason)"])
    }

    @Test func aBackendThatIsNotUnicastIsNotAlsoComparedWithTheVIP() {
        #expect(reasons(web(backends: [BackendSpec(address: ip("ff02::1"))]).problems())
            == ["backends[0].address: must be a unicast address, got ff02::1 (multicast)"])
    }

    @Test func weightsRangeFromZeroToTheMaximum() {
        let weights = [-1, 0, 65_535, 65_536]
        let service = web(backends: weights.enumerated().map { BackendSpec(address: ip("198.18.1.\($0 + 1)"), weight: $1) })
        #expect(reasons(service.problems()) == [
            "backends[0].weight: must be an integer from 0 to 65535, got -1",
            "backends[3].weight: must be an integer from 0 to 65535, got 65536",
        ])
    }

    @Test func aBackendMACIsOneStation() throws {
        let backends = [
            BackendSpec(address: ip("198.18.1.11"), mac: .broadcast),
            BackendSpec(address: ip("198.18.1.12"), mac: try MACAddress(parsing: "01:00:5e:00:00:01")),
            BackendSpec(address: ip("198.18.1.13"), mac: .zero),
            BackendSpec(address: ip("198.18.1.14"), mac: try MACAddress(parsing: "02:00:00:00:01:14")),
        ]
        #expect(reasons(web(backends: backends).problems()) == [
            "backends[0].mac: must be a unicast MAC address other than 00:00:00:00:00:00, got ff:ff:ff:ff:ff:ff",
            "backends[1].mac: must be a unicast MAC address other than 00:00:00:00:00:00, got 01:00:5e:00:00:01",
            "backends[2].mac: must be a unicast MAC address other than 00:00:00:00:00:00, got 00:00:00:00:00:00",
        ])
    }

    @Test func aServicePortIsNotZero() {
        #expect(reasons(web(port: 0).problems()) == ["port: must be from 1 to 65535, got 0"])
    }
}

@Suite struct HealthValidationTests {
    @Test func defaultsAreSound() {
        #expect(HealthCheckSpec(type: .tcp).problems().isEmpty)
    }

    @Test func timesMustBePositiveAndTheTimeoutShorterThanTheInterval() {
        #expect(reasons(HealthCheckSpec(type: .tcp, intervalMilliseconds: 0).problems())
            == ["interval: must be longer than zero, got 0s"])
        #expect(reasons(HealthCheckSpec(type: .tcp, timeoutMilliseconds: 0).problems())
            == ["timeout: must be longer than zero, got 0s"])
        #expect(reasons(HealthCheckSpec(type: .tcp, intervalMilliseconds: 2_000, timeoutMilliseconds: 2_000).problems())
            == ["timeout: must be shorter than the interval (2s), got 2s"])
        #expect(reasons(HealthCheckSpec(type: .tcp, intervalMilliseconds: 1_000, timeoutMilliseconds: 1_500).problems())
            == ["timeout: must be shorter than the interval (1s), got 1500ms"])
        #expect(HealthCheckSpec(type: .tcp, intervalMilliseconds: 1_000, timeoutMilliseconds: 999).problems().isEmpty)
    }

    @Test func riseAndFallAreCountsUpToAHundred() {
        #expect(reasons(HealthCheckSpec(type: .tcp, rise: 0, fall: 101).problems()) == [
            "rise: must be an integer from 1 to 100, got 0",
            "fall: must be an integer from 1 to 100, got 101",
        ])
        #expect(HealthCheckSpec(type: .tcp, rise: 1, fall: 100).problems().isEmpty)
    }

    @Test func aCheckOnAnAllPortsServiceNeedsItsOwnPort() {
        #expect(reasons(web(port: nil, health: HealthCheckSpec(type: .tcp)).problems())
            == ["health.port: is required when the service has no port (it takes all ports)"])
        #expect(web(port: 80, health: HealthCheckSpec(type: .tcp)).problems().isEmpty)
        #expect(reasons(web(health: HealthCheckSpec(type: .tcp, port: 0)).problems())
            == ["health.port: must be from 1 to 65535, got 0"])
    }
}

@Suite struct BalancerValidationTests {
    @Test func putsServiceProblemsUnderTheirIndex() {
        let broken = web(port: 443, backends: [BackendSpec(address: ip("198.18.1.11"), weight: 70_000)], name: "api")
        #expect(reasons(BalancerSpec(services: [web(), broken]).problems())
            == ["services[1].backends[0].weight: must be an integer from 0 to 65535, got 70000"])
    }

    @Test func serviceNamesAreUnique() {
        let services = [web(), web(port: 443), web(port: 8080, name: "api"), web(port: 8443)]
        #expect(reasons(BalancerSpec(services: services).problems()) == [
            "services[1].name: \"web\" is the name of services[0] already",
            "services[3].name: \"web\" is the name of services[0] already",
        ])
    }

    @Test func aKeyBelongsToOneService() {
        let services = [web(name: "a"), web(name: "b"), web(port: nil, name: "c"), web(port: nil, name: "d")]
        #expect(reasons(BalancerSpec(services: services).problems()) == [
            "services[1]: takes the same VIP, protocol and port (tcp 203.0.113.10:80) as services[0]",
            "services[3]: takes the same VIP, protocol and port (tcp 203.0.113.10:*) as services[2]",
        ])
    }

    @Test func aPortSpecificServiceAndAnAllPortsServiceShareAVIP() {
        let udp = ServiceSpec(name: "udp", key: ServiceKey(vip: ip("203.0.113.10"), transport: .udp, port: 80),
                              backends: [BackendSpec(address: ip("198.18.1.11"))])
        #expect(BalancerSpec(services: [web(name: "specific"), web(port: nil, health: nil, name: "rest"), udp]).problems().isEmpty)
    }

    @Test func conflictsKeepTheIndexesOfServicesThatCouldNotBeRead() {
        let key = ServiceKey(vip: ip("203.0.113.10"), transport: .tcp, port: 80)
        #expect(reasons(BalancerSpec.conflicts(names: ["a", nil, "a"], keys: [nil, key, key])) == [
            "services[2].name: \"a\" is the name of services[0] already",
            "services[2]: takes the same VIP, protocol and port (tcp 203.0.113.10:80) as services[1]",
        ])
    }

    @Test func flowSettingsAreChecked() {
        let flows = FlowTableSpec(capacity: 0, tcpEstablishedTimeoutMilliseconds: 0, tcpClosingTimeoutMilliseconds: -1,
                                  udpTimeoutMilliseconds: 0, fragmentTimeoutMilliseconds: 0)
        #expect(reasons(BalancerSpec(services: [], flows: flows).problems()) == [
            "flows.capacity: must be an integer from 1 to 67108864, got 0",
            "flows.tcp_timeout: must be longer than zero, got 0s",
            "flows.tcp_fin_timeout: must be longer than zero, got -1ms",
            "flows.udp_timeout: must be longer than zero, got 0s",
            "flows.fragment_timeout: must be longer than zero, got 0s",
        ])
        #expect(reasons(FlowTableSpec(capacity: 67_108_865).problems()) == ["capacity: must be an integer from 1 to 67108864, got 67108865"])
        #expect(FlowTableSpec(capacity: 67_108_864).problems().isEmpty)
        #expect(FlowTableSpec(capacity: 1).problems().isEmpty)
    }
}

@Suite struct ServiceDraftTests {
    @Test func skipsOnlyTheChecksThatNeedAMissingPart() {
        var draft = ServiceDraft(name: "bad name", vip: nil, transport: .tcp, port: 80, scheduler: .maglev,
                                 maglevTableSize: 4, health: nil,
                                 backends: [BackendSpec(address: ip("198.18.1.11")), nil, BackendSpec(address: ip("198.18.1.11"))])
        #expect(reasons(draft.problems()) == [
            "name: may contain only letters, digits, '.', '_' and '-', got \"bad name\"",
            "maglev_table_size: must be a prime from 2 to 655373 (such as 65537), got 4",
            "backends[2].address: 198.18.1.11 is listed already as backends[0]",
        ])
        #expect(draft.key == nil && draft.spec == nil)
        draft.port = nil
        draft.health = HealthCheckSpec(type: .tcp)
        #expect(!reasons(draft.problems()).contains { $0.hasPrefix("health.port") })
    }

    @Test func aWholeDraftIsTheService() {
        #expect(ServiceDraft(web()).spec == web())
    }
}

@Suite struct FieldProblemTests {
    @Test func joinsPathsUnderAPrefix() {
        #expect(FieldProblem(path: "weight", reason: "r").within("backends[1]").path == "backends[1].weight")
        #expect(FieldProblem(path: "[2].address", reason: "r").within("backends").path == "backends[2].address")
        #expect(FieldProblem(path: "", reason: "r").within("flows").path == "flows")
        #expect(FieldProblem(path: "name", reason: "r").within("").path == "name")
        #expect(FieldProblem(path: "", reason: "r").description == "r")
    }
}

@Suite struct DurationTextTests {
    @Test(arguments: [("500ms", 500), ("2s", 2_000), ("1m", 60_000), ("1h", 3_600_000), ("0s", 0), ("90s", 90_000)])
    func parses(text: String, milliseconds: Int) throws {
        #expect(try DurationText.parse(text) == milliseconds)
    }

    @Test(arguments: [
        ("2", "needs a unit (ms, s, m or h), got 2 with none"),
        ("-1s", "must not be negative, got \"-1s\""),
        ("1.5s", "must be a whole number with a unit ms, s, m or h (like 500ms or 2s), got \"1.5s\""),
        ("1m30s", "must be a whole number with a unit ms, s, m or h (like 500ms or 2s), got \"1m30s\""),
        ("2 s", "must be a whole number with a unit ms, s, m or h (like 500ms or 2s), got \"2 s\""),
        ("2d", "must be a whole number with a unit ms, s, m or h (like 500ms or 2s), got \"2d\""),
        ("s", "must be a whole number with a unit ms, s, m or h (like 500ms or 2s), got \"s\""),
        ("", "must be a whole number with a unit ms, s, m or h (like 500ms or 2s), got \"\""),
        ("2S", "must be a whole number with a unit ms, s, m or h (like 500ms or 2s), got \"2S\""),
        ("99999999999999999999ms", "is too long, got \"99999999999999999999ms\""),
        ("9999999999999999h", "is too long, got \"9999999999999999h\""),
    ])
    func refuses(text: String, reason: String) {
        #expect(throws: DurationText.ParseError(reason: reason)) { try DurationText.parse(text) }
    }

    @Test func formatsInTheLargestExactUnit() {
        #expect(DurationText.format(milliseconds: 900_000) == "15m")
        #expect(DurationText.format(milliseconds: 90_000) == "90s")
        #expect(DurationText.format(milliseconds: 7_200_000) == "2h")
        #expect(DurationText.format(milliseconds: 1_500) == "1500ms")
        #expect(DurationText.format(milliseconds: 0) == "0s")
    }
}
