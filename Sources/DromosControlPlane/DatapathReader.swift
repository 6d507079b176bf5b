public import DromosBalancer
import DromosConfig
public import DromosDatapath
import DromosHost
import DromosSystem
import DromosWire

/// What the control socket and the metrics endpoint read from the datapath, summed over workers.
public struct DatapathReport: Sendable {
    public var workers: Int
    /// Workers that answered in time; the per-backend and per-reason figures cover only those.
    public var workersAnswered: Int
    public var counters: DatapathCounters
    public var ringDrops: UInt64
    public var decisions: [DecisionCount]
    public var backends: [BackendStatistics]
    public var activeFlows: Int
    public var flows: [(worker: Int, flow: FlowSample)]
    public var flowsTruncated: Bool
}

/// Reads the workers: their batch counters straight from the atomics, everything else by asking each
/// worker's mailbox (answered at its batch boundary). Closures keep it usable without live workers.
public struct DatapathReader: Sendable {
    public var workerCount: Int
    public var counters: @Sendable () -> DatapathCounters
    public var ask: @Sendable (ReportRequest) -> [WorkerReport]

    public init(workerCount: Int, counters: @escaping @Sendable () -> DatapathCounters,
 ask: @escaping @Sendable (ReportRequest) -> [WorkerReport]) {
        self.workerCount = workerCount
        self.counters = counters
        self.ask = ask
    }

    /// For workers that live in this process: their mailboxes, all asked at once with one bounded wait,
    /// and their counters.
    public static func workers(mailboxes: [WorkerMailbox], counters: @escaping @Sendable () -> DatapathCounters,
                               timeoutMilliseconds: Int = 250) -> DatapathReader {
        DatapathReader(workerCount: mailboxes.count, counters: counters) { request in
            WorkerMailbox.ask(mailboxes, request, timeoutMilliseconds: timeoutMilliseconds).compactMap { $0 }
        }
    }

    /// Sums the workers' answers; with a service and a limit, also samples that service's flows.
    public func report(flowsOf service: ServiceKey? = nil, flowLimit: Int = 0) -> DatapathReport {
        let reports = ask(ReportRequest(flowsOf: service, flowLimit: flowLimit))
        var decisions: [String: DecisionCount] = [:]
        var order: [String] = []
        var backends: [BackendKeyName: BackendStatistics] = [:]
        var backendOrder: [BackendKeyName] = []
        var flows: [(worker: Int, flow: FlowSample)] = []
        var activeFlows = 0
        for report in reports {
            activeFlows += report.statistics.activeFlows
            for decision in report.statistics.decisions {
                let key = "\(decision.verdict.name) \(decision.reason)"
                if decisions[key] == nil { order.append(key) }
                decisions[key, default: DecisionCount(verdict: decision.verdict, reason: decision.reason, frames: 0)].frames &+= decision.frames
            }
            for backend in report.statistics.backends {
                let key = BackendKeyName(service: backend.service, address: backend.address)
                if var sum = backends[key] {
                    sum.packets &+= backend.packets
                    sum.bytes &+= backend.bytes
                    sum.newFlows &+= backend.newFlows
                    sum.activeFlows &+= backend.activeFlows
                    backends[key] = sum
                } else {
                    backends[key] = backend
                    backendOrder.append(key)
                }
            }
            flows += report.flows.map { (report.worker, $0) }
        }
        let truncated = flowLimit > 0 && flows.count > flowLimit
        return DatapathReport(
            workers: workerCount, workersAnswered: reports.count, counters: counters(), ringDrops: reports.reduce(0) { $0 &+ $1.ringDrops },
            decisions: order.compactMap { decisions[$0] }, backends: backendOrder.compactMap { backends[$0] },
            activeFlows: activeFlows, flows: Array(flows.prefix(flowLimit)),
            flowsTruncated: truncated || reports.contains { $0.flows.count >= flowLimit && flowLimit > 0 })
    }
}

struct BackendKeyName: Hashable {
    var service: String
    var address: IPAddress
}
