// Each case runs its `measure…` function over N frames; `tools/instructions.sh` has callgrind collect
// only inside that function (--toggle-collect), so instructions per frame = collected Ir / N, the same
// figure on a busy or an idle machine.
import DromosBalancer
import DromosDatapath
import DromosIO
import DromosWire

/// Keeps a result alive without letting the optimizer see through it.
@_optimize(none) @inline(never) func sink<T>(_: T) {}

@inline(never) func measureParse(_ frame: UnsafeRawBufferPointer, _ count: Int) {
    for _ in 0..<count { sink(FrameParser.parse(frame)) }
}

/// 4,096 flows in turn: the Decide benchmark's "hot" case.
@inline(never) func measureHot(_ datapath: WarmDatapath, _ count: Int) {
    for index in 0..<count { sink(datapath.worker.decide(datapath.frame(index & 4_095), now: 1_000)) }
}

/// A stride through all million flows, so that every frame misses the caches.
@inline(never) func measureScattered(_ datapath: WarmDatapath, _ count: Int) {
    var flow = 0
    for _ in 0..<count {
        sink(datapath.worker.decide(datapath.frame(flow), now: 1_000))
        flow = datapath.next(flow)
    }
}

/// Frames of flows the table has not seen (new flows, or frames to no service).
@inline(never) func measureNew(_ worker: BalancerWorker, _ frames: UnsafeMutableRawBufferPointer, _ count: Int) {
    for flow in 0..<count {
        sink(worker.decide(UnsafeMutableRawBufferPointer(start: frames.baseAddress! + flow * 64, count: 54), now: 1_000))
    }
}

/// A neighbor question answered in place (`NeighborResponder.answer` copies the question back first).
@inline(never) func measureAnswer(_ responder: NeighborResponder, _ question: UnsafeMutableRawBufferPointer, _ count: Int) {
    for _ in 0..<count { precondition(responder.answer(question) == .reply) }
}

@inline(never) func measureWorker(_ worker: DatapathWorker<MemoryPort>, _ batches: Int) {
    for _ in 0..<batches { sink(worker.runBatch(now: 1_000)) }
}
