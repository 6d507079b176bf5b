public import DromosSystem
import DromosWire

/// Why an `AFPacketPort` could not be opened.
public enum AFPacketError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The configuration cannot describe a ring the kernel accepts; the text says which rule.
    case invalidConfiguration(String)
    /// A setup step failed; the interface and the call are named.
    case system(interface: String, SystemCallError)

    public var description: String {
        switch self {
        case .invalidConfiguration(let reason): return "AF_PACKET configuration: \(reason)"
        case .system(let interface, let error): return "AF_PACKET on \(interface): \(error)"
        }
    }
}
