public import DromosBalancer

/// Why a probe failed, in the words the log and `dromos ctl backends` use; `kind` is the metrics label.
public struct ProbeFailure: Hashable, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable, CaseIterable {
        case refused
        case timeout
        case httpStatus = "http_status"
        case noSYNACK = "no_synack"
        case unreachable
        case error
    }

    public var kind: Kind
    public var description: String

    public init(_ kind: Kind, _ description: String) {
        self.kind = kind
        self.description = description
    }
}

/// One probe's answer and how long it took (to the answer or to the failure).
public struct ProbeOutcome: Hashable, Sendable {
    public var failure: ProbeFailure?
    public var nanoseconds: UInt64

    public static func up(after nanoseconds: UInt64) -> ProbeOutcome { ProbeOutcome(failure: nil, nanoseconds: nanoseconds) }
    public static func down(_ failure: ProbeFailure, after nanoseconds: UInt64) -> ProbeOutcome {
        ProbeOutcome(failure: failure, nanoseconds: nanoseconds)
    }

    public var isUp: Bool { failure == nil }
    /// `success` or the failure's kind: the label of the probe counter.
    public var label: String { failure?.kind.rawValue ?? "success" }
    public var text: String { failure?.description ?? "ok" }
}

/// A backend's health as the checks saw it: keepalived's and HAProxy's rise/fall. It starts up (as both
/// do: a new backend takes traffic until `fall` probes in a row fail), goes down after `fall` failures in
/// a row and comes back after `rise` successes in a row.
public struct BackendHealth: Hashable, Sendable {
    public private(set) var isUp = true
    public private(set) var successes = 0
    public private(set) var failures = 0
    public private(set) var lastOutcome: ProbeOutcome?
    /// Monotonic milliseconds of the last answer and of the last change (the start, before any).
    public private(set) var lastProbeAt: UInt64?
    public private(set) var changedAt: UInt64
    public private(set) var probes = 0

    public init(since now: UInt64) { changedAt = now }

    /// Counts the outcome; true when it changed `isUp`.
    public mutating func record(_ outcome: ProbeOutcome, rise: Int, fall: Int, at now: UInt64) -> Bool {
        lastOutcome = outcome
        lastProbeAt = now
        probes += 1
        if outcome.isUp {
            successes += 1
            failures = 0
            guard !isUp, successes >= rise else { return false }
        } else {
            failures += 1
            successes = 0
            guard isUp, failures >= fall else { return false }
        }
        isUp.toggle()
        changedAt = now
        return true
    }
}

/// A health transition, for the log and for the table.
public struct HealthTransition: Hashable, Sendable, CustomStringConvertible {
    public var target: HealthTarget
    public var isUp: Bool
    public var count: Int
    public var reason: String

    public var description: String {
        let backend = "service \(target.service) backend \(target.key.address)"
        return isUp
            ? "\(backend) is up: \(count) \(target.check.type.rawValue) probe(s) in a row succeeded"
            : "\(backend) is down: \(count) \(target.check.type.rawValue) probe(s) in a row failed (\(reason))"
    }
}

/// One backend to probe, with everything a probe needs to know of its service.
public struct HealthTarget: Hashable, Sendable {
    public var service: String
    public var key: BackendKey
    public var check: HealthCheckSpec

    public init(service: String, key: BackendKey, check: HealthCheckSpec) {
        self.service = service
        self.key = key
        self.check = check
    }

    /// Every backend of a service whose check sends probes.
    public static func all(_ services: [ServiceSpec]) -> [HealthTarget] {
        services.flatMap { service -> [HealthTarget] in
            guard let check = service.health, check.probes else { return [] }
            return service.backends.map { backend in
                HealthTarget(service: service.name, key: BackendKey(service: service.key, address: backend.address), check: check)
            }
        }
    }
}
extension ProbeFailure: Error {}
