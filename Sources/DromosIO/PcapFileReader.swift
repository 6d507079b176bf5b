import CPcap
import DromosSystem
import DromosWire

/// One frame of a capture file. `bytes` points into libpcap's buffer and is valid only inside the
/// callback that receives it: the next frame overwrites it.
public struct CapturedFrame {
    public let bytes: UnsafeRawBufferPointer
    public let wireLength: Int
    public let timestampNanoseconds: Int64
}

/// Reads pcap and pcapng files through libpcap, frame by frame, without copying them.
public final class PcapFileReader {
    public static let ethernetLinkType: Int32 = 1

    public let path: String
    public let linkType: Int32
    private let handle: OpaquePointer

    public init(path: String) throws(CaptureError) {
        var message = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE))
        guard let handle = pcap_open_offline_with_tstamp_precision(
            path, UInt32(PCAP_TSTAMP_PRECISION_NANO), &message)
        else {
            throw CaptureError(path: path, reason: String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        self.path = path
        self.handle = handle
        self.linkType = pcap_datalink(handle)
    }

    deinit {
        pcap_close(handle)
    }

    public var linkTypeName: String {
        let name = pcap_datalink_val_to_name(linkType).map { String(cString: $0) } ?? "unknown"
        let text = pcap_datalink_val_to_description(linkType).map { String(cString: $0) } ?? "no description"
        return "\(name) (\(text), link type \(linkType))"
    }

    /// Dromos handles Ethernet only; anything else gets an error that says what the file holds and how
    /// to capture one that works.
    public func requireEthernet() throws(CaptureError) {
        guard linkType != Self.ethernetLinkType else { return }
        var reason = "link type \(linkTypeName) is not Ethernet; Dromos reads Ethernet captures only"
        if linkType == 113 || linkType == 276 {
            reason += " (capture on the balancer's interface, e.g. tcpdump -i eth0, not -i any)"
        }
        throw CaptureError(path: path, reason: reason)
    }

    /// Hands every frame to `body` in file order. A file cut short ends with an error after the frames
    /// before the cut were delivered, so nothing readable is lost.
    public func forEachFrame<E: Error>(_ body: (CapturedFrame) throws(E) -> Void) throws {
        var header: UnsafeMutablePointer<pcap_pkthdr>? = nil
        var data: UnsafePointer<UInt8>? = nil
        while true {
            let result = pcap_next_ex(handle, &header, &data)
            switch result {
            case 1:
                guard let header, let data else { continue }
                let frame = CapturedFrame(
                    bytes: UnsafeRawBufferPointer(start: data, count: Int(header.pointee.caplen)),
                    wireLength: Int(header.pointee.len),
                    timestampNanoseconds: Int64(header.pointee.ts.tv_sec) * 1_000_000_000 + Int64(header.pointee.ts.tv_usec))
                try body(frame)
            case PCAP_ERROR_BREAK:
                return
            default:
                throw CaptureError(path: path, reason: String(cString: pcap_geterr(handle)))
            }
        }
    }
}
