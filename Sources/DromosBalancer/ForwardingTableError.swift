/// A set of services that cannot become a forwarding table, with the service and the reason.
public struct ForwardingTableError: Error, Equatable, Sendable, CustomStringConvertible {
    public var service: String
    public var reason: String

    public init(service: String, reason: String) {
        self.service = service
        self.reason = reason
    }

    public var description: String { "service \(service): \(reason)" }
}
