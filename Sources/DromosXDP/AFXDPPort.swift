import CXDP
public import DromosIO
public import DromosSystem
import DromosWire
import Glibc

/// An AF_XDP socket on one queue of an interface, with a UMEM of its own: what the XDP program redirects
/// arrives in the RX ring without passing the kernel's stack. A received frame `transmit`ted by the same
/// port leaves from where it lies (its UMEM frame moves to the TX ring, nothing is copied); any other
/// frame is copied into a free UMEM frame. Frames come back through the completion ring and go to the
/// fill ring again. Copy mode unless the driver offers zero-copy (veth does not); `XDP_USE_NEED_WAKEUP`,
/// so that the kernel is only kicked when it asks.
public final class AFXDPPort {
    public struct Configuration: Sendable {
        public var interface: String
        public var queue: UInt32 = 0
        /// UMEM frames: half start in the fill ring, the rest are kept for copies and the TX path.
        public var frameCount: UInt32 = 4_096
        public var frameSize: UInt32 = UInt32(XSK_UMEM__DEFAULT_FRAME_SIZE)
        public var ringSize: UInt32 = 2_048
        public var zeroCopy = false

        public init(interface: String) { self.interface = interface }

        /// The UMEM's size: what the socket locks.
        public var umemBytes: Int { Int(frameCount) * Int(frameSize) }
    }

    public struct Counters: Sendable {
        public var received: UInt64 = 0
        public var transmitted: UInt64 = 0
        /// Frames `transmit` could not queue: the TX ring was full or no UMEM frame was free.
        public var notSent: UInt64 = 0
        public var copied: UInt64 = 0
        /// Forwarded frames whose TCP/UDP checksum was checked, and those it did not hold for: AF_XDP has
        /// no vnet header, so a sender's unfinished checksum (veth, containers, VMs) goes out unfinished.
        public var checksumsSampled: UInt64 = 0
        public var checksumsBad: UInt64 = 0
    }

    public let configuration: Configuration
    /// Only the worker thread that owns the port touches it: no dynamic exclusivity checks per frame.
    @exclusivity(unchecked) public private(set) var counters = Counters()
    private let area: UnsafeMutableRawPointer
    private let areaSize: Int
    private var umem: OpaquePointer?
    private var socket: OpaquePointer?
    private var fill = xsk_ring_prod()
    private var completion = xsk_ring_cons()
    private var rx = xsk_ring_cons()
    private var tx = xsk_ring_prod()
    /// UMEM frames owned by user space and not in any ring: a stack, preallocated to hold every frame.
    private let free: UnsafeMutablePointer<UInt64>
    private var freeCount = 0
    /// The RX frame the receive body holds, and whether `transmit` took it.
    private var heldAddress: UInt64 = 0
    private var heldTaken = false
    private var pendingTransmits: UInt32 = 0

    public init(_ configuration: Configuration, attachment: XDPAttachment) throws(XDPError) {
        self.configuration = configuration
        areaSize = Int(configuration.frameCount) * Int(configuration.frameSize)
        guard let mapped = mmap(nil, areaSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), mapped != MAP_FAILED else {
            throw XDPError(step: "mapping \(areaSize) bytes of UMEM", reason: XDPAttachment.text(errno))
        }
        area = mapped
        free = .allocate(capacity: Int(configuration.frameCount))
        var umemConfig = xsk_umem_config(
            fill_size: configuration.ringSize, comp_size: configuration.ringSize, frame_size: configuration.frameSize,
            frame_headroom: 0, flags: 0)
        var umem: OpaquePointer?
        var result = xsk_umem__create(&umem, area, UInt64(areaSize), &fill, &completion, &umemConfig)
        guard result == 0 else {
            release()
            throw XDPError(step: "registering the UMEM", reason: XDPAttachment.text(result)
                           + (result == -EPERM || result == -ENOMEM ? " (raise the locked memory limit: ulimit -l, or LimitMEMLOCK= in the unit)" : ""))
        }
        self.umem = umem
        var socketConfig = xsk_socket_config()
        socketConfig.rx_size = configuration.ringSize
        socketConfig.tx_size = configuration.ringSize
        // Dromos's own program is attached already; libxdp's default one would take ARP as well.
        socketConfig.libxdp_flags = UInt32(XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD)
        socketConfig.bind_flags = UInt16(XDP_USE_NEED_WAKEUP) | UInt16(configuration.zeroCopy ? XDP_ZEROCOPY : XDP_COPY)
        var socket: OpaquePointer?
        result = xsk_socket__create(&socket, configuration.interface, configuration.queue, umem, &rx, &tx, &socketConfig)
        guard result == 0 else {
            release()
            throw XDPError(step: "opening the AF_XDP socket on \(configuration.interface) queue \(configuration.queue)", reason: XDPAttachment.text(result)
                           + (configuration.zeroCopy && result == -EOPNOTSUPP ? " (the driver offers no zero-copy: use copy mode)" : ""))
        }
        self.socket = socket
        result = xsk_socket__update_xskmap(socket, attachment.socketsMap)
        guard result == 0 else {
            release()
            throw XDPError(step: "registering the socket with the XDP program", reason: XDPAttachment.text(result))
        }
        for frame in 0..<configuration.frameCount { free[Int(frame)] = UInt64(frame) * UInt64(configuration.frameSize) }
        freeCount = Int(configuration.frameCount)
        refill(upTo: configuration.frameCount / 2)
    }

