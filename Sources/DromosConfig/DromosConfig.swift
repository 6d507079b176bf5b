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
    /// Where the Prometheus endpoint listens; nil (no `metrics:`) serves none.
    public var metricsListen: ListenAddress?
    /// `advertise:`; nil advertises nothing.
    public var advertise: AdvertiseSpec?

    public init(interface: String, mac: MACAddress? = nil, controlSocket: String = DromosConfig.defaultControlSocket,
                controlGroup: String? = nil, statePath: String? = nil, receiveRing: ReceiveRingKind? = nil,
                balancer: BalancerSpec, metricsListen: ListenAddress? = nil, advertise: AdvertiseSpec? = nil) {
        self.interface = interface
        self.mac = mac
        self.controlSocket = controlSocket
        self.controlGroup = controlGroup
        self.statePath = statePath
        self.receiveRing = receiveRing
        self.balancer = balancer
        self.metricsListen = metricsListen
        self.advertise = advertise
    }
}

/// An address and TCP port to listen on.
public struct ListenAddress: Hashable, Sendable, CustomStringConvertible {
    public static let defaultMetrics = ListenAddress(address: .v4(IPv4Address(127, 0, 0, 1)), port: 9469)

    public var address: IPAddress
    public var port: UInt16

    public init(address: IPAddress, port: UInt16) {
        self.address = address
        self.port = port
    }

    public var description: String { address.isIPv4 ? "\(address):\(port)" : "[\(address)]:\(port)" }

    /// `ADDRESS:PORT`, with an IPv6 address in brackets; nil with the reason otherwise.
    public struct ParseError: Error {
        public var reason: String
    }

    public static func parse(_ text: String) -> Result<ListenAddress, ParseError> {
        func problem(_ reason: String) -> Result<ListenAddress, ParseError> { .failure(ParseError(reason: reason)) }
        guard let colon = text.lastIndex(of: ":") else { return problem("must be ADDRESS:PORT (such as 127.0.0.1:9469), got \"\(text)\"") }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        else if host.contains(":") { return problem("must put an IPv6 address in brackets ([::1]:9469), got \"\(text)\"") }
        guard let port = UInt16(text[text.index(after: colon)...]), port > 0 else {
            return problem("must end in a port from 1 to 65535, got \"\(text)\"")
        }
        guard let address = try? IPAddress(parsing: host) else { return problem("must start with an IP address, got \"\(text)\"") }
        return .success(ListenAddress(address: address, port: port))
    }
}
