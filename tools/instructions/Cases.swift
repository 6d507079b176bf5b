// Each case runs its `measure…` function over N frames; `tools/instructions.sh` has callgrind collect
// only inside that function (--toggle-collect), so instructions per frame = collected Ir / N, the same
// figure on a busy or an idle machine.
import DromosBalancer
import DromosDatapath
import DromosIO
import DromosWire

/// Keeps a result alive without letting the optimizer see through it.
@_optimize(none) @inline(never) func sink<T>(_: T) {}

/// The Parsing benchmark's 64-byte IPv4 TCP SYN frame.
func parsingBenchmarkFrame() -> [UInt8] {
    var frame: [UInt8] = [0x02, 0, 0, 0, 0, 0xfe, 0x02, 0, 0, 0, 0, 0x01, 0x08, 0x00]
    frame += [0x45, 0, 0, 50, 0x1c, 0x46, 0x40, 0, 64, 6, 0, 0, 192, 0, 2, 1, 198, 51, 100, 10]
    frame += [0xc0, 0x00, 0x01, 0xbb, 0x10, 0, 0, 0, 0, 0, 0, 0, 0x50, 0x02, 0xfa, 0xf0, 0, 0, 0, 0]
    frame += [UInt8](repeating: 0xa5, count: 10)
    return frame
}

/// The Decide benchmark's fixture: a million flows placed in a million-entry table.
final class WarmTable {
    static let flowCount = 1_000_000
    static let slotSize = 64
    let worker = Fixtures.webBalancer()
    let frames: UnsafeMutableRawBufferPointer

    init() {
        frames = .allocate(byteCount: Self.flowCount * Self.slotSize, alignment: 64)
        frames.initializeMemory(as: UInt8.self, repeating: 0)
        for flow in 0..<Self.flowCount {
            Fixtures.tcpFrame(flow: flow).withUnsafeBytes { frame(flow, length: $0.count).copyMemory(from: $0) }
            _ = worker.decide(frame(flow), now: 1_000)
        }
    }

    @inline(__always) func frame(_ flow: Int, length: Int = 54) -> UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: frames.baseAddress! + flow * Self.slotSize, count: length)
    }
}

@inline(never) func measureParse(_ frame: UnsafeRawBufferPointer, _ count: Int) {
    for _ in 0..<count { sink(FrameParser.parse(frame)) }
}

/// 4,096 flows in turn: the Decide benchmark's "hot" case.
@inline(never) func measureHot(_ table: WarmTable, _ count: Int) {
    for index in 0..<count { sink(table.worker.decide(table.frame(index & 4_095), now: 1_000)) }
}

/// A stride through all million flows, so that every frame misses the caches.
@inline(never) func measureScattered(_ table: WarmTable, _ count: Int) {
    var flow = 0
    for _ in 0..<count {
        sink(table.worker.decide(table.frame(flow), now: 1_000))
        flow = (flow + 611_953) % WarmTable.flowCount
    }
}

/// Frames of flows the table has not seen (new flows, or frames to no service).
@inline(never) func measureNew(_ worker: BalancerWorker, _ frames: UnsafeMutableRawBufferPointer, _ count: Int) {
    for flow in 0..<count {
        sink(worker.decide(UnsafeMutableRawBufferPointer(start: frames.baseAddress! + flow * 64, count: 54), now: 1_000))
    }
}

/// A neighbor question answered in place; the question is copied back first, as the answer overwrites it.
@inline(never) func measureAnswer(
    _ worker: BalancerWorker, _ question: UnsafeMutableRawBufferPointer, _ scratch: UnsafeMutableRawBufferPointer, _ count: Int
) {
    for _ in 0..<count {
        let frame = UnsafeMutableRawBufferPointer(rebasing: scratch[0..<question.count])
        frame.copyMemory(from: UnsafeRawBufferPointer(question))
        precondition(worker.decide(frame, now: 1_000).verdict == .reply)
    }
}

@inline(never) func measureWorker(_ worker: DatapathWorker<MemoryPort>, _ batches: Int) {
    for _ in 0..<batches { sink(worker.runBatch(now: 1_000)) }
}