    deinit { release() }

    private func release() {
        if let socket { xsk_socket__delete(socket) }
        socket = nil
        if let umem { _ = xsk_umem__delete(umem) }
        umem = nil
        munmap(area, areaSize)
        free.deallocate()
    }

    public var fileDescriptor: Int32 { socket.map { xsk_socket__fd($0) } ?? -1 }

    /// Moves free frames to the fill ring, at most `limit`. No more than the ring has room for: a
    /// reservation is all or nothing, and one larger than the room refilled nothing at all, so the fill
    /// ring ran dry under load (the kernel's fill-ring-empty drops) while the free stack was full.
    private func refill(upTo limit: UInt32) {
        let wanted = min(UInt32(freeCount), limit, xsk_prod_nb_free(&fill, configuration.ringSize))
        guard wanted > 0 else { return }
        var index: UInt32 = 0
        let reserved = xsk_ring_prod__reserve(&fill, wanted, &index)
        // Int ranges: a range of UInt32 is iterated through the standard library's unspecialized generic
        // code in debug builds, which allocates.
        for offset in 0..<Int(reserved) {
            freeCount -= 1
            xsk_ring_prod__fill_addr(&fill, index &+ UInt32(truncatingIfNeeded: offset)).pointee = free[freeCount]
        }
        xsk_ring_prod__submit(&fill, reserved)
    }

    /// Frames the kernel has sent: free again.
    private func reclaimCompletions() {
        var index: UInt32 = 0
        let done = xsk_ring_cons__peek(&completion, configuration.ringSize, &index)
        guard done > 0 else { return }
        for offset in 0..<Int(done) {
            free[freeCount] = xsk_ring_cons__comp_addr(&completion, index &+ UInt32(truncatingIfNeeded: offset)).pointee
            freeCount += 1
        }
        xsk_ring_cons__release(&completion, done)
    }

    public func receive(budget: Int, _ body: (inout ReceivedFrame) -> Void) -> Int {
        var index: UInt32 = 0
        let ready = xsk_ring_cons__peek(&rx, UInt32(clamping: budget), &index)
        guard ready > 0 else {
            // Nothing arrives while the fill ring is empty: frames sent since the last batch go back to it.
            reclaimCompletions()
            refill(upTo: configuration.ringSize)
            return 0
        }
        for offset in 0..<Int(ready) {
            let descriptor = xsk_ring_cons__rx_desc(&rx, index &+ UInt32(truncatingIfNeeded: offset))!.pointee
            let address = xsk_umem__extract_addr(descriptor.addr)
            heldAddress = address
            heldTaken = false
            let bytes = UnsafeMutableRawBufferPointer(start: area + Int(xsk_umem__add_offset_to_addr(descriptor.addr)), count: Int(descriptor.len))
            var frame = ReceivedFrame(bytes: bytes, wireLength: Int(descriptor.len), offload: .none, timestampNanoseconds: 0, packetType: 0)
            body(&frame)
            if !heldTaken {
                free[freeCount] = address
                freeCount += 1
            }
        }
        counters.received &+= UInt64(ready)
        xsk_ring_cons__release(&rx, ready)
        reclaimCompletions()
        refill(upTo: configuration.ringSize)
        return Int(ready)
    }

