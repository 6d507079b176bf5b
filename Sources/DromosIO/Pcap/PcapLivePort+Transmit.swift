import CPcap
import DromosSystem
import DromosWire

extension PcapLivePort {
    /// Sends `frame` at once with pcap_inject: one send() per frame (libpcap has no batched send and
    /// no TX ring). False when libpcap refused it (counted, message in `lastTransmitError`).
    @discardableResult
    public func transmit(_ frame: UnsafeRawBufferPointer) -> Bool {
        let sent = pcap_inject(handle, frame.baseAddress, frame.count)
        guard sent == Int32(frame.count) else {
            tx.transmitFailed &+= 1
            recordTransmitError()
            return false
        }
        tx.transmitted &+= 1
        tx.transmittedBytes &+= UInt64(frame.count)
        return true
    }

    /// Forwarded frames between two whose checksum is checked: often enough to notice within a second
    /// at any useful rate, rare enough to cost nothing measurable (a parse and a sum of one frame).
    public static let checksumSampleInterval: UInt64 = 64

    /// A frame from any port's `receive`. Its offload state is ignored: libpcap sends raw frames, so one
    /// in `checksumSampleInterval` has its TCP/UDP checksum checked (`framesWithBadChecksums`).
    @discardableResult
    public func transmit(_ frame: ReceivedFrame) -> Bool {
        let bytes = UnsafeRawBufferPointer(frame.bytes)
        // Among the first 64 frames every one until one could be checked (the first might be an ARP reply
        // or an ICMP error), so a link that leaves checksums unfinished is noticed at its first TCP/UDP
        // frame; then one in 64, also on a link whose frames can never be checked.
        let sent = tx.transmitted &+ tx.transmitFailed
        if (tx.checksumsSampled == 0 && sent < Self.checksumSampleInterval) || sent % Self.checksumSampleInterval == 0,
           let holds = TransportChecksum.holds(bytes, FrameParser.parse(bytes)) {
            tx.checksumsSampled &+= 1
            if !holds { tx.checksumsBad &+= 1 }
        }
        return transmit(bytes)
    }

    /// Nothing is queued (every transmit is its own send()); here for the `PacketPort` loop shape.
    @inlinable public func flush() {}
}

extension PcapLivePort: PacketPort {
    public func refreshKernelStatistics() { _ = try? updateKernelStatistics() }
    public var framesNotSent: UInt64 { tx.transmitFailed }
    public var framesTruncated: UInt64 { rx.truncated }
    public var framesWithBadChecksums: UInt64 { tx.checksumsBad }
    public func currentRingDrops() -> UInt64 {
        _ = try? updateKernelStatistics()
        return statistics.kernelDrops
    }
}
