public import DromosBalancer
import DromosIO
import DromosSystem
import DromosWire
import Glibc
import Synchronization

/// What the control plane asks a worker for.
public struct ReportRequest: Sendable, Equatable {
    /// Sample this service's flows; nil asks for counters only.
    public var flowsOf: ServiceKey?
    public var flowLimit: Int
    /// The most flow entries a worker looks at for one answer: bounds the work at its batch boundary.
    public var scanLimit: Int

    public init(flowsOf: ServiceKey? = nil, flowLimit: Int = 0, scanLimit: Int = 65_536) {
        self.flowsOf = flowsOf
        self.flowLimit = flowLimit
        self.scanLimit = scanLimit
    }
}

/// A worker's answer, copied on its own thread.
public struct WorkerReport: Sendable {
    public var worker: Int
    public var tableGeneration: UInt32
    public var statistics: WorkerStatistics
    /// Frames the kernel dropped because this worker's receive ring was full.
    public var ringDrops: UInt64
    public var flows: [FlowSample]
    public var flowsScanned: Int
}

/// How the control thread reads what only a worker thread may touch (its flow table and per-backend
/// counters are plain memory): it posts a request and the worker answers at its next batch boundary.
/// The worker pays one atomic load per batch while nobody asks; the copying happens only when asked,
/// between batches, never per frame. A worker that does not answer in time (stopped, or stuck in a long
/// batch) costs the asker a bounded wait and an answer without that worker.
public final class WorkerMailbox: Sendable {
    private let asked = Atomic<UInt64>(0)
    private let answered = Atomic<UInt64>(0)
    private let request = Mutex(ReportRequest())
    private let answer = Mutex<WorkerReport?>(nil)
    /// One asker at a time (control socket and metrics endpoint may ask together).
    private let asking = Mutex(())

    public init() {}

    /// On the worker's thread, at a batch boundary: one atomic load, and nil unless someone asked.
    @inline(__always)
    public var pendingTicket: UInt64? {
        let ticket = asked.load(ordering: .acquiring)
        return ticket != answered.load(ordering: .relaxed) ? ticket : nil
    }

    /// On the worker's thread, after `pendingTicket` returned `ticket`: copies what was asked for.
    @inline(never)
    public func answer(ticket: UInt64, worker: Int, balancer: BalancerWorker, ringDrops: UInt64, now: UInt64) {
        let wanted = request.withLock { $0 }
        var sample: (flows: [FlowSample], scanned: Int) = ([], 0)
        if let service = wanted.flowsOf, wanted.flowLimit > 0 {
            sample = balancer.sampleFlows(of: service, limit: wanted.flowLimit, scanLimit: wanted.scanLimit, now: now)
        }
        let report = WorkerReport(worker: worker, tableGeneration: balancer.table.generation, statistics: balancer.statistics(),
                                  ringDrops: ringDrops, flows: sample.flows, flowsScanned: sample.scanned)
        answer.withLock { $0 = report }
        answered.store(ticket, ordering: .releasing)
    }

    /// From any thread but the worker's: the worker's answer, or nil if it gave none within the timeout.
    public func ask(_ wanted: ReportRequest, timeoutMilliseconds: Int) -> WorkerReport? {
        Self.ask([self], wanted, timeoutMilliseconds: timeoutMilliseconds)[0]
    }

    /// Asks every worker at once and waits for all of them together, so the wait is the slowest
    /// worker's, not the sum of all. Answers in the order of `mailboxes`; nil for a worker that gave
    /// none within the timeout.
    public static func ask(_ mailboxes: [WorkerMailbox], _ wanted: ReportRequest, timeoutMilliseconds: Int) -> [WorkerReport?] {
        // Every asker takes the mailboxes' locks in the same order, so two askers cannot deadlock.
        func holdingLocks(from index: Int) -> [WorkerReport?] {
            guard index < mailboxes.count else { return postAndCollect(mailboxes, wanted, timeoutMilliseconds) }
            return mailboxes[index].asking.withLock { _ in holdingLocks(from: index + 1) }
        }
        return holdingLocks(from: 0)
    }

    private static func postAndCollect(_ mailboxes: [WorkerMailbox], _ wanted: ReportRequest, _ timeoutMilliseconds: Int) -> [WorkerReport?] {
        let tickets = mailboxes.map { mailbox in
            mailbox.request.withLock { $0 = wanted }
            return mailbox.asked.wrappingAdd(1, ordering: .releasing).newValue
        }
        let deadline = monotonicMilliseconds() &+ UInt64(max(timeoutMilliseconds, 0))
        var answers = [WorkerReport?](repeating: nil, count: mailboxes.count)
        var pending = Set(mailboxes.indices)
        while !pending.isEmpty {
            for index in pending where mailboxes[index].answered.load(ordering: .acquiring) == tickets[index] {
                answers[index] = mailboxes[index].answer.withLock { $0 }
                pending.remove(index)
            }
            guard !pending.isEmpty, monotonicMilliseconds() < deadline else { break }
            usleep(200)
        }
        return answers
    }
}