    @discardableResult
    public func transmit(_ frame: ReceivedFrame) -> Bool {
        // Two members of one class-held struct cannot be inout at once (an exclusivity conflict): locals.
        var sampled = counters.checksumsSampled, bad = counters.checksumsBad
        ChecksumSample.check(UnsafeRawBufferPointer(frame.bytes), sent: counters.transmitted &+ counters.notSent,
                             sampled: &sampled, bad: &bad)
        counters.checksumsSampled = sampled
        counters.checksumsBad = bad
        let start = frame.bytes.baseAddress!
        let frameSize = UInt64(configuration.frameSize)
        let isHeld = !heldTaken && start >= area && start < area + areaSize
            && UInt64(start - area) / frameSize == heldAddress / frameSize
        // A frame from elsewhere needs a free UMEM frame to be copied into, found before the TX slot.
        guard isHeld || (freeCount > 0 && frame.bytes.count <= Int(configuration.frameSize)) else {
            counters.notSent &+= 1
            return false
        }
        var index: UInt32 = 0
        guard xsk_ring_prod__reserve(&tx, 1, &index) == 1 else {
            counters.notSent &+= 1
            return false
        }
        let descriptor = xsk_ring_prod__tx_desc(&tx, index)!
        if isHeld {
            // The frame the receive body holds: it leaves from where it lies.
            descriptor.pointee.addr = UInt64(start - area)
            heldTaken = true
        } else {
            freeCount -= 1
            let address = free[freeCount]
            (area + Int(address)).copyMemory(from: start, byteCount: frame.bytes.count)
            descriptor.pointee.addr = address
            counters.copied &+= 1
        }
        descriptor.pointee.len = UInt32(frame.bytes.count)
        descriptor.pointee.options = 0
        xsk_ring_prod__submit(&tx, 1)
        pendingTransmits &+= 1
        counters.transmitted &+= 1
        return true
    }

    /// Kicks the kernel to send what `transmit` queued when it asks for it (need-wakeup). In copy mode
    /// one `sendto` sends at most a budget of frames (32 before kernel 6.17's XDP_MAX_TX_SKB_BUDGET) and
    /// answers EAGAIN while more are queued: kicked until the ring is empty or the driver is busy, else
    /// a batch larger than the budget left frames in the TX ring, holding UMEM frames the fill ring then
    /// lacked (RX drops under load) and delaying the last frames of a burst until the next one came.
    public func flush() {
        guard pendingTransmits > 0 else { return }
        if xsk_ring_prod__needs_wakeup(&tx) != 0 {
            var kicks = 0
            while kicks < Self.maximumKicks, sendto(fileDescriptor, nil, 0, Int32(MSG_DONTWAIT), nil, 0) < 0, errno == EAGAIN {
                kicks += 1
            }
        }
        // What the kernel has not taken yet keeps the port pending: the next flush (or the idle wait) kicks again.
        pendingTransmits = configuration.ringSize - xsk_prod_nb_free(&tx, configuration.ringSize)
        reclaimCompletions()
    }

    /// Enough kicks of 32 frames for a full TX ring; a bound, so a stuck driver cannot hold the worker.
    private static let maximumKicks = 64

    public func waitForFrames(timeoutMilliseconds: Int32) throws(SystemCallError) -> Bool {
        // Frames still in the TX ring (the driver was busy): kick again soon instead of sleeping on them.
        let timeout = pendingTransmits > 0 ? min(timeoutMilliseconds, 1) : timeoutMilliseconds
        flush()
        var descriptor = pollfd(fd: fileDescriptor, events: Int16(POLLIN), revents: 0)
        let ready = try Syscall.call("poll(AF_XDP)") { Int(poll(&descriptor, 1, timeout)) }
        return ready > 0
    }

    /// The kernel's drops for this socket: no frame in the fill ring (or too long for one), the RX ring
    /// full. Not `rx_fill_ring_empty_descs` as well: it counts the times the kernel found the fill ring
    /// empty, the same events as the first kind, so the sum counted them twice.
    public func currentRingDrops() -> UInt64 {
        var statistics = xdp_statistics()
        var length = socklen_t(MemoryLayout<xdp_statistics>.size)
        guard getsockopt(fileDescriptor, SOL_XDP, XDP_STATISTICS, &statistics, &length) == 0 else { return 0 }
        return statistics.rx_dropped &+ statistics.rx_ring_full
    }
}

extension AFXDPPort: PacketPort {
    public func refreshKernelStatistics() {}
    public var framesNotSent: UInt64 { counters.notSent }
    public var framesTruncated: UInt64 { 0 }
    public var framesWithBadChecksums: UInt64 { counters.checksumsBad }
}
