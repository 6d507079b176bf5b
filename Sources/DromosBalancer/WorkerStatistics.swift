public import DromosWire

public struct DecisionCount: Hashable, Sendable {
    public var verdict: Verdict
    /// The kebab-case reason; for malformed frames, the parser's own.
    public var reason: String
    public var frames: UInt64

    public init(verdict: Verdict, reason: String, frames: UInt64) {
        self.verdict = verdict
        self.reason = reason
        self.frames = frames
    }
}

public struct BackendStatistics: Hashable, Sendable {
    public var service: String
    public var address: IPAddress
    public var packets: UInt64
    public var bytes: UInt64
    public var newFlows: UInt64
    public var activeFlows: Int64
}

/// A copy of one worker's counters; the caller sums workers.
public struct WorkerStatistics: Sendable {
    public var decisions: [DecisionCount]
    public var backends: [BackendStatistics]
    public var activeFlows: Int
    public var flowInsertions: UInt64
    public var flowEvictions: UInt64
    public var flowExpirations: UInt64
}

extension BalancerWorker {
    /// Copies the counters. Allocates: for reports and the control plane, never per frame. It reads
    /// plain memory, so it must run on the worker's own thread.
    public func statistics() -> WorkerStatistics {
        var decisions: [DecisionCount] = []
        for verdict in Verdict.allCases {
            for reason in DecisionReason.allCases {
                let frames = decisionCounts[Int(verdict.rawValue) * decisionReasonCount + Int(reason.rawValue)]
                guard frames > 0 else { continue }
                guard reason == .malformed else {
                    decisions.append(DecisionCount(verdict: verdict, reason: reason.name, frames: frames))
                    continue
                }
                // Malformed frames split by the parser's reason; the verdict tells whose they were.
                decisions.append(contentsOf: malformedDecisions(verdict))
            }
        }
        let backends = table.backends.enumerated().map { index, backend in
            let counters = backendCounters[index]
            return BackendStatistics(
                service: table.services[backend.service].name, address: backend.spec.address, packets: counters.packets,
                bytes: counters.bytes, newFlows: counters.newFlows, activeFlows: counters.activeFlows)
        }
        return WorkerStatistics(
            decisions: decisions, backends: backends, activeFlows: flows.count, flowInsertions: flows.insertions,
            flowEvictions: flows.evictions, flowExpirations: flows.expirations)
    }

    /// Malformed frames are counted per verdict and parse status.
    private func malformedDecisions(_ verdict: Verdict) -> [DecisionCount] {
        ParseStatus.allCases.compactMap { status in
            let frames = malformedCounts[Int(verdict.rawValue) * parseStatusCount + Int(status.rawValue)]
            return frames > 0 ? DecisionCount(verdict: verdict, reason: status.name, frames: frames) : nil
        }
    }
}
