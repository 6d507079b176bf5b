public import DromosBalancer
public import DromosIO
import DromosSystem
import DromosWire
import DromosXDP
import Glibc
import Synchronization

/// What one datapath worker has done; written by its thread once per batch, read by anyone.
public struct DatapathCounters: Sendable, Equatable {
    public var batches: UInt64 = 0
    public var received: UInt64 = 0
    public var forwarded: UInt64 = 0
    public var passed: UInt64 = 0
    public var dropped: UInt64 = 0
    /// ARP requests and neighbor solicitations for an announced VIP, answered in place and sent back.
    public var replied: UInt64 = 0
    /// Frames the host itself sent (the tap sees them); never ours to decide.
    public var outgoing: UInt64 = 0
    public var expired: UInt64 = 0
    public var adoptions: UInt64 = 0
    /// Forwarded frames the port could not send (`PacketPort.framesNotSent`).
    public var notSent: UInt64 = 0
    /// Frames the port received cut short and never handed over (`PacketPort.framesTruncated`).
    public var truncated: UInt64 = 0
    /// Forwarded frames whose TCP/UDP checksum the port's sample found broken (`PacketPort.framesWithBadChecksums`).
    public var badChecksums: UInt64 = 0
    public init() {}

    public static func + (lhs: Self, rhs: Self) -> Self {
        var sum = lhs
        sum.batches &+= rhs.batches
        sum.received &+= rhs.received
        sum.forwarded &+= rhs.forwarded
        sum.passed &+= rhs.passed
        sum.dropped &+= rhs.dropped
        sum.replied &+= rhs.replied
        sum.outgoing &+= rhs.outgoing
        sum.expired &+= rhs.expired
        sum.adoptions &+= rhs.adoptions
        sum.notSent &+= rhs.notSent
        sum.truncated &+= rhs.truncated
        sum.badChecksums &+= rhs.badChecksums
        return sum
    }
}

/// Counters one thread writes and others read: one relaxed store per field per batch. The daemon keeps
/// these (not the workers, which are generic over their port) to sum and report them.
public final class SharedCounters: Sendable {
    let batches = Atomic<UInt64>(0), received = Atomic<UInt64>(0), forwarded = Atomic<UInt64>(0)
    let passed = Atomic<UInt64>(0), dropped = Atomic<UInt64>(0), replied = Atomic<UInt64>(0), outgoing = Atomic<UInt64>(0)
    let expired = Atomic<UInt64>(0), adoptions = Atomic<UInt64>(0), notSent = Atomic<UInt64>(0)
    let truncated = Atomic<UInt64>(0), badChecksums = Atomic<UInt64>(0)

    func store(_ counters: DatapathCounters) {
        batches.store(counters.batches, ordering: .relaxed)
        received.store(counters.received, ordering: .relaxed)
        forwarded.store(counters.forwarded, ordering: .relaxed)
        passed.store(counters.passed, ordering: .relaxed)
        dropped.store(counters.dropped, ordering: .relaxed)
        replied.store(counters.replied, ordering: .relaxed)
        outgoing.store(counters.outgoing, ordering: .relaxed)
        expired.store(counters.expired, ordering: .relaxed)
        adoptions.store(counters.adoptions, ordering: .relaxed)
        notSent.store(counters.notSent, ordering: .relaxed)
        truncated.store(counters.truncated, ordering: .relaxed)
        badChecksums.store(counters.badChecksums, ordering: .relaxed)
    }

    public func load() -> DatapathCounters {
        var counters = DatapathCounters()
        counters.batches = batches.load(ordering: .relaxed)
        counters.received = received.load(ordering: .relaxed)
        counters.forwarded = forwarded.load(ordering: .relaxed)
        counters.passed = passed.load(ordering: .relaxed)
        counters.dropped = dropped.load(ordering: .relaxed)
        counters.replied = replied.load(ordering: .relaxed)
        counters.outgoing = outgoing.load(ordering: .relaxed)
        counters.expired = expired.load(ordering: .relaxed)
        counters.adoptions = adoptions.load(ordering: .relaxed)
        counters.notSent = notSent.load(ordering: .relaxed)
        counters.truncated = truncated.load(ordering: .relaxed)
        counters.badChecksums = badChecksums.load(ordering: .relaxed)
        return counters
    }
}

/// The generation check and adoption at a batch boundary, shared by every kind of worker loop.
/// Owned by one thread.
public struct TableFollower {
    public let publisher: TablePublisher
    public private(set) var seenGeneration: UInt64
    /// Tells the publisher (and through it the control plane) which generation this follower adopted.
    let mark: AdoptionMark

    public init(publisher: TablePublisher, balancer: BalancerWorker) {
        self.publisher = publisher
        let snapshot = publisher.snapshot()
        seenGeneration = snapshot.generation
        balancer.adopt(snapshot.table)
        mark = publisher.register(adopted: snapshot.generation)
    }

