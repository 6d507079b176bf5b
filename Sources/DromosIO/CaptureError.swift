import DromosSystem
import DromosWire

/// A capture file that cannot be used, with the file and the reason.
public struct CaptureError: Error, Equatable, Sendable, CustomStringConvertible {
    public let path: String
    public let reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    public var description: String { "\(path): \(reason)" }
}
