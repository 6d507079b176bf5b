public import DromosWire

/// Names one backend of one service; the control plane keys health and neighbor state by it.
public struct BackendKey: Hashable, Sendable, CustomStringConvertible {
    public var service: ServiceKey
    public var address: IPAddress

    public init(service: ServiceKey, address: IPAddress) {
        self.service = service
        self.address = address
    }

    public var description: String { "\(service) → \(address)" }
}

/// What the control plane knows of a backend beyond its spec.
public struct BackendState: Hashable, Sendable {
    /// False once health checks took it out.
    public var isUp: Bool
    /// Where frames for it go: the static MAC from the config, else what neighbor resolution found.
    public var mac: MACAddress?

    public init(isUp: Bool = true, mac: MACAddress? = nil) {
        self.isUp = isUp
        self.mac = mac
    }
}

/// An operator's override of a backend's health (`dromos ctl backend down|up`), kept until `auto` gives
/// the backend back to its checks. Down takes it out whatever the checks say (and also when every
/// other backend is down and the service forwards to all); up keeps it in whatever they say.
public enum ForcedHealth: String, Sendable, CaseIterable {
    case up
    case down
}
