import Testing
import DromosBalancer
import DromosWire

@Suite struct DecideTests {
    @Test func forwardsANewFlowRewritingOnlyTheMACs() throws {
        let harness = try Harness([webService()])
        let frame = TestFrames.tcp(clientFlow(1))
        let (decision, sent) = harness.send(frame)
        #expect(decision.verdict == .forward)
        #expect(decision.reason == .ok)
        #expect(decision.isNewFlow)
        #expect(harness.table.serviceName(decision.serviceIndex) == "web")
        let backendMAC = try #require(harness.table.backendMAC(decision.backendIndex))
        #expect(Array(sent[0..<6]) == backendMAC.octets)
        #expect(Array(sent[6..<12]) == TestFrames.balancerMAC.octets)
        #expect(Array(sent[12...]) == Array(frame[12...]))
    }

    @Test func keepsAFlowOnItsBackend() throws {
        let harness = try Harness([webService(scheduler: .rr)])
        let flow = clientFlow(7)
        let first = harness.send(TestFrames.tcp(flow)).decision
        for flags in [TCPFlag.ack, TCPFlag.ack, TCPFlag.ack | TCPFlag.fin] {
            let next = harness.send(TestFrames.tcp(flow, flags: flags, payload: 100)).decision
            #expect(next.backendIndex == first.backendIndex)
            #expect(!next.isNewFlow)
        }
    }

    @Test func leavesWhatIsNotOursToTheKernel() throws {
        let harness = try Harness([webService()])
        #expect(harness.send(TestFrames.tcp(clientFlow(1, to: address("198.18.9.9")))).decision == Decision(.pass, .noService))
        #expect(harness.send(TestFrames.tcp(clientFlow(1, port: 443))).decision == Decision(.pass, .noService))
        #expect(harness.send(TestFrames.udp(FlowKey(source: address("198.51.100.7"), destination: vip, ipProtocol: 17,
                                                    sourcePort: 5000, destinationPort: 80))).decision == Decision(.pass, .noService))
        var lldp = TestFrames.tcp(clientFlow(1))
        lldp[12] = 0x88
        lldp[13] = 0xcc
        #expect(harness.send(lldp).decision == Decision(.pass, .notIP))
        #expect(harness.send([1, 2, 3]).decision == Decision(.pass, .malformed, parseStatus: .runtFrame))
    }

    @Test func dropsWhatIsOursButUnusable() throws {
        let harness = try Harness([webService()])
        let truncated = Array(TestFrames.tcp(clientFlow(1)).prefix(40))
        var cut = truncated
        cut[16] = 0
        cut[17] = 26
        #expect(harness.send(cut).decision == Decision(.drop, .malformed, parseStatus: .truncatedTCP))
        #expect(harness.send(cut).decision.reasonName == "truncated-tcp")
        #expect(harness.send(TestFrames.icmpEcho(FlowKey(source: address("198.51.100.7"), destination: vip, ipProtocol: 1)))
            .decision == Decision(.drop, .unsupportedProtocol))
        let snapped = harness.send(TestFrames.tcp(clientFlow(1)), wireLength: 1514).decision
        #expect(snapped.verdict == .drop)
        #expect(snapped.reason == .truncatedCapture)
    }

    @Test func prefersThePortServiceOverTheAllPortsOne() throws {
        var allPorts = webService(scheduler: .rr, weights: [1], port: nil)
        allPorts.name = "all"
        allPorts.backends[0].address = address("198.18.2.1")
        let harness = try Harness([webService(weights: [1]), allPorts])
        #expect(harness.backend(TestFrames.tcp(clientFlow(1, port: 80))) == address("198.18.1.11"))
        #expect(harness.backend(TestFrames.tcp(clientFlow(1, port: 8080))) == address("198.18.2.1"))
    }

    @Test func forwardsIPv6() throws {
        let vip6 = address("2001:db8:ffff::10")
        let service = ServiceSpec(name: "v6", key: ServiceKey(vip: vip6, transport: .tcp, port: 443),
                                  backends: [BackendSpec(address: address("2001:db8:1::11"), mac: mac("02:00:00:00:06:11"))])
        let harness = try Harness([service])
        let flow = FlowKey(source: address("2001:db8:100::7"), destination: vip6, ipProtocol: 6, sourcePort: 40000, destinationPort: 443)
        let (decision, sent) = harness.send(TestFrames.tcp(flow))
        #expect(decision.verdict == .forward)
        #expect(Array(sent[0..<6]) == mac("02:00:00:00:06:11").octets)
    }
}

