import DromosSystem
import DromosWire

/// Why a `PcapLivePort` could not be opened or used: the interface, the libpcap call, and libpcap's
/// own message (errbuf, pcap_geterr or pcap_statustostr).
public struct PcapLiveError: Error, Equatable, Sendable, CustomStringConvertible {
    public let interface: String
    public let call: String
    public let message: String

    public init(interface: String, call: String, message: String) {
        self.interface = interface
        self.call = call
        self.message = message
    }

    public var description: String { "libpcap on \(interface): \(call): \(message)" }
}
