import CPcap
import DromosSystem
import DromosWire

/// Writes frames to a pcap file through libpcap, so what `replay` writes opens in any tool.
public final class PcapFileWriter {
    public let path: String
    private let deadHandle: OpaquePointer
    private let dumper: OpaquePointer

    public init(path: String, linkType: Int32 = PcapFileReader.ethernetLinkType, snapshotLength: Int32 = 262_144) throws(CaptureError) {
        guard let deadHandle = pcap_open_dead_with_tstamp_precision(linkType, snapshotLength, UInt32(PCAP_TSTAMP_PRECISION_NANO)) else {
            throw CaptureError(path: path, reason: "libpcap could not create a handle for link type \(linkType)")
        }
        guard let dumper = pcap_dump_open(deadHandle, path) else {
            let reason = String(cString: pcap_geterr(deadHandle))
            pcap_close(deadHandle)
            throw CaptureError(path: path, reason: reason)
        }
        self.path = path
        self.deadHandle = deadHandle
        self.dumper = dumper
    }

    deinit {
        pcap_dump_close(dumper)
        pcap_close(deadHandle)
    }

    /// - Parameter wireLength: the frame's length on the wire when `bytes` holds only part of it.
    public func write(_ bytes: UnsafeRawBufferPointer, wireLength: Int? = nil, timestampNanoseconds: Int64 = 0) {
        var header = pcap_pkthdr()
        header.ts.tv_sec = Int(timestampNanoseconds / 1_000_000_000)
        // With nanosecond precision libpcap stores this field as nanoseconds.
        header.ts.tv_usec = Int(timestampNanoseconds % 1_000_000_000)
        header.caplen = UInt32(bytes.count)
        header.len = UInt32(max(wireLength ?? bytes.count, bytes.count))
        guard let base = bytes.baseAddress else {
            withUnsafePointer(to: 0 as UInt8) { pcap_dump(UnsafeMutableRawPointer(dumper).assumingMemoryBound(to: UInt8.self), &header, $0) }
            return
        }
        pcap_dump(UnsafeMutableRawPointer(dumper).assumingMemoryBound(to: UInt8.self), &header, base.assumingMemoryBound(to: UInt8.self))
    }

    /// Pushes buffered frames to the file; also done when the writer goes away.
    public func flush() throws(CaptureError) {
        guard pcap_dump_flush(dumper) == 0 else {
            throw CaptureError(path: path, reason: "could not flush the capture file")
        }
    }
}