@Suite struct SchedulerTests {
    /// Agreement between balancers rests on the pinned hash values in `StableHashTests` and
    /// `MaglevTableTests`; here, that the worker spreads by the table.
    @Test func maglevSpreadsFlowsEvenly() throws {
        let harness = try Harness([webService(weights: [1, 1, 1, 1])])
        var counts: [IPAddress: Int] = [:]
        for number in 0..<4_000 {
            let chosen = try #require(harness.backend(TestFrames.tcp(clientFlow(number))))
            counts[chosen, default: 0] += 1
        }
        #expect(counts.count == 4)
        #expect(counts.values.allSatisfy { $0 > 850 && $0 < 1_150 }, "\(counts)")
    }

    @Test func roundRobinCyclesInAddressOrder() throws {
        let harness = try Harness([webService(scheduler: .rr)])
        let chosen = (0..<6).map { harness.backend(TestFrames.tcp(clientFlow($0)))! }
        #expect(chosen == ["198.18.1.11", "198.18.1.12", "198.18.1.13", "198.18.1.11", "198.18.1.12", "198.18.1.13"].map(address))
    }

    @Test func weightedRoundRobinInterleavesByWeight() throws {
        let harness = try Harness([webService(scheduler: .wrr, weights: [3, 1])])
        let chosen = (0..<400).map { harness.backend(TestFrames.tcp(clientFlow($0)))! }
        // IPVS's sequence for weights 3 and 1.
        #expect(Array(chosen.prefix(8)) == [".11", ".11", ".11", ".12", ".11", ".11", ".11", ".12"].map { address("198.18.1" + $0) })
        #expect(chosen.filter { $0 == address("198.18.1.11") }.count == 300)
    }

    @Test func leastConnectionsFillsTheEmptiestBackend() throws {
        let harness = try Harness([webService(scheduler: .lc, weights: [1, 1])])
        #expect(harness.backend(TestFrames.tcp(clientFlow(1))) == address("198.18.1.11"))
        #expect(harness.backend(TestFrames.tcp(clientFlow(2))) == address("198.18.1.12"))
        #expect(harness.backend(TestFrames.tcp(clientFlow(3))) == address("198.18.1.11"))
        // Resets move .11's two flows to the closing class (2 min); .12's lone SYN times out after 60 s.
        _ = harness.send(TestFrames.tcp(clientFlow(1), flags: TCPFlag.rst))
        _ = harness.send(TestFrames.tcp(clientFlow(3), flags: TCPFlag.rst))
        harness.now += 61_000
        #expect(harness.worker.expire(now: harness.now, budget: 100) == 1)
        #expect(harness.backend(TestFrames.tcp(clientFlow(4))) == address("198.18.1.12"))
        // Then the closed flows go too, and .11 is the emptier one.
        harness.now += 60_000
        #expect(harness.worker.expire(now: harness.now, budget: 100) == 2)
        #expect(harness.backend(TestFrames.tcp(clientFlow(5))) == address("198.18.1.11"))
        let active = harness.worker.statistics().backends.map(\.activeFlows)
        #expect(active == [1, 1])
    }

    @Test func weightedLeastConnectionsSharesByWeight() throws {
        let harness = try Harness([webService(scheduler: .wlc, weights: [2, 1])])
        let chosen = (0..<300).map { harness.backend(TestFrames.tcp(clientFlow($0)))! }
        #expect(chosen.filter { $0 == address("198.18.1.11") }.count == 200)
    }

    @Test func sourceHashingKeepsAClientOnOneBackend() throws {
        let harness = try Harness([webService(scheduler: .sh)])
        var perClient: [IPAddress: Set<IPAddress>] = [:]
        for number in 0..<2_000 {
            let flow = clientFlow(number)
            perClient[flow.source, default: []].insert(harness.backend(TestFrames.tcp(flow))!)
        }
        #expect(perClient.count == 250)
        #expect(perClient.values.allSatisfy { $0.count == 1 })
        #expect(Set(perClient.values.map { $0.first! }).count == 3)
    }
}
