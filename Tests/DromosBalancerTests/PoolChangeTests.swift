import Testing
import DromosBalancer
import DromosWire

@Suite struct PoolChangeTests {
    @Test func aDrainingBackendKeepsItsFlowsAndGetsNoNewOnes() throws {
        let harness = try Harness([webService(weights: [1, 1, 1])])
        var flowsOn: [IPAddress: [FlowKey]] = [:]
        for number in 0..<300 {
            let flow = clientFlow(number)
            flowsOn[harness.backend(TestFrames.tcp(flow))!, default: []].append(flow)
        }
        try harness.publish([webService(weights: [0, 1, 1])])
        let drained = address("198.18.1.11")
        for flow in try #require(flowsOn[drained]) {
            let decision = harness.send(TestFrames.tcp(flow, flags: TCPFlag.ack)).decision
            #expect(harness.table.backendAddress(decision.backendIndex) == drained)
            #expect(!decision.isNewFlow)
        }
        for number in 1_000..<1_300 {
            #expect(harness.backend(TestFrames.tcp(clientFlow(number))) != drained)
        }
    }

    /// A client that reuses its port for a new connection while the old one is closing (TIME_WAIT on the
    /// server's side) gets a fresh choice: a drained backend gets no new connection through port reuse.
    @Test func aNewConnectionOnTheTupleOfAClosingOneIsScheduledAfresh() throws {
        let harness = try Harness([webService(weights: [1, 1, 1])])
        let drained = address("198.18.1.11")
        let flows = (0..<300).map { clientFlow($0) }.filter { harness.backend(TestFrames.tcp($0)) == drained }
        try #require(!flows.isEmpty)
        for flow in flows { _ = harness.send(TestFrames.tcp(flow, flags: TCPFlag.fin | TCPFlag.ack)) }
        try harness.publish([webService(weights: [0, 1, 1])])
        for flow in flows {
            let established = harness.send(TestFrames.tcp(flow, flags: TCPFlag.ack)).decision
            #expect(harness.table.backendAddress(established.backendIndex) == drained, "a closing flow's last ACKs stay")
            let reused = harness.send(TestFrames.tcp(flow, flags: TCPFlag.syn)).decision
            #expect(reused.isNewFlow && harness.table.backendAddress(reused.backendIndex) != drained)
        }
        // A SYN retransmitted within a connection that is not closing keeps its backend.
        let open = clientFlow(5_000)
        let first = harness.backend(TestFrames.tcp(open))
        #expect(harness.backend(TestFrames.tcp(open)) == first)
    }

    @Test func flowsOfARemovedBackendStartOverElsewhereAndOthersStay() throws {
        let harness = try Harness([webService(weights: [1, 1, 1])])
        var before: [FlowKey: IPAddress] = [:]
        for number in 0..<300 {
            let flow = clientFlow(number)
            before[flow] = harness.backend(TestFrames.tcp(flow))
        }
        var smaller = webService(weights: [1, 1, 1])
        let removed = smaller.backends.removeFirst().address
        try harness.publish([smaller])
        for (flow, backend) in before {
            let decision = harness.send(TestFrames.tcp(flow, flags: TCPFlag.ack)).decision
            let now = harness.table.backendAddress(decision.backendIndex)
            if backend == removed {
                #expect(now != removed)
                #expect(decision.isNewFlow)
            } else {
                #expect(now == backend)
                #expect(!decision.isNewFlow)
            }
        }
    }

    @Test func aBackendMarkedDownLosesItsFlows() throws {
        let service = webService(weights: [1, 1])
        let harness = try Harness([service])
        let flows = (0..<100).map { clientFlow($0) }
        let first = flows.map { harness.backend(TestFrames.tcp($0))! }
        let down = BackendKey(service: service.key, address: address("198.18.1.11"))
        try harness.publish([service], states: [down: BackendState(isUp: false)])
        for flow in flows {
            #expect(harness.backend(TestFrames.tcp(flow, flags: TCPFlag.ack)) == address("198.18.1.12"))
        }
        #expect(first.contains(address("198.18.1.11")))
    }

    @Test func withoutAUsableBackendFramesAreDropped() throws {
        var noMAC = webService(weights: [1])
        noMAC.backends[0].mac = nil
        let harness = try Harness([noMAC])
        #expect(harness.send(TestFrames.tcp(clientFlow(1))).decision.verdict == .drop)
        #expect(harness.send(TestFrames.tcp(clientFlow(1))).decision.reason == .noBackend)
        // Resolution found a MAC: the backend takes flows.
        let resolved = BackendKey(service: noMAC.key, address: noMAC.backends[0].address)
        try harness.publish([noMAC], states: [resolved: BackendState(isUp: true, mac: mac("02:00:00:00:09:09"))])
        let (decision, sent) = harness.send(TestFrames.tcp(clientFlow(1)))
        #expect(decision.verdict == .forward)
        #expect(Array(sent[0..<6]) == mac("02:00:00:00:09:09").octets)
        try harness.publish([webService(weights: [0, 0])])
        #expect(harness.send(TestFrames.tcp(clientFlow(2))).decision.reason == .noBackend)
    }

    /// The publisher's generation numbers are not trusted: a table republished under the same number
    /// must not make flows read stale backend indexes.
    @Test func aRepeatedGenerationNumberDoesNotConfuseFlows() throws {
        let harness = try Harness([webService(scheduler: .rr, weights: [1, 1, 1])])
        var before: [FlowKey: IPAddress] = [:]
        for number in 0..<30 { before[clientFlow(number)] = harness.backend(TestFrames.tcp(clientFlow(number))) }
        var changed = webService(scheduler: .rr, weights: [1, 1, 1])
        changed.backends.removeFirst()
        changed.backends.append(BackendSpec(address: address("198.18.1.14"), mac: mac("02:00:00:00:01:14")))
        try harness.publish([changed], generation: harness.table.generation)
        for (flow, backend) in before {
            let decision = harness.send(TestFrames.tcp(flow, flags: TCPFlag.ack)).decision
            let now = harness.table.backendAddress(decision.backendIndex)
            if backend == address("198.18.1.11") {
                #expect(decision.isNewFlow)
                #expect(now != backend)
            } else {
                #expect(!decision.isNewFlow)
                #expect(now == backend)
            }
        }
    }

    /// A known flow's frames skip the service lookup within a table (the flow entry keeps the service's
    /// index); after a table change in which the service moved, they name it at its new index, on the
    /// first frame (which looks it up and re-stamps the entry) and on those after it (which do not).
    @Test func aKnownFlowNamesItsServiceInEachTable() throws {
        var api = webService(port: 8080)
        api.name = "api"
        let harness = try Harness([api, webService()])
        let flow = clientFlow(3)
        let first = harness.send(TestFrames.tcp(flow)).decision
        let second = harness.send(TestFrames.tcp(flow, flags: TCPFlag.ack)).decision
        #expect(first.isNewFlow && !second.isNewFlow)
        #expect([first, second].map { harness.table.serviceName($0.serviceIndex) } == ["web", "web"])
        let backend = harness.table.backendAddress(first.backendIndex)
        try harness.publish([webService(), api])
        for _ in 0..<2 {
            let decision = harness.send(TestFrames.tcp(flow, flags: TCPFlag.ack)).decision
            #expect(decision.verdict == .forward && !decision.isNewFlow)
            #expect(harness.table.backendAddress(decision.backendIndex) == backend)
            #expect(decision.serviceIndex == 0 && harness.table.serviceName(decision.serviceIndex) == "web")
        }
    }

    /// A backend that left and came back starts empty: its old flows were given up when it left.
    @Test func aReaddedBackendDoesNotGetItsOldFlowsBack() throws {
        let full = webService(scheduler: .lc, weights: [1, 1, 1])
        let harness = try Harness([full])
        let flows = (0..<30).map { clientFlow($0) }
        var before: [FlowKey: IPAddress] = [:]
        for flow in flows { before[flow] = harness.backend(TestFrames.tcp(flow)) }
        var smaller = full
        smaller.backends.removeFirst()
        try harness.publish([smaller])
        try harness.publish([full])
        #expect(harness.worker.statistics().backends.map(\.activeFlows) == [0, 10, 10])
        for flow in flows where before[flow] == address("198.18.1.11") {
            let decision = harness.send(TestFrames.tcp(flow, flags: TCPFlag.ack)).decision
            #expect(decision.isNewFlow)
        }
        // lc fills the empty backend with the ten that started over.
        #expect(harness.worker.statistics().backends.map(\.activeFlows) == [10, 10, 10])
    }

    @Test func countersFollowBackendsAcrossTables() throws {
        let harness = try Harness([webService(scheduler: .rr, weights: [1, 1])])
        for number in 0..<10 { _ = harness.send(TestFrames.tcp(clientFlow(number))) }
        try harness.publish([webService(scheduler: .rr, weights: [1, 1, 1])])
        let statistics = harness.worker.statistics()
        #expect(statistics.backends.map(\.packets) == [5, 5, 0])
        #expect(statistics.backends.map(\.activeFlows) == [5, 5, 0])
        #expect(statistics.decisions == [DecisionCount(verdict: .forward, reason: "ok", frames: 10)])
    }
}

