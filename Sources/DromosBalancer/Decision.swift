public import DromosWire

public enum Verdict: UInt8, Sendable, CaseIterable {
    /// Sent on to a backend with its MACs rewritten.
    case forward
    /// Not ours: left to the kernel, which may have a use for it.
    case pass
    /// Ours, but it cannot be forwarded; counted and left alone.
    case drop
    /// Answered by Dromos itself (ARP or neighbor solicitation for a VIP).
    case reply

    public var name: String {
        switch self {
        case .forward: return "forward"
        case .pass: return "pass"
        case .drop: return "drop"
        case .reply: return "reply"
        }
    }
}

/// Why a verdict was reached. `malformed` carries the parser's own reason in `Decision.parseStatus`.
public enum DecisionReason: UInt8, Sendable, CaseIterable {
    case ok
    case icmpError
    case fragment
    case noService
    case notIP
    case arp
    case malformed
    case noBackend
    case fragmentBeforeFirst
    case icmpNoFlow
    case truncatedCapture
    case unsupportedProtocol
    /// An ARP request for an announced VIP, answered with the balancer's MAC.
    case arpReply
    /// A neighbor solicitation for an announced VIP, answered with a neighbor advertisement.
    case ndpReply

    public var name: String {
        switch self {
        case .ok: return "ok"
        case .icmpError: return "icmp-error"
        case .fragment: return "fragment"
        case .noService: return "no-service"
        case .notIP: return "not-ip"
        case .arp: return "arp"
        case .malformed: return "malformed"
        case .noBackend: return "no-backend"
        case .fragmentBeforeFirst: return "fragment-before-first"
        case .icmpNoFlow: return "icmp-no-flow"
        case .truncatedCapture: return "truncated-capture"
        case .unsupportedProtocol: return "unsupported-protocol"
        case .arpReply: return "arp-reply"
        case .ndpReply: return "ndp-reply"
        }
    }
}

/// What `decide` concluded for one frame: trivial fields only, so it costs nothing to return.
public struct Decision: Sendable, Equatable {
    public var verdict: Verdict
    public var reason: DecisionReason
    /// The parser's reason when `reason` is `.malformed`.
    public var parseStatus: ParseStatus
    /// Index into the deciding table's `services`, or -1.
    public var serviceIndex: Int32
    /// Index into the deciding table's backends, or -1.
    public var backendIndex: Int32
    /// Whether this frame created the flow-table entry.
    public var isNewFlow: Bool

    @inlinable
    public init(_ verdict: Verdict, _ reason: DecisionReason, parseStatus: ParseStatus = .ok,
                serviceIndex: Int32 = -1, backendIndex: Int32 = -1, isNewFlow: Bool = false) {
        self.verdict = verdict
        self.reason = reason
        self.parseStatus = parseStatus
        self.serviceIndex = serviceIndex
        self.backendIndex = backendIndex
        self.isNewFlow = isNewFlow
    }

    /// The kebab-case reason for `explain`, counters and logs.
    public var reasonName: String {
        reason == .malformed ? parseStatus.name : reason.name
    }
}

/// Counter-table dimensions: each enum's last case plus one (raw values count up from 0), constants the
/// compiler folds. `allCases` builds an array, and a global initialized from it is reached through a
/// lazy-initialization call on every access; `BalancerWorker.init` checks the two agree.
@usableFromInline var decisionReasonCount: Int { Int(DecisionReason.ndpReply.rawValue) &+ 1 }
@usableFromInline var parseStatusCount: Int { Int(ParseStatus.malformedICMPInner.rawValue) &+ 1 }
@usableFromInline var verdictCount: Int { Int(Verdict.reply.rawValue) &+ 1 }
