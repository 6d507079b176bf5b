public import DromosBalancer
public import DromosWire

/// The daemon's configuration file, read and validated (``ConfigLoader``).
public struct DromosConfig: Hashable, Sendable {
    public static let defaultControlSocket = "/run/dromos/control.sock"

    /// Frames arrive and leave here (one-armed).
    public var interface: String
    /// Source MAC of forwarded frames; nil means the interface's own.
    public var mac: MACAddress?
    public var controlSocket: String
    /// Group allowed to use the control socket besides root; nil leaves it to root.
    public var controlGroup: String?
    /// Where runtime pool changes are kept across restarts; nil keeps none.
    public var statePath: String?
    /// `datapath.rx_ring`: the AF_PACKET RX ring kind; nil leaves it to `--rx-ring` or the default.
    public var receiveRing: ReceiveRingKind?
    public var balancer: BalancerSpec

    public init(interface: String, mac: MACAddress? = nil, controlSocket: String = DromosConfig.defaultControlSocket,
                controlGroup: String? = nil, statePath: String? = nil, receiveRing: ReceiveRingKind? = nil,
                balancer: BalancerSpec) {
        self.interface = interface
        self.mac = mac
        self.controlSocket = controlSocket
        self.controlGroup = controlGroup
        self.statePath = statePath
        self.receiveRing = receiveRing
        self.balancer = balancer
    }
}
