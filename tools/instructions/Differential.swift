// `instructions differential DIRECTORY`: every Ethernet frame of the captures in DIRECTORY, whole, cut
// at many lengths below 160 bytes, and with a few bytes changed, through the parser and two balancers
// (one with a flow table small enough to evict) over services made from the corpus's own destinations;
// one line per frame with every parse field and both decisions, and the balancers' statistics. Built
// against two trees, the two outputs must be equal byte for byte when a change is meant to keep
// behavior (`tools/instructions.sh --base TREE --differential`).
import DromosBalancer
import DromosIO
import DromosWire
import Glibc

/// SplitMix64: the same "random" cuts and changes in both builds.
struct SplitMix {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var mixed = state
        mixed = (mixed ^ (mixed >> 30)) &* 0xbf58_476d_1ce4_e5b9
        mixed = (mixed ^ (mixed >> 27)) &* 0x94d0_49bb_1331_11eb
        return mixed ^ (mixed >> 31)
    }
}

func describe(_ parsed: ParsedFrame) -> String {
    var text = "\(parsed.status.rawValue) c\(parsed.capturedLength) w\(parsed.wireLength)"
    text += " d\(parsed.destinationMAC.rawValue) s\(parsed.sourceMAC.rawValue) v\(parsed.vlanCount)"
    text += " \(parsed.outerVLAN.tpid):\(parsed.outerVLAN.tci) \(parsed.innerVLAN.tpid):\(parsed.innerVLAN.tci) e\(parsed.etherType)"
    text += " l3 \(parsed.l3.rawValue) \(parsed.l3Offset)-\(parsed.l3End) p\(parsed.ipProtocol) l4 \(parsed.l4Offset)"
    text += " f\(parsed.fragment.rawValue) \(parsed.fragmentID) \(parsed.fragmentProtocol)"
    if let flow = parsed.flow {
        let rebuilt = FlowKey(source: flow.source, destination: flow.destination, ipProtocol: flow.ipProtocol,
                              sourcePort: flow.sourcePort, destinationPort: flow.destinationPort)
        text += " flow \(flow.source) \(flow.destination) \(flow.ipProtocol) \(flow.sourcePort) \(flow.destinationPort)"
        text += " rebuilt-equal \(flow == rebuilt && flow.hashValue == rebuilt.hashValue)"
        text += " reversed \(flow.reversed.source) \(flow.reversed.destination) \(flow.reversed.sourcePort)"
        text += " \(flow.reversed.destinationPort) \(flow == flow.reversed.reversed)"
    } else {
        text += " no-flow"
    }
    text += " ports \(parsed.hasPorts) icmp-error \(parsed.isICMPError)"
    text += " \(parsed.icmpErrorDestination.map { "\($0)" } ?? "-") tcp-flags \(parsed.tcpFlags)"
    if let arp = parsed.arp {
        text += " arp \(arp.operation) \(arp.senderMAC.rawValue) \(arp.senderIP) \(arp.targetMAC.rawValue) \(arp.targetIP)"
    } else {
        text += " no-arp"
    }
    return text
}

func readCorpus(_ directory: String) -> [(bytes: [UInt8], wireLength: Int)] {
    var names: [String] = []
    if let listing = opendir(directory) {
        while let entry = readdir(listing) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
            if name.hasSuffix(".pcap") || name.hasSuffix(".pcapng") || name.hasSuffix(".cap") { names.append(name) }
        }
        closedir(listing)
    }
    var frames: [(bytes: [UInt8], wireLength: Int)] = []
    for name in names.sorted() {
        guard let reader = try? PcapFileReader(path: directory + "/" + name), (try? reader.requireEthernet()) != nil else { continue }
        try? reader.forEachFrame { frame in frames.append((Array(frame.bytes), frame.wireLength)) }
    }
    return frames
}

