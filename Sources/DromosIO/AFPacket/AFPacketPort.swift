import CLinuxPacket
public import DromosSystem
import DromosWire
import Glibc

/// A live port on one interface through an AF_PACKET socket: an RX ring (TPACKET_V3 or V2) and a TX
/// ring or sendmmsg, with PACKET_VNET_HDR on both sides so offloaded frames (partial checksums, GRO
/// super-frames) pass through intact. See docs/ARCHITECTURE.md, "AF_PACKET port", for the choices and
/// their measurements.
///
/// Owned by one thread: `receive`, `transmit` and `flush` are not thread-safe, and `transmit` may be
/// called from inside a `receive` body. The ring state lives in structs marked
/// `@exclusivity(unchecked)`: a per-frame dynamic exclusivity check on a class property costs a
/// runtime call, and single-thread ownership already rules out overlapping access.
public final class AFPacketPort {
    public let configuration: AFPacketConfiguration
    public let interfaceIndex: Int32
    let descriptor: SocketDescriptor
    let mapping: RingMapping
    @exclusivity(unchecked) var rx: ReceiveRing
    @exclusivity(unchecked) var tx: TransmitPath
    @exclusivity(unchecked) var kernel = AFPacketStatistics()

    /// Opens and binds the socket in the order that avoids bogus drops: protocol 0 (nothing is
    /// queued yet), version, vnet header, loss mode, rings, mapping, options, then bind to ETH_P_ALL
    /// on the interface, then join the fanout group (which needs a bound socket).
    public init(_ configuration: AFPacketConfiguration) throws(AFPacketError) {
        let interface = configuration.interface
        func step<T: ~Copyable>(_ body: () throws(SystemCallError) -> T) throws(AFPacketError) -> T {
            do { return try body() } catch { throw .system(interface: interface, error) }
        }
        let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        let receiveGeometry = RingGeometry(
            blockSize: configuration.blockSize, blockCount: configuration.blockCount,
            // V3 packs frames of any size into a block; its frame size only has to divide the block.
            frameSize: configuration.version == .v3 ? Int(TPACKET_ALIGNMENT) * 128 : configuration.frameSize)
        try receiveGeometry.validate("RX ring", pageSize: pageSize)
        let transmitGeometry = RingGeometry(
            blockSize: configuration.blockSize,
            blockCount: configuration.transmitMode == .ring ? configuration.transmitBlockCount : 0,
            frameSize: configuration.frameSize)
        if configuration.transmitMode == .ring { try transmitGeometry.validate("TX ring", pageSize: pageSize) }
        guard configuration.transmitBatch > 0, configuration.transmitBatch <= 1024 else {
            throw .invalidConfiguration("transmit batch \(configuration.transmitBatch) must be 1...1024")
        }
        guard configuration.retireTimeoutMilliseconds >= 1 || configuration.version == .v2 else {
            // 0 asks the kernel to derive a timeout from the link speed (8 ms and more): never what we want.
            throw .invalidConfiguration("retire timeout must be at least 1 ms")
        }

        self.configuration = configuration
        let interfaceIndex = try step { () throws(SystemCallError) in try Syscall.interfaceIndex(interface) }
        self.interfaceIndex = interfaceIndex
        let descriptor = try step { () throws(SystemCallError) in
            try SocketDescriptor(domain: AF_PACKET, type: Int32(SOCK_RAW.rawValue), protocol: 0)
        }
        let version = configuration.version == .v3 ? TPACKET_V3 : TPACKET_V2
        let mapping = try step { () throws(SystemCallError) -> RingMapping in
            try Syscall.setOption(descriptor, level: SOL_PACKET, PACKET_VERSION, "setsockopt(PACKET_VERSION)", Int32(version.rawValue))
            // Must precede the rings (EBUSY after).
            try Syscall.setOption(descriptor, level: SOL_PACKET, PACKET_VNET_HDR, "setsockopt(PACKET_VNET_HDR)", Int32(1))
            // A malformed TX frame is skipped instead of stopping the ring.
            try Syscall.setOption(descriptor, level: SOL_PACKET, PACKET_LOSS, "setsockopt(PACKET_LOSS)", Int32(1))
            if configuration.version == .v3 {
                try Syscall.setOption(descriptor, level: SOL_PACKET, PACKET_RX_RING, "setsockopt(PACKET_RX_RING)",
                                      receiveGeometry.request3(retireTimeoutMilliseconds: configuration.retireTimeoutMilliseconds))
                if configuration.transmitMode == .ring {
                    // A V3 TX ring has fixed frames and no retire timer: those fields must be 0.
                    try Syscall.setOption(descriptor, level: SOL_PACKET, PACKET_TX_RING, "setsockopt(PACKET_TX_RING)",
                                          transmitGeometry.request3(retireTimeoutMilliseconds: 0))
                }
            } else {
                try Syscall.setOption(descriptor, level: SOL_PACKET, PACKET_RX_RING, "setsockopt(PACKET_RX_RING)", receiveGeometry.request)
                if configuration.transmitMode == .ring {
                    try Syscall.setOption(descriptor, level: SOL_PACKET, PACKET_TX_RING, "setsockopt(PACKET_TX_RING)", transmitGeometry.request)
                }
            }
            // One mapping: the RX ring first, the TX ring right after it (the kernel's layout).
            return try RingMapping(descriptor, length: receiveGeometry.byteCount + transmitGeometry.byteCount)
        }
        try step { () throws(SystemCallError) in
            if configuration.ignoreOutgoing {
                try Syscall.setOption(descriptor, level: SOL_PACKET, PACKET_IGNORE_OUTGOING, "setsockopt(PACKET_IGNORE_OUTGOING)", Int32(1))
            }
            if configuration.qdiscBypass {
                try Syscall.setOption(descriptor, level: SOL_PACKET, PACKET_QDISC_BYPASS, "setsockopt(PACKET_QDISC_BYPASS)", Int32(1))
            }
            var address = sockaddr_ll()
            address.sll_family = UInt16(AF_PACKET)
            address.sll_protocol = UInt16(ETH_P_ALL).bigEndian
            address.sll_ifindex = interfaceIndex
            _ = try withUnsafePointer(to: &address) { pointer throws(SystemCallError) in
                try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address throws(SystemCallError) in
                    try Syscall.call("bind") { Int(bind(descriptor.rawValue, address, socklen_t(MemoryLayout<sockaddr_ll>.size))) }
                }
            }
            if let fanout = configuration.fanout {
                try Syscall.setOption(descriptor, level: SOL_PACKET, PACKET_FANOUT, "setsockopt(PACKET_FANOUT)",
                                      UInt32(fanout.groupID) | UInt32(PACKET_FANOUT_HASH) << 16)
            }
        }
        rx = ReceiveRing(base: mapping.base, geometry: receiveGeometry, version: configuration.version,
                         completeChecksums: configuration.completeChecksumsInUserSpace)
        tx = TransmitPath(configuration: configuration, ring: mapping.base + receiveGeometry.byteCount, geometry: transmitGeometry)
        self.descriptor = descriptor
        self.mapping = mapping
    }

    deinit {
        tx.deallocate()
    }

    /// For a poll set over several ports; the port keeps ownership.
    public var fileDescriptor: Int32 { descriptor.rawValue }

    /// Waits until the kernel has handed over frames (a V2 slot, a retired V3 block) or the timeout
    /// passes; true when frames are ready.
    public func waitForFrames(timeoutMilliseconds: Int32) throws(SystemCallError) -> Bool {
        var request = pollfd(fd: descriptor.rawValue, events: Int16(POLLIN), revents: 0)
        let ready = try Syscall.call("poll") { Int(poll(&request, 1, timeoutMilliseconds)) }
        return ready > 0
    }

    /// Reads PACKET_STATISTICS into the cumulative kernel counters (the kernel resets them on read).
    public func updateKernelStatistics() throws(SystemCallError) {
        var figures = tpacket_stats_v3()
        try Syscall.getOption(descriptor, level: SOL_PACKET, PACKET_STATISTICS, "getsockopt(PACKET_STATISTICS)", into: &figures)
        kernel.kernelPackets &+= UInt64(figures.tp_packets)
        kernel.kernelDrops &+= UInt64(figures.tp_drops)
        kernel.kernelFreezes &+= UInt64(figures.tp_freeze_q_cnt)
    }

    /// Everything counted so far; the kernel's part as of the last `updateKernelStatistics()`.
    public var statistics: AFPacketStatistics {
        var all = kernel
        rx.counters.add(to: &all)
        tx.counters.add(to: &all)
        return all
    }

    /// The last error a send returned other than "queue full" (those are counted); nil if none.
    public var lastTransmitError: SystemCallError? { tx.lastError }
}