    /// One atomic load; adopts the current table when a new one was published. True if it adopted.
    public mutating func follow(_ balancer: BalancerWorker) -> Bool {
        guard publisher.generation != seenGeneration else { return false }
        let snapshot = publisher.snapshot()
        seenGeneration = snapshot.generation
        balancer.adopt(snapshot.table)
        mark.store(snapshot.generation)
        return true
    }
}

/// One datapath thread's loop over its own port (an AF_PACKET socket or a libpcap handle, a member of
/// the fanout group) and its own balancer: receive a batch → decide each frame in place → transmit the
/// forwarded ones → flush → at the batch boundary expire idle flows and adopt a newly published table.
/// Nothing per frame allocates, locks or touches an atomic. Generic over the port, never an
/// existential: each port's loop is specialized, its per-frame calls direct.
///
/// The specializations are made here, one per port kind (`@_specialize` on `runBatch` and
/// `run`): the daemon instantiates the workers in another module, which cannot specialize a loop that
/// is not inlinable, and without them it ran the generic loop, each `transmit` an indirect call
/// through the witness table. Exported, so a caller that knows the port calls its copy directly (the
/// daemon's thread closures are specialized per port, so they do). The generic entry does not dispatch
/// to the copies: a caller that stays generic still runs the generic loop. A new port kind needs its
/// line in both lists (docs/ARCHITECTURE.md, "Worker loop": tools/specialization-check.sh checks the
/// release binary).
public final class DatapathWorker<Port: PacketPort>: @unchecked Sendable {
    public let index: Int
    public let port: Port
    public let balancer: BalancerWorker
    @exclusivity(unchecked) var follower: TableFollower
    @exclusivity(unchecked) var local = DatapathCounters()
    public let shared = SharedCounters()
    /// Where the control plane asks for per-backend counters and flow samples.
    public let mailbox = WorkerMailbox()
    public let budget: Int
    public let expireBudget: Int

    public init(index: Int, port: Port, balancer: BalancerWorker, publisher: TablePublisher,
                budget: Int = 64, expireBudget: Int = 64) {
        self.index = index
        self.port = port
        self.balancer = balancer
        self.budget = budget
        self.expireBudget = expireBudget
        follower = TableFollower(publisher: publisher, balancer: balancer)
    }

    /// The counters as of the worker's last finished batch; safe from any thread.
    public var counters: DatapathCounters { shared.load() }

    /// One batch at time `now` (milliseconds, monotonic); returns the frames received.
    @_specialize(exported: true, where Port == AFPacketPort)
    @_specialize(exported: true, where Port == PcapLivePort)
    @_specialize(exported: true, where Port == AFXDPPort)
    @_specialize(exported: true, where Port == MemoryPort)
    @discardableResult
    public func runBatch(now: UInt64) -> Int {
        var forwarded: UInt64 = 0, passed: UInt64 = 0, dropped: UInt64 = 0, replied: UInt64 = 0, outgoing: UInt64 = 0
        let balancer = self.balancer
        let port = self.port
        let received = port.receive(budget: budget) { frame in
            if frame.isOutgoing {
                outgoing &+= 1
                return
            }
            let decision = balancer.decide(frame.bytes, wireLength: frame.wireLength, now: now)
            switch decision.verdict {
            case .forward:
                _ = port.transmit(frame)
                forwarded &+= 1
            case .reply:
                // The question was rewritten into its answer in place; it leaves like a forwarded frame.
                _ = port.transmit(frame)
                replied &+= 1
            case .drop:
                dropped &+= 1
            default:
                passed &+= 1
            }
        }
        port.flush()
        local.batches &+= 1
        local.received &+= UInt64(received)
        local.forwarded &+= forwarded
        local.passed &+= passed
        local.dropped &+= dropped
        local.replied &+= replied
        local.outgoing &+= outgoing
        local.expired &+= UInt64(balancer.expire(now: now, budget: expireBudget))
        if follower.follow(balancer) { local.adoptions &+= 1 }
        local.notSent = port.framesNotSent
        local.truncated = port.framesTruncated
        local.badChecksums = port.framesWithBadChecksums
        shared.store(local)
        if let ticket = mailbox.pendingTicket {
            mailbox.answer(ticket: ticket, worker: index, balancer: balancer, ringDrops: port.currentRingDrops(), now: now)
        }
        return received
    }

    /// Runs batches until `shouldStop` returns true (asked once per batch); when idle, sleeps in poll
    /// for at most `idleMilliseconds`. On stop, drains what the ring still holds.
    @_specialize(exported: true, where Port == AFPacketPort)
    @_specialize(exported: true, where Port == PcapLivePort)
    @_specialize(exported: true, where Port == AFXDPPort)
    @_specialize(exported: true, where Port == MemoryPort)
    public func run(idleMilliseconds: Int32 = 10, until shouldStop: () -> Bool) {
        while !shouldStop() {
            if runBatch(now: monotonicMilliseconds()) == 0 {
                _ = try? port.waitForFrames(timeoutMilliseconds: idleMilliseconds)
            }
        }
        // Drain: frames already in the ring are decided and sent, not dropped.
        while runBatch(now: monotonicMilliseconds()) > 0 {}
        port.refreshKernelStatistics()
    }
}