/// Up to 400 services, one per destination (and port, but every fifth takes all ports) seen in the
/// corpus, cycling through the schedulers, every third VIP announced.
func corpusServices(_ frames: [(bytes: [UInt8], wireLength: Int)]) -> [ServiceSpec] {
    var seen = Set<String>()
    var announced = Set<String>()
    var services: [ServiceSpec] = []
    let schedulers: [SchedulerKind] = [.maglev, .rr, .wrr, .lc, .wlc, .sh]
    for (bytes, wireLength) in frames {
        let parsed = bytes.withUnsafeBytes { FrameParser.parse($0, wireLength: wireLength) }
        guard let flow = parsed.flow, flow.ipProtocol == 6 || flow.ipProtocol == 17 else { continue }
        let number = services.count
        let allPorts = number % 5 == 0
        let tag = "\(flow.destination) \(flow.ipProtocol) \(allPorts ? "*" : "\(flow.destinationPort)")"
        guard !seen.contains(tag), number < 400 else { continue }
        seen.insert(tag)
        let backends = (0..<(1 + number % 4)).map { index in
            let address: IPAddress = flow.destination.isIPv4
                ? .v4(IPv4Address(10, UInt8(number / 200), UInt8(number % 200), UInt8(index + 1)))
                : .v6(IPv6Address(high: 0x2001_0db8_0000_0000 | UInt64(number), low: UInt64(index + 1)))
            return BackendSpec(address: address, weight: 1 + index, mac: MACAddress(rawValue: 0x0200_0000_0000 | UInt64(number << 8 | index)))
        }
        let vip = "\(flow.destination)"
        let announce: VIPAnnouncement = number % 3 == 0 && !announced.contains(vip) ? .arp : .none
        if announce == .arp { announced.insert(vip) }
        services.append(ServiceSpec(name: "s\(number)", key: ServiceKey(vip: flow.destination, transport: flow.ipProtocol == 6 ? .tcp : .udp,
                                                                        port: allPorts ? nil : flow.destinationPort),
                                    scheduler: schedulers[number % schedulers.count], backends: backends, announce: announce))
    }
    // A VIP is announced for all of its services or none (the table refuses a mix).
    return services.map { service in
        var service = service
        if announced.contains("\(service.key.vip)") { service.announce = .arp }
        return service
    }
}

func statisticsLine(_ label: String, _ worker: BalancerWorker) -> String {
    let statistics = worker.statistics()
    let decisions = statistics.decisions.map { "\($0.verdict.rawValue)/\($0.reason)=\($0.frames)" }.sorted()
    let backends = statistics.backends.map { "\($0.service)/\($0.address)=\($0.packets),\($0.bytes),\($0.newFlows),\($0.activeFlows)" }.sorted()
    return "\(label) \(statistics.activeFlows) \(statistics.flowInsertions) \(statistics.flowEvictions) \(statistics.flowExpirations) \(decisions) \(backends)"
}

func printDifferential(corpus directory: String) {
    let frames = readCorpus(directory)
    let services = corpusServices(frames)
    let table: ForwardingTable
    do { table = try ForwardingTable(generation: 1, services: services) } catch { fatalError("\(error)") }
    let workers = [
        BalancerWorker(table: table, flowTable: FlowTableSpec(capacity: 4_096), sourceMAC: nil),
        BalancerWorker(table: table, flowTable: FlowTableSpec(capacity: 64), sourceMAC: MACAddress(rawValue: 0x0200_0000_00aa)),
    ]
    print("services \(services.count) frames \(frames.count)")
    var random = SplitMix(state: 42)
    var now: UInt64 = 1_000
    let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 300_000, alignment: 64)
    func decideAndPrint(_ bytes: [UInt8], length: Int, wireLength: Int, label: String) {
        bytes.withUnsafeBytes { source in
            let captured = UnsafeRawBufferPointer(rebasing: source[0..<length])
            var line = label + " " + describe(FrameParser.parse(captured, wireLength: wireLength))
            for worker in workers {
                let frame = UnsafeMutableRawBufferPointer(rebasing: scratch[0..<length])
                frame.copyMemory(from: captured)
                let decision = worker.decide(frame, wireLength: wireLength, now: now)
                line += " | \(decision.verdict.rawValue) \(decision.reason.rawValue) \(decision.parseStatus.rawValue)"
                line += " \(decision.serviceIndex) \(decision.backendIndex) \(decision.isNewFlow)"
                if decision.verdict == .forward || decision.verdict == .reply {
                    // FNV-1a of the frame as rewritten or answered.
                    var hash: UInt64 = 1_469_598_103_934_665_603
                    for byte in frame { hash = (hash ^ UInt64(byte)) &* 1_099_511_628_211 }
                    line += " \(hash)"
                }
            }
            print(line)
        }
        now &+= random.next() % 4_000
    }
    for (index, (bytes, wireLength)) in frames.enumerated() {
        decideAndPrint(bytes, length: bytes.count, wireLength: wireLength, label: "f\(index)")
        for length in 0..<min(bytes.count, 160) where length % 3 == 0 || length < 64 {
            decideAndPrint(bytes, length: length, wireLength: wireLength, label: "f\(index)c\(length)")
        }
        for variant in 0..<6 {
            var changed = bytes
            for _ in 0...(variant % 3) where !changed.isEmpty {
                let draw = random.next()
                changed[Int(draw % UInt64(min(changed.count, 90)))] = UInt8(truncatingIfNeeded: draw >> 32)
            }
            decideAndPrint(changed, length: changed.count, wireLength: wireLength, label: "f\(index)m\(variant)")
        }
        if index % 500 == 0 { print(statisticsLine("stats", workers[0])) }
    }
    for worker in workers { print(statisticsLine("final", worker)) }
}
