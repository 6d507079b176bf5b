public import DromosBalancer

/// A probe handed out by ``HealthSchedule/start(now:)``; its outcome comes back with it.
public struct ProbeTicket: Hashable, Sendable {
    public var target: HealthTarget
    public var serial: UInt64
}

/// Which probes are due and what their outcomes add up to, by one clock of monotonic milliseconds that the
/// caller passes in (the checker's event loop; a test's own). Not thread-safe: one owner drives it.
///
/// Each backend is probed every `interval` with up to `jitter` (5%) either way, so that probes started
/// together drift apart instead of arriving at every backend in the same millisecond; a new backend's
/// first probe comes at a random point of its first interval for the same reason. At most
/// `concurrency` probes are in flight: what is due beyond that waits its turn, and its next interval
/// counts from when it actually started.
public struct HealthSchedule {
    public static let defaultJitter = 0.05

    private struct Entry {
        var target: HealthTarget
        var health: BackendHealth
        var nextDue: UInt64
        var serial: UInt64 = 0
    }

    public let concurrency: Int
    public let jitter: Double
    private var entries: [BackendKey: Entry] = [:]
    private var inFlight: Set<UInt64> = []
    private var serials: UInt64 = 0
    private var random: any RandomNumberGenerator

    public init(concurrency: Int, jitter: Double = HealthSchedule.defaultJitter, random: any RandomNumberGenerator = SystemRandomNumberGenerator()) {
        precondition(concurrency > 0)
        self.concurrency = concurrency
        self.jitter = jitter
        self.random = random
    }

    public var probesInFlight: Int { inFlight.count }
    public var targets: [HealthTarget] { entries.values.map(\.target) }

    /// The backends that are down now.
    public var down: Set<BackendKey> { Set(entries.lazy.filter { !$0.value.health.isUp }.map(\.key)) }

    public func health(of key: BackendKey) -> BackendHealth? { entries[key]?.health }

    public var healthByKey: [BackendKey: BackendHealth] { entries.mapValues(\.health) }

    /// Replaces the set of backends to probe (start, reload, any change). A backend that stays keeps its
    /// health and its place in time, also when its check changed; a backend that is new starts up; one
    /// that is gone is forgotten (its probe in flight, if any, is ignored when it comes back).
    public mutating func update(_ targets: [HealthTarget], now: UInt64) {
        var next: [BackendKey: Entry] = [:]
        for target in targets {
            if var entry = entries[target.key] {
                if entry.target.check.intervalMilliseconds != target.check.intervalMilliseconds {
                    entry.nextDue = min(entry.nextDue, now &+ spread(target.check.intervalMilliseconds))
                }
                entry.target = target
                next[target.key] = entry
            } else {
                next[target.key] = Entry(target: target, health: BackendHealth(since: now), nextDue: now &+ spread(target.check.intervalMilliseconds))
            }
        }
        entries = next
    }

    /// The probes to start now, oldest due first, as many as the concurrency allows. Each is in flight
    /// until `finish`; its backend's next probe is due an interval (± jitter) after this start.
    public mutating func start(now: UInt64) -> [ProbeTicket] {
        let room = concurrency - inFlight.count
        guard room > 0 else { return [] }
        let due = entries.values
            .filter { $0.nextDue <= now && !inFlight.contains($0.serial) }
            .sorted { $0.nextDue < $1.nextDue }
            .prefix(room)
        return due.map { entry in
            serials &+= 1
            let key = entry.target.key
            entries[key]!.serial = serials
            entries[key]!.nextDue = now &+ jittered(entry.target.check.intervalMilliseconds)
            inFlight.insert(serials)
            return ProbeTicket(target: entry.target, serial: serials)
        }
    }

    /// Records a probe's outcome; returns the transition it caused, if any.
    public mutating func finish(_ ticket: ProbeTicket, _ outcome: ProbeOutcome, now: UInt64) -> HealthTransition? {
        guard inFlight.remove(ticket.serial) != nil else { return nil }
        let key = ticket.target.key
        guard var entry = entries[key], entry.serial == ticket.serial else { return nil }
        let check = entry.target.check
        let changed = entry.health.record(outcome, rise: check.rise, fall: check.fall, at: now)
        entries[key] = entry
        guard changed else { return nil }
        let count = entry.health.isUp ? entry.health.successes : entry.health.failures
        return HealthTransition(target: entry.target, isUp: entry.health.isUp, count: count, reason: outcome.text)
    }

    /// When the next probe is due (nil with nothing to probe). With the concurrency used up it is still
    /// the earliest due time: `start` then hands out nothing until a probe finishes.
    public var nextDue: UInt64? {
        entries.values.lazy.filter { !inFlight.contains($0.serial) }.map(\.nextDue).min()
    }

    private mutating func spread(_ interval: Int) -> UInt64 {
        UInt64(Double.random(in: 0..<1, using: &random) * Double(interval))
    }

    private mutating func jittered(_ interval: Int) -> UInt64 {
        let factor = 1 + Double.random(in: -jitter...jitter, using: &random)
        return UInt64(max(1, (Double(interval) * factor).rounded()))
    }
}
