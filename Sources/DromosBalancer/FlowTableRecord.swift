public import DromosWire

/// Where a flow goes. Trivial fields only, so a record copies without ARC and the table stores it inline.
public struct FlowTarget: Hashable, Sendable {
    /// Outlives table rebuilds: after a new `ForwardingTable`, a flow is re-pinned by this address.
    public var backend: IPAddress
    /// The service the flow was steered by, as an index into the table of epoch `generation` (valid only
    /// then, like `backendIndex`), or `unknownService`: a known flow's frame skips the service lookup.
    /// 16 bits, declared here, so it takes the padding after `backend` and entries stay 88 bytes.
    public var serviceIndex: UInt16
    /// Valid only while the worker's table epoch is `generation`; saves a search while that table is current.
    public var backendIndex: Int32
    /// The worker's epoch (its count of adopted tables) when `backendIndex` was stored.
    public var generation: UInt32
    /// The first fragment's destination port and transport: later fragments carry no ports (and in
    /// IPv6 may not show the transport), and the fragment table needs both to find the service again.
    public var servicePort: UInt16
    public var serviceTransport: UInt8

    /// No service index stored (or one beyond 16 bits): the service is looked up.
    public static let unknownService = UInt16.max

    public init(backend: IPAddress, backendIndex: Int32, generation: UInt32, servicePort: UInt16 = 0,
                serviceTransport: UInt8 = 0, serviceIndex: UInt16 = FlowTarget.unknownService) {
        self.backend = backend
        self.serviceIndex = serviceIndex
        self.backendIndex = backendIndex
        self.generation = generation
        self.servicePort = servicePort
        self.serviceTransport = serviceTransport
    }
}

/// A flow's timeout class. Each class has its own recency list, so the oldest entry of a class is always
/// the next of that class to expire.
public enum FlowState: UInt8, Sendable, CaseIterable {
    case tcpSynReceived
    case tcpEstablished
    case tcpClosing
    /// Every protocol without a connection state: UDP, ICMP, and the rest.
    case udp

    /// How many classes there are, without building `allCases` (an array) on the packet path. `udp` is the
    /// last case and raw values count up from 0.
    static var classCount: Int { Int(FlowState.udp.rawValue) &+ 1 }

    /// The class a new flow starts in. A first TCP segment with ACK and without SYN (this worker lost the
    /// entry, or the flow moved here from another balancer) belongs to a connection that already exists,
    /// so it gets the established timeout rather than a minute.
    public static func initial(ipProtocol: UInt8, tcpFlags: UInt8) -> FlowState {
        guard ipProtocol == IPProtocolNumber.tcp else { return .udp }
        return FlowState.tcpSynReceived.after(tcpFlags: tcpFlags)
    }

    /// The class after a segment with `tcpFlags`. Only SYN, ACK, FIN and RST matter: ECN's ECE/CWR ride
    /// on a SYN without making it less of one. Closing is final so that a late retransmission cannot
    /// stretch a finished connection back to the established timeout.
    public func after(tcpFlags: UInt8) -> FlowState {
        switch self {
        case .udp, .tcpClosing:
            return self
        case .tcpSynReceived, .tcpEstablished:
            if tcpFlags & (TCPFlag.fin | TCPFlag.rst) != 0 { return .tcpClosing }
            switch tcpFlags & (TCPFlag.syn | TCPFlag.ack) {
            case TCPFlag.syn: return .tcpSynReceived
            case TCPFlag.ack: return .tcpEstablished
            default: return self
            }
        }
    }
}

/// A copy of one entry, for callers that outlive it (eviction, expiry, sampling).
public struct FlowRecord: Hashable, Sendable {
    public var key: FlowKey
    public var target: FlowTarget
    public var state: FlowState
    /// Milliseconds on the caller's monotonic clock.
    public var lastSeen: UInt64

    public init(key: FlowKey, target: FlowTarget, state: FlowState, lastSeen: UInt64) {
        self.key = key
        self.target = target
        self.state = state
        self.lastSeen = lastSeen
    }
}

/// A live entry of one `FlowTable`. Valid until that entry is removed, evicted or expired; a handle kept
/// past that names whatever flow reuses the slot, so it must not outlive the packet that looked it up.
public struct FlowHandle: Hashable, Sendable {
    let index: Int32
}

public enum FlowLookup: Sendable {
    case found(FlowHandle)
    /// The flow was idle past its timeout; it is already removed, and this is what it was.
    case expired(FlowRecord)
    case missing
}
