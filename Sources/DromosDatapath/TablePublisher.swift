public import DromosBalancer
import DromosIO
import DromosSystem
import DromosWire
import Glibc
import Synchronization

/// Hands complete `ForwardingTable`s from the control plane to the datapath workers.
///
/// The publisher holds the current table (a strong reference) and a generation counter. A worker reads
/// the generation with one atomic load per batch — no lock, no reference counting — and only when it
/// moved does it take the current table, at a batch boundary, off the per-frame path.
///
/// Why no worker ever sees a half-built table, and no table is freed while a worker uses it:
/// 1. A table is immutable once `ForwardingTable.init` returns, and `publish` receives it only after
///    that; the reference is stored under `current`'s mutex, and a worker reads it under the same
///    mutex, so the worker's read happens after the complete construction (mutex = acquire/release).
/// 2. The generation is stored (release) after the table, so a worker that sees generation g and
///    then takes the table gets g's table or a newer one, never an older one it would re-adopt later.
/// 3. `adoptIfChanged` returns a strong (+1) reference taken inside the mutex; the worker keeps it
///    (`BalancerWorker.table`) until it adopts the next one. When the publisher replaces its own
///    reference it releases only that one: a table lives while the publisher or any worker still
///    references it, and is freed by whoever drops the last reference — a worker does that only at
///    its batch boundary, when it no longer reads the old view. So no table is freed mid-batch.
/// The mutex is taken once per publication per worker (rare), never per frame or per batch.
///
/// A change is not done when it is published but when every worker has adopted it: a worker in its
/// idle wait, or not scheduled on a loaded host, decides the frames of its current batch with the old
/// table. Each follower marks the generation it adopted; `waitUntilAdopted` is how the control plane
/// knows that no frame it receives from then on meets an older table.
public final class TablePublisher: Sendable {
    private let current: Mutex<ForwardingTable>
    private let generationCounter: Atomic<UInt64>
    private let marks = Mutex<[WeakAdoptionMark]>([])

    public init(_ table: ForwardingTable) {
        current = Mutex(table)
        generationCounter = Atomic(1)
    }

    /// Publishes a complete table; workers adopt it at their next batch boundary.
    public func publish(_ table: ForwardingTable) {
        current.withLock { $0 = table }
        generationCounter.add(1, ordering: .releasing)
    }

    /// The publication count: one atomic load, what a worker checks once per batch.
    public var generation: UInt64 { generationCounter.load(ordering: .acquiring) }

    /// The current table and its generation, as a strong reference the caller keeps.
    public func snapshot() -> (table: ForwardingTable, generation: UInt64) {
        let generation = generationCounter.load(ordering: .acquiring)
        let table = current.withLock { $0 }
        return (table, generation)
    }

    /// A follower's mark, listed for `waitUntilAdopted` as long as the follower keeps it.
    func register(adopted generation: UInt64) -> AdoptionMark {
        let mark = AdoptionMark(generation)
        marks.withLock { marks in
            marks.removeAll { $0.mark == nil }
            marks.append(WeakAdoptionMark(mark: mark))
        }
        return mark
    }

    /// Waits until every live follower adopted the current generation (polling every 0.2 ms, workers
    /// adopt at their next batch boundary: within one idle wait); false when `timeoutMilliseconds` passed first.
    public func waitUntilAdopted(timeoutMilliseconds: Int) -> Bool {
        let target = generation
        let deadline = monotonicMilliseconds() &+ UInt64(max(timeoutMilliseconds, 0))
        while true {
            let lagging = marks.withLock { marks in
                marks.contains { ($0.mark?.generation ?? .max) < target }
            }
            if !lagging { return true }
            if monotonicMilliseconds() >= deadline { return false }
            usleep(200)
        }
    }
}

/// The generation one follower adopted last: stored by its thread once per adoption, read by the control plane.
final class AdoptionMark: Sendable {
    private let adopted: Atomic<UInt64>
    init(_ generation: UInt64) { adopted = Atomic(generation) }
    var generation: UInt64 { adopted.load(ordering: .acquiring) }
    func store(_ generation: UInt64) { adopted.store(generation, ordering: .releasing) }
}

struct WeakAdoptionMark: Sendable {
    weak var mark: AdoptionMark?
}
