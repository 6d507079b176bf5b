import CLinuxPacket
import CPcap
public import DromosSystem
import DromosWire
import Glibc

/// A live port on one interface through libpcap (`--io pcap`): the portable fallback next to
/// `AFPacketPort`, with the same receive → transmit → flush shape (`PacketPort`). See
/// docs/ARCHITECTURE.md, "The libpcap live port".
///
/// Setup: pcap_create → immediate mode (libpcap then uses a TPACKET_V2 ring: a frame is handed over
/// at once, no block timeout) → buffer size → snaplen 262,144 → nanosecond timestamps → activate →
/// pcap_setdirection(PCAP_D_IN) (only frames the interface received; our own injected frames and the
/// host's outgoing ones are dropped by libpcap, in user space, after it looked at them) →
/// non-blocking → the selectable descriptor for poll.
///
/// Frames live in libpcap's ring read-only, so each is copied into one preallocated scratch buffer
/// of the port and handed over there: the body may rewrite it in place; the next frame overwrites
/// it. `transmit` is pcap_inject: one send() per frame (there is no batch to flush). libpcap has no
/// vnet header: a frame with a partial checksum or a GSO super-frame (veth with default offloads) is
/// handed over as is and sent as is, so the receiver sees a bad checksum or the send fails
/// (EMSGSIZE). Use it on interfaces without those offloads (real NICs give finished checksums; the
/// lab turns veth offloads off).
///
/// Fanout: `configuration.fanout` joins the handle's AF_PACKET socket (`pcap_fileno`) to a
/// PACKET_FANOUT hash group, so `dromos run --io pcap --workers N` splits flows like AF_PACKET does.
///
/// SIGINT: `receive` never blocks (non-blocking pcap_dispatch returns once the ring is empty or the
/// budget is used), so a loop that checks a stop flag between batches stops without
/// pcap_breakloop, which only matters for a pcap_loop/blocking dispatch that would not return.
///
/// Owned by one thread, like `AFPacketPort`; `transmit` may be called from inside a `receive` body.
public final class PcapLivePort {
    public let configuration: PcapLiveConfiguration
    let handle: OpaquePointer
    let selectableDescriptor: Int32
    /// One frame's worth of writable memory, reused for every frame.
    let scratch: UnsafeMutableRawPointer
    /// 1 with nanosecond timestamps, 1,000 if libpcap only gave microseconds.
    let nanosecondsPerTick: Int64
    /// pcap_activate's warning (e.g. promiscuous mode unsupported), if it gave one.
    public let activationWarning: String?
    @exclusivity(unchecked) var rx = PcapLiveStatistics()
    @exclusivity(unchecked) var tx = PcapLiveStatistics()
    @exclusivity(unchecked) var kernel = PcapLiveStatistics()
    /// libpcap's message for the last failed pcap_inject / pcap_dispatch; nil if none.
    public private(set) var lastTransmitError: String? = nil
    public private(set) var lastReceiveError: String? = nil

