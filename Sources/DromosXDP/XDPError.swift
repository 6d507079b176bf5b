/// Why the XDP program or an AF_XDP socket could not be set up, with what to do about it where there is
/// something to do.
public struct XDPError: Error, Equatable, Sendable, CustomStringConvertible {
    public let step: String
    public let reason: String

    public init(step: String, reason: String) {
        self.step = step
        self.reason = reason
    }

    public var description: String { "\(step): \(reason)" }
}