@Suite struct SteeringTests {
    @Test func laterFragmentsFollowTheirFirst() throws {
        let harness = try Harness([webService(transport: .udp)])
        for number in 0..<50 {
            let flow = FlowKey(source: address("198.51.100.\(number)"), destination: vip, ipProtocol: 17,
                               sourcePort: 5_000, destinationPort: 80)
            let (first, later) = TestFrames.udpFragments(flow, id: UInt16(number))
            let firstDecision = harness.send(first).decision
            let laterDecision = harness.send(later).decision
            #expect(firstDecision.verdict == .forward)
            #expect(laterDecision == Decision(.forward, .fragment, serviceIndex: firstDecision.serviceIndex,
                                              backendIndex: firstDecision.backendIndex))
        }
    }

    @Test func aLaterFragmentBeforeItsFirstIsDroppedAndCounted() throws {
        let harness = try Harness([webService(transport: .udp)])
        let flow = FlowKey(source: address("198.51.100.7"), destination: vip, ipProtocol: 17, sourcePort: 5_000, destinationPort: 80)
        let (first, later) = TestFrames.udpFragments(flow, id: 77)
        #expect(harness.send(later).decision == Decision(.drop, .fragmentBeforeFirst))
        #expect(harness.send(first).decision.verdict == .forward)
        #expect(harness.send(later).decision.reason == .fragment)
        // The first fragment's choice is forgotten after the fragment timeout (30 s).
        harness.now += 30_001
        #expect(harness.send(later).decision.reason == .fragmentBeforeFirst)
        #expect(harness.worker.statistics().decisions.contains(DecisionCount(verdict: .drop, reason: "fragment-before-first", frames: 2)))
    }

    @Test func aLaterFragmentCutByTheCaptureIsNotForwarded() throws {
        let harness = try Harness([webService(transport: .udp)])
        let flow = FlowKey(source: address("198.51.100.7"), destination: vip, ipProtocol: 17, sourcePort: 5_000, destinationPort: 80)
        let (first, later) = TestFrames.udpFragments(flow, id: 78)
        #expect(harness.send(first).decision.verdict == .forward)
        #expect(harness.send(later, wireLength: 1_514).decision == Decision(.drop, .truncatedCapture))
    }

    @Test func ipv6FragmentsWithOptionsAfterTheFragmentHeaderStayTogether() throws {
        let vip6 = address("2001:db8:ffff::10")
        let service = ServiceSpec(name: "v6", key: ServiceKey(vip: vip6, transport: .udp, port: 53), scheduler: .rr,
                                  backends: (1...3).map { BackendSpec(address: address("2001:db8:1::\($0)"), mac: mac("02:00:00:00:06:0\($0)")) })
        let harness = try Harness([service])
        for number in 0..<12 {
            let flow = FlowKey(source: address("2001:db8:100::\(number + 1)"), destination: vip6, ipProtocol: 17,
                               sourcePort: 5_000, destinationPort: 53)
            let (first, later) = TestFrames.udpFragmentsWithOptions(flow, id: UInt32(1_000 + number))
            let firstDecision = harness.send(first).decision
            #expect(firstDecision.verdict == .forward)
            #expect(harness.send(later).decision == Decision(.forward, .fragment, serviceIndex: firstDecision.serviceIndex,
                                                              backendIndex: firstDecision.backendIndex))
        }
    }

    @Test func icmpv6ErrorsReachTheBackendOfTheirFlow() throws {
        let vip6 = address("2001:db8:ffff::10")
        let service = ServiceSpec(name: "v6", key: ServiceKey(vip: vip6, transport: .tcp, port: 443), scheduler: .rr,
                                  backends: (1...3).map { BackendSpec(address: address("2001:db8:1::\($0)"), mac: mac("02:00:00:00:06:0\($0)")) })
        let harness = try Harness([service])
        let router = try IPv6Address(parsing: "2001:db8:100::1")
        for number in 0..<9 {
            let flow = FlowKey(source: address("2001:db8:100::\(number + 10)"), destination: vip6, ipProtocol: 6,
                               sourcePort: 40_000, destinationPort: 443)
            let backend = harness.send(TestFrames.tcp(flow)).decision.backendIndex
            let error = harness.send(TestFrames.packetTooBig(about: flow, router: router)).decision
            #expect(error == Decision(.forward, .icmpError, serviceIndex: 0, backendIndex: backend))
        }
    }

    @Test func anICMPErrorSentElsewhereIsNotOurs() throws {
        let harness = try Harness([webService()])
        let flow = clientFlow(1)
        _ = harness.send(TestFrames.tcp(flow))
        let stray = TestFrames.fragmentationNeeded(about: flow, sentTo: address("198.18.9.9"))
        #expect(harness.send(stray).decision == Decision(.pass, .noService))
    }

    @Test func icmpErrorsReachTheBackendOfTheirFlow() throws {
        let harness = try Harness([webService(scheduler: .rr)])
        for number in 0..<30 {
            let flow = clientFlow(number)
            let backend = harness.send(TestFrames.tcp(flow)).decision.backendIndex
            let error = harness.send(TestFrames.fragmentationNeeded(about: flow)).decision
            #expect(error.verdict == .forward)
            #expect(error.reason == .icmpError)
            #expect(error.backendIndex == backend)
        }
        // A stateful scheduler cannot place an error about a flow it never saw.
        #expect(harness.send(TestFrames.fragmentationNeeded(about: clientFlow(999))).decision.reason == .icmpNoFlow)
    }

    @Test func consistentHashingPlacesErrorsWithoutState() throws {
        let harness = try Harness([webService()])
        let other = try Harness([webService()])
        for number in 0..<30 {
            let flow = clientFlow(number)
            let owner = other.backend(TestFrames.tcp(flow))
            let decision = harness.send(TestFrames.fragmentationNeeded(about: flow)).decision
            #expect(decision.reason == .icmpError)
            #expect(harness.table.backendAddress(decision.backendIndex) == owner)
        }
        // Errors neither create nor refresh flows.
        #expect(harness.worker.flows.count == 0)
    }

    @Test func idleFlowsExpireByClass() throws {
        let harness = try Harness([webService(scheduler: .rr, transport: .udp)])
        let flow = FlowKey(source: address("198.51.100.7"), destination: vip, ipProtocol: 17, sourcePort: 5_000, destinationPort: 80)
        #expect(harness.send(TestFrames.udp(flow)).decision.isNewFlow)
        harness.now += 300_000
        #expect(!harness.send(TestFrames.udp(flow)).decision.isNewFlow)
        harness.now += 300_001
        #expect(harness.send(TestFrames.udp(flow)).decision.isNewFlow)
    }
}