    public init(_ configuration: PcapLiveConfiguration) throws(PcapLiveError) {
        let interface = configuration.interface
        var errorBuffer = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE) + 1)
        guard let handle = pcap_create(interface, &errorBuffer) else {
            throw PcapLiveError(interface: interface, call: "pcap_create", message: Self.text(errorBuffer))
        }
        func failure(_ call: String, _ status: Int32) -> PcapLiveError {
            PcapLiveError(interface: interface, call: call, message: Self.message(handle, status: status))
        }
        func check(_ call: String, _ status: Int32) throws(PcapLiveError) {
            if status != 0 { throw failure(call, status) }
        }
        do throws(PcapLiveError) {
            guard configuration.bufferSize > 0, configuration.bufferSize <= Int(Int32.max) else {
                throw PcapLiveError(interface: interface, call: "configuration",
                                    message: "buffer size \(configuration.bufferSize) must be 1...\(Int32.max) bytes")
            }
            try check("pcap_set_immediate_mode", pcap_set_immediate_mode(handle, 1))
            try check("pcap_set_buffer_size", pcap_set_buffer_size(handle, Int32(configuration.bufferSize)))
            guard configuration.snapshotLength >= 64, configuration.snapshotLength <= 262_144 else {
                throw PcapLiveError(interface: interface, call: "configuration",
                                    message: "snapshot length \(configuration.snapshotLength) must be 64...262144 bytes")
            }
            try check("pcap_set_snaplen", pcap_set_snaplen(handle, Int32(configuration.snapshotLength)))
            let nano = pcap_set_tstamp_precision(handle, Int32(PCAP_TSTAMP_PRECISION_NANO)) == 0
            let status = pcap_activate(handle)
            if status < 0 { throw failure("pcap_activate", status) }
            activationWarning = status > 0 ? Self.message(handle, status: status) : nil
            // Only after activation (the socket exists then).
            try check("pcap_setdirection(PCAP_D_IN)", pcap_setdirection(handle, PCAP_D_IN))
            if pcap_setnonblock(handle, 1, &errorBuffer) != 0 {
                throw PcapLiveError(interface: interface, call: "pcap_setnonblock", message: Self.text(errorBuffer))
            }
            let descriptor = pcap_get_selectable_fd(handle)
            guard descriptor >= 0 else {
                throw PcapLiveError(interface: interface, call: "pcap_get_selectable_fd", message: "no selectable descriptor")
            }
            let linkType = pcap_datalink(handle)
            guard linkType == 1 else {
                let name = pcap_datalink_val_to_name(linkType).map { String(cString: $0) } ?? "unknown"
                throw PcapLiveError(interface: interface, call: "pcap_datalink",
                                    message: "link type \(name) (\(linkType)) is not Ethernet; Dromos handles Ethernet only")
            }
            if let fanout = configuration.fanout {
                // libpcap has no fanout call; its socket is a bound, activated AF_PACKET socket, which
                // is all PACKET_FANOUT needs.
                var value = UInt32(fanout.groupID) | UInt32(PACKET_FANOUT_HASH) << 16
                let status = setsockopt(pcap_fileno(handle), Int32(SOL_PACKET), PACKET_FANOUT, &value,
                                        socklen_t(MemoryLayout<UInt32>.size))
                guard status == 0 else {
                    throw PcapLiveError(interface: interface, call: "setsockopt(PACKET_FANOUT) on pcap_fileno",
                                        message: systemErrorText())
                }
            }
            selectableDescriptor = descriptor
            nanosecondsPerTick = nano ? 1 : 1_000
        } catch {
            pcap_close(handle)
            throw error
        }
        self.configuration = configuration
        self.handle = handle
        scratch = UnsafeMutableRawPointer.allocate(byteCount: configuration.snapshotLength, alignment: 64)
    }

    deinit {
        pcap_close(handle)
        scratch.deallocate()
    }

    /// pcap_lib_version(), e.g. "libpcap version 1.10.5 (with TPACKET_V3)".
    public static var libraryVersion: String { String(cString: pcap_lib_version()) }

    /// For a poll set over several ports; libpcap keeps ownership.
    public var fileDescriptor: Int32 { selectableDescriptor }

    /// Waits until the ring has frames or the timeout passes; true when frames are ready.
    public func waitForFrames(timeoutMilliseconds: Int32) throws(SystemCallError) -> Bool {
        var request = pollfd(fd: selectableDescriptor, events: Int16(POLLIN), revents: 0)
        let ready = try Syscall.call("poll") { Int(poll(&request, 1, timeoutMilliseconds)) }
        return ready > 0
    }

    /// Reads pcap_stats (cumulative: libpcap adds up the socket's reset-on-read counters).
    public func updateKernelStatistics() throws(PcapLiveError) {
        var figures = pcap_stat()
        guard pcap_stats(handle, &figures) == 0 else {
            throw PcapLiveError(interface: configuration.interface, call: "pcap_stats", message: String(cString: pcap_geterr(handle)))
        }
        kernel.kernelReceived = UInt64(figures.ps_recv)
        kernel.kernelDrops = UInt64(figures.ps_drop)
        kernel.interfaceDrops = UInt64(figures.ps_ifdrop)
    }

    /// Everything counted so far; the kernel's part as of the last `updateKernelStatistics()`.
    public var statistics: PcapLiveStatistics {
        var all = kernel
        all.received = rx.received
        all.receivedBytes = rx.receivedBytes
        all.truncated = rx.truncated
        all.transmitted = tx.transmitted
        all.transmittedBytes = tx.transmittedBytes
        all.transmitFailed = tx.transmitFailed
        all.checksumsSampled = tx.checksumsSampled
        all.checksumsBad = tx.checksumsBad
        return all
    }

    static func text(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// libpcap's own text for an error or warning: pcap_geterr when it wrote one, and the status name
    /// when it adds something ("Generic error" does not; nor does a repeat of the message).
    static func message(_ handle: OpaquePointer, status: Int32) -> String {
        let name = String(cString: pcap_statustostr(status))
        let detail = String(cString: pcap_geterr(handle))
        if detail.isEmpty { return name }
        return status == PCAP_ERROR || detail.contains(name) ? detail : "\(detail) (\(name))"
    }

    func recordReceiveError() {
        lastReceiveError = String(cString: pcap_geterr(handle))
    }

    func recordTransmitError() {
        lastTransmitError = String(cString: pcap_geterr(handle))
    }
}
