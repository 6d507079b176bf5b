public import DromosSystem
import DromosWire

/// What a worker loop needs from a live port: receive a batch in place, transmit a copy, flush, wait.
/// `AFPacketPort` and `PcapLivePort` conform, so the loop (`PortBridge`, later the balancer's worker)
/// is written once and specialized for each.
///
/// Use it only as a generic constraint (`<Port: PacketPort>`), never as an existential
/// (`any PacketPort`): the per-frame calls must stay direct and inlinable, not go through a witness
/// table and a boxed closure for every batch.
public protocol PacketPort: AnyObject {
    /// Hands up to `budget` ready frames to `body` and returns how many it handed over (0: none ready,
    /// then `waitForFrames`). `body` must not call `receive` on the same port; it may `transmit`.
    func receive(budget: Int, _ body: (inout ReceivedFrame) -> Void) -> Int
    /// Sends (or queues) a copy of a frame, possibly one handed over by any port's `receive`.
    /// False when the frame was not sent: counted in the port's statistics, never silent.
    @discardableResult func transmit(_ frame: ReceivedFrame) -> Bool
    /// Sends what `transmit` queued; call at the end of each batch.
    func flush()
    /// For a poll set over several ports; the port keeps ownership.
    var fileDescriptor: Int32 { get }
    /// Waits until frames are ready or the timeout passes; true when frames are ready.
    func waitForFrames(timeoutMilliseconds: Int32) throws(SystemCallError) -> Bool
    /// Reads the kernel's counters into the port's statistics; a failure leaves the previous figures
    /// (they are reports, not decisions). Off the per-frame path.
    func refreshKernelStatistics()
    /// Frames `transmit` could not send since the port opened (full queue, too large for the link…):
    /// read once per batch by the worker, so the daemon can say so rather than drop them silently.
    var framesNotSent: UInt64 { get }
    /// Frames received cut short (larger than a ring slot or the snapshot length), never handed over.
    var framesTruncated: UInt64 { get }
    /// Forwarded frames found with a TCP/UDP checksum that does not hold, in the port's sample (libpcap:
    /// a sender's checksum offload it cannot see; a port with the vnet header has the kernel finish them).
    var framesWithBadChecksums: UInt64 { get }
    /// Frames the kernel dropped since the port opened because its receive ring was full. Reads the
    /// kernel's counters: for reports at a batch boundary, never per frame.
    func currentRingDrops() -> UInt64
}

extension AFPacketPort: PacketPort {
    public func refreshKernelStatistics() { _ = try? updateKernelStatistics() }
    public var framesNotSent: UInt64 { tx.counters.ringFull &+ tx.counters.queueFull &+ tx.counters.tooLarge }
    public var framesTruncated: UInt64 { rx.counters.truncated }
    /// The vnet header carries the offload state, so the kernel finishes what a sender left unfinished.
    public var framesWithBadChecksums: UInt64 { 0 }
    public func currentRingDrops() -> UInt64 {
        _ = try? updateKernelStatistics()
        return statistics.kernelDrops
    }
}
