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
    TestFrames.tcpIPv4().withUnsafeBytes { buffer.copyMemory(from: $0) }
    precondition(FrameParser.parse(UnsafeRawBufferPointer(buffer)).hasPorts)
    measureParse(UnsafeRawBufferPointer(buffer), count)
case "hot":
    WarmDatapath.shared.check()
    measureHot(WarmDatapath.shared, count)
case "scattered":
    WarmDatapath.shared.check()
    measureScattered(WarmDatapath.shared, count)
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
    let responder = NeighborResponder.shared
    measureAnswer(responder, which == "ns" ? responder.solicitation : responder.arpRequest, count)
case "differential":
    printDifferential(corpus: arguments[2])
default:
    fatalError("unknown case \(which)")
}
