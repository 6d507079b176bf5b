public import DromosSystem
/// A `PacketPort` over frames in memory, for benchmarks and tests of the worker loop: no socket, no
/// system call, no allocation after `init`.
///
/// `receive` hands out up to `budget` frames from a ring of prebuilt frames, round and round, in place
/// (as an RX ring does): a body's rewrite stays for the next round. The balancer's MAC rewrite of a
/// forwarded frame gives the same frame every round; an ARP or NDP question answered in place becomes
/// its answer. `transmit` only counts. It lives here, not with the benchmarks, so that
/// `DatapathWorker`'s loop is specialized for it as for the live ports and a benchmark measures the loop
/// the daemon runs.
///
/// Owned by one thread, like the live ports.
public final class MemoryPort {
    /// The frames side by side, each at a multiple of `stride`.
    let storage: UnsafeMutableRawPointer
    let lengths: UnsafeMutableBufferPointer<Int>
    let stride: Int
    /// sockaddr_ll's sll_pkttype for every frame handed out (4: sent by this host).
    public let packetType: UInt8
    @exclusivity(unchecked) var next = 0
    /// Frames `receive` still hands out; `Int.max` (the default) does not run out. `DatapathWorker.run`
    /// drains until a batch comes back empty, so give it a finite supply.
    @exclusivity(unchecked) public var remaining: Int
    @exclusivity(unchecked) public private(set) var received: UInt64 = 0
    @exclusivity(unchecked) public private(set) var transmitted: UInt64 = 0
    @exclusivity(unchecked) public private(set) var transmittedBytes: UInt64 = 0

    /// `frames` must not be empty; each is copied once, 64-byte aligned.
    public init(frames: [[UInt8]], packetType: UInt8 = 0, remaining: Int = .max) {
        precondition(!frames.isEmpty, "a MemoryPort needs at least one frame")
        let longest = frames.map(\.count).max() ?? 0
        let stride = max(64, (longest + 63) & ~63)
        let storage = UnsafeMutableRawPointer.allocate(byteCount: stride * frames.count, alignment: 64)
        storage.initializeMemory(as: UInt8.self, repeating: 0, count: stride * frames.count)
        let lengths = UnsafeMutableBufferPointer<Int>.allocate(capacity: frames.count)
        for (index, frame) in frames.enumerated() {
            UnsafeMutableRawBufferPointer(start: storage + index * stride, count: frame.count).copyBytes(from: frame)
            lengths[index] = frame.count
        }
        self.stride = stride
        self.storage = storage
        self.lengths = lengths
        self.packetType = packetType
        self.remaining = remaining
    }

    deinit {
        storage.deallocate()
        lengths.deallocate()
    }

    /// How many frames the ring holds (one round).
    public var frameCount: Int { lengths.count }

    public func receive(budget: Int, _ body: (inout ReceivedFrame) -> Void) -> Int {
        let count = max(0, min(budget, remaining))
        var index = next
        for _ in 0..<count {
            let length = lengths[index]
            var frame = ReceivedFrame(bytes: UnsafeMutableRawBufferPointer(start: storage + index * stride, count: length),
                                      wireLength: length, offload: .none, timestampNanoseconds: 0, packetType: packetType)
            body(&frame)
            index &+= 1
            if index == lengths.count { index = 0 }
        }
        next = index
        remaining &-= count
        received &+= UInt64(count)
        return count
    }

    @discardableResult
    public func transmit(_ frame: ReceivedFrame) -> Bool {
        transmitted &+= 1
        transmittedBytes &+= UInt64(frame.bytes.count)
        return true
    }

    public func flush() {}
}

extension MemoryPort: PacketPort {
    /// No descriptor: nothing to poll.
    public var fileDescriptor: Int32 { -1 }
    /// Frames are ready as long as some remain; never waits.
    public func waitForFrames(timeoutMilliseconds: Int32) throws(SystemCallError) -> Bool { remaining > 0 }
    public func refreshKernelStatistics() {}
    public var framesNotSent: UInt64 { 0 }
    public var framesTruncated: UInt64 { 0 }
    public var framesWithBadChecksums: UInt64 { 0 }
    public func currentRingDrops() -> UInt64 { 0 }
}
