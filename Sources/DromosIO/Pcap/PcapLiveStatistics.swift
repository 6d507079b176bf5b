import DromosSystem
import DromosWire

/// What a `PcapLivePort` counted since it opened. The kernel's part comes from pcap_stats as of the
/// last `updateKernelStatistics()`; libpcap accumulates those itself (the socket's counters reset on
/// read, libpcap's do not). They are 32-bit in libpcap and wrap.
public struct PcapLiveStatistics: Sendable, Equatable {
    /// ps_recv: frames the kernel passed to the socket (on Linux including those it dropped).
    public var kernelReceived: UInt64 = 0
    /// ps_drop: frames dropped because the ring was full.
    public var kernelDrops: UInt64 = 0
    /// ps_ifdrop: frames the interface dropped (Linux: the device's rx_dropped-style counters).
    public var interfaceDrops: UInt64 = 0

    /// Frames handed to `receive` bodies.
    public var received: UInt64 = 0
    public var receivedBytes: UInt64 = 0
    /// Frames libpcap captured shorter than on the wire (caplen < len): counted, never handed over.
    public var truncated: UInt64 = 0

    /// Frames sent by pcap_inject (one send() each) and those it refused.
    public var transmitted: UInt64 = 0
    public var transmittedBytes: UInt64 = 0
    public var transmitFailed: UInt64 = 0
    /// Forwarded frames whose TCP/UDP checksum was checked (one in `checksumSampleInterval`), and those
    /// of them it did not hold for: a sender's offload left it unfinished (see `TransportChecksum`).
    public var checksumsSampled: UInt64 = 0
    public var checksumsBad: UInt64 = 0

    public init() {}
}
