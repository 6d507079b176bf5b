/// Idle timeouts per class, in milliseconds. A flow idle for exactly its timeout is still alive; one
/// millisecond more and it is expired.
public struct FlowTimeouts: Hashable, Sendable {
    /// IPVS's `syn_recv`: a handshake that has not completed in a minute is a scan or a flood, and holding
    /// its entry for the established timeout would let SYNs fill the table.
    public static let synReceivedMilliseconds: UInt64 = 60_000
    /// Keeps deadline arithmetic (`lastSeen + timeout`, differences as `Int64`) far from overflow.
    public static let maximumMilliseconds: UInt64 = 1 << 62

    public var synReceived: UInt64
    public var established: UInt64
    public var closing: UInt64
    public var udp: UInt64

    public init(synReceived: UInt64 = FlowTimeouts.synReceivedMilliseconds, established: UInt64, closing: UInt64,
                udp: UInt64) {
        self.synReceived = min(synReceived, Self.maximumMilliseconds)
        self.established = min(established, Self.maximumMilliseconds)
        self.closing = min(closing, Self.maximumMilliseconds)
        self.udp = min(udp, Self.maximumMilliseconds)
    }

    /// The spec has no SYN timeout of its own; see `synReceivedMilliseconds`.
    public init(spec: FlowTableSpec) {
        self.init(established: UInt64(clamping: spec.tcpEstablishedTimeoutMilliseconds),
                  closing: UInt64(clamping: spec.tcpClosingTimeoutMilliseconds),
                  udp: UInt64(clamping: spec.udpTimeoutMilliseconds))
    }

    public func milliseconds(for state: FlowState) -> UInt64 {
        switch state {
        case .tcpSynReceived: return synReceived
        case .tcpEstablished: return established
        case .tcpClosing: return closing
        case .udp: return udp
        }
    }
}
