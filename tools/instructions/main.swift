// The instruction-count driver of `tools/instructions.sh`: `instructions CASE N`, or `instructions
// differential CORPUS_DIRECTORY` (see Differential.swift).
import DromosBalancer
import DromosDatapath
import DromosIO
import DromosWire

let arguments = CommandLine.arguments
guard arguments.count == 3 else {
    fatalError("usage: instructions parse|hot|scattered|worker|new|pass|arp|ns N | instructions differential DIRECTORY")
}
let which = arguments[1]
let count = Int(arguments[2]) ?? 0

switch which {
case "parse":
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64, alignment: 64)
    parsingBenchmarkFrame().withUnsafeBytes { buffer.copyMemory(from: $0) }
    precondition(FrameParser.parse(UnsafeRawBufferPointer(buffer)).hasPorts)
    measureParse(UnsafeRawBufferPointer(buffer), count)
case "hot":
    measureHot(WarmTable(), count)
case "scattered":
    measureScattered(WarmTable(), count)
case "worker":
    // The Worker benchmark: the loop over a MemoryPort of 4,096 frames whose flows are placed, in batches of 50.
    let memory = MemoryPort(frames: (0..<4_096).map { Fixtures.tcpFrame(flow: $0) })
    let balancer = Fixtures.webBalancer()
    let worker = DatapathWorker(index: 0, port: memory, balancer: balancer, publisher: TablePublisher(balancer.table), budget: 50)
    for _ in 0..<(4_096 / 50 + 1) { worker.runBatch(now: 1_000) }
    precondition(worker.balancer.flows.count == 4_096)
    measureWorker(worker, count / 50)
case "new", "pass":
    let flows = min(count, 100_000)
    let frames = UnsafeMutableRawBufferPointer.allocate(byteCount: flows * 64, alignment: 64)
    for flow in 0..<flows {
        var bytes = Fixtures.tcpFrame(flow: flow)
        if which == "pass" { bytes[33] = 99 }  // the VIP's last byte: to an address with no service
        bytes.withUnsafeBytes { (frames.baseAddress! + flow * 64).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
    }
    measureNew(Fixtures.webBalancer(), frames, flows)
case "arp", "ns":
    let (worker, question) = neighborQuestion(ipv6: which == "ns")
    measureAnswer(worker, question, .allocate(byteCount: 128, alignment: 64), count)
case "differential":
    printDifferential(corpus: arguments[2])
default:
    fatalError("unknown case \(which)")
}

/// The Decide benchmark's "Answer …" cases: an ARP request or neighbor solicitation for an announced VIP.
func neighborQuestion(ipv6: Bool) -> (BalancerWorker, UnsafeMutableRawBufferPointer) {
    let router = MACAddress(rawValue: 0x0200_0000_00fe)
    let vip6 = IPv6Address(high: 0x2001_0db8_ffff_0000, low: 0x10)
    let services = [
        ServiceSpec(name: "web", key: ServiceKey(vip: .v4(IPv4Address(203, 0, 113, 10)), transport: .tcp, port: 80),
                    backends: [BackendSpec(address: .v4(IPv4Address(198, 18, 1, 11)), mac: MACAddress(rawValue: 0x0200_0000_0111))],
                    announce: .arp),
        ServiceSpec(name: "web6", key: ServiceKey(vip: .v6(vip6), transport: .tcp, port: 80),
                    backends: [BackendSpec(address: .v6(IPv6Address(high: 0x2001_0db8_0001_0000, low: 0x11)),
                                           mac: MACAddress(rawValue: 0x0200_0000_0121))],
                    announce: .arp),
    ]
    let table = try! ForwardingTable(generation: 1, services: services)
    let worker = BalancerWorker(table: table, flowTable: FlowTableSpec(capacity: 1_024), sourceMAC: MACAddress(rawValue: 0x0200_0000_0001))
    let question: UnsafeMutableRawBufferPointer
    if ipv6 {
        let asking = NDPMessage.solicitation(for: vip6, from: IPv6Address(high: 0x2001_0db8_0000_0000, low: 0xfe), at: router)
        let framing = EthernetFraming(destination: .ipv6Multicast(asking.destination), source: router)
        question = .allocate(byteCount: NDPFrame.length(of: asking, framing: framing), alignment: 64)
        _ = NDPFrame.write(asking, framing: framing, into: question)
    } else {
        let request = ARPMessage.request(for: IPv4Address(203, 0, 113, 10), from: IPv4Address(198, 18, 0, 254), at: router)
        question = .allocate(byteCount: ARPFrame.messageLength + 14, alignment: 64)
        _ = ARPFrame.write(request, framing: EthernetFraming(destination: .broadcast, source: router), into: question)
    }
    return (worker, question)
}
