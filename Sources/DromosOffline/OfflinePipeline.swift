public import DromosBalancer
public import DromosConfig
import DromosIO
public import DromosWire
/// The datapath's decisions over a capture file: the same parser, table, flow table and schedulers
/// as `dromos run`, with time taken from the frames.
public final class OfflinePipeline {
    public let table: ForwardingTable
    public let worker: BalancerWorker
    private let scratch: UnsafeMutableRawBufferPointer
    private var clock = CaptureClock()

    public static let maximumFrameLength = 262_144

    public init(config: DromosConfig) throws(ForwardingTableError) {
        table = try ForwardingTable(generation: 1, services: config.balancer.services)
        worker = BalancerWorker(table: table, flowTable: config.balancer.flows, sourceMAC: config.mac)
        scratch = .allocate(byteCount: Self.maximumFrameLength, alignment: 16)
    }

    deinit {
        scratch.deallocate()
    }

    /// Runs every frame of `path` through the worker, handing each to `body` with its decision.
    public func run(capture path: String, _ body: (PipelineFrame) throws -> Void) throws {
        let reader = try PcapFileReader(path: path)
        try reader.requireEthernet()
        var frameNumber = 0
        try reader.forEachFrame { frame in
            frameNumber += 1
            let length = min(frame.bytes.count, Self.maximumFrameLength)
            let bytes = UnsafeMutableRawBufferPointer(rebasing: scratch[0..<length])
            bytes.copyMemory(from: UnsafeRawBufferPointer(rebasing: frame.bytes[0..<length]))
            let now = clock.milliseconds(frame.timestampNanoseconds)
            _ = worker.expire(now: now, budget: 64)
            let parsed = FrameParser.parse(UnsafeRawBufferPointer(bytes), wireLength: frame.wireLength)
            let decision = worker.decide(parsed, frame: bytes, now: now)
            try body(PipelineFrame(
                number: frameNumber, timestampNanoseconds: frame.timestampNanoseconds, wireLength: frame.wireLength,
                parsed: parsed, decision: decision, bytes: UnsafeRawBufferPointer(bytes)))
        }
    }
}

/// One frame after the balancer decided; `bytes` is the frame as it would leave (rewritten when
/// forwarded) and is valid only inside the callback.
public struct PipelineFrame {
    /// From 1, in file order.
    public let number: Int
    public let timestampNanoseconds: Int64
    public let wireLength: Int
    public let parsed: ParsedFrame
    public let decision: Decision
    public let bytes: UnsafeRawBufferPointer
}

/// Capture timestamps can step back (merged files, clock fixes); flow idle times must not, or every
/// flow would look ancient and expire.
struct CaptureClock {
    private var last: UInt64 = 0

    mutating func milliseconds(_ nanoseconds: Int64) -> UInt64 {
        let now = UInt64(max(nanoseconds, 0) / 1_000_000)
        last = max(last, now)
        return last
    }
}
