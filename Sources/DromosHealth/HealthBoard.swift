public import DromosBalancer
import Synchronization

/// The checks' results as readers see them (`dromos ctl backends`, the metrics): replaced after every
/// probe, copied out under a lock held only for the copy.
public final class HealthBoard: Sendable {
    public struct Entry: Sendable {
        public var target: HealthTarget
        public var health: BackendHealth
        /// Probes by outcome label (`success`, `refused`, `timeout`, …).
        public var probes: [String: UInt64]
    }

    public typealias LatencyObserver = @Sendable (_ target: HealthTarget, _ outcome: String, _ seconds: Double) -> Void

    private let entries = Mutex<[BackendKey: Entry]>([:])
    private let observer = Mutex<LatencyObserver?>(nil)

    public init() {}

    public var snapshot: [BackendKey: Entry] { entries.withLock { $0 } }

    /// Where each probe's latency goes as it finishes (the metrics' histogram).
    public func observeLatency(_ body: @escaping LatencyObserver) {
        observer.withLock { $0 = body }
    }

    func replace(_ healthByKey: [BackendKey: BackendHealth], targets: [HealthTarget]) {
        entries.withLock { entries in
            var next: [BackendKey: Entry] = [:]
            for target in targets {
                guard let health = healthByKey[target.key] else { continue }
                next[target.key] = Entry(target: target, health: health, probes: entries[target.key]?.probes ?? [:])
            }
            entries = next
        }
    }

    func record(_ target: HealthTarget, _ health: BackendHealth, _ outcome: ProbeOutcome) {
        entries.withLock { entries in
            guard entries[target.key] != nil else { return }
            entries[target.key]!.health = health
            entries[target.key]!.probes[outcome.label, default: 0] += 1
        }
        observer.withLock { $0 }?(target, outcome.label, Double(outcome.nanoseconds) / 1e9)
    }
}
