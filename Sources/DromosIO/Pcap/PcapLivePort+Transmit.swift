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

    public static var checksumSampleInterval: UInt64 { ChecksumSample.interval }

    /// A frame from any port's `receive`. Its offload state is ignored: libpcap sends raw frames, so a
    /// sample of them has its TCP/UDP checksum checked (`ChecksumSample`, `framesWithBadChecksums`).
    @discardableResult
    public func transmit(_ frame: ReceivedFrame) -> Bool {
        let bytes = UnsafeRawBufferPointer(frame.bytes)
        ChecksumSample.check(bytes, sent: tx.transmitted &+ tx.transmitFailed, sampled: &tx.checksumsSampled, bad: &tx.checksumsBad)
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
