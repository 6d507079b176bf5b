import DromosBalancer
import DromosHealth
import DromosWire
import Testing

/// The rise/fall state machine and the probe schedule, driven by a clock of the test's own
/// (milliseconds) and a seeded random source, so every run sees the same jitter.
struct HealthScheduleTests {
    static let service = ServiceKey(vip: .v4(IPv4Address(203, 0, 113, 10)), transport: .tcp, port: 80)

    static func target(_ index: Int, interval: Int = 1_000, timeout: Int = 500, rise: Int = 2, fall: Int = 3) -> HealthTarget {
        HealthTarget(service: "web", key: BackendKey(service: service, address: .v4(IPv4Address(198, 18, 1, UInt8(index)))),
                     check: HealthCheckSpec(type: .tcp, port: 80, intervalMilliseconds: interval, timeoutMilliseconds: timeout,
                                            rise: rise, fall: fall))
    }

    static let refused = ProbeOutcome.down(ProbeFailure(.refused, "connect refused"), after: 1_000)
    static let timedOut = ProbeOutcome.down(ProbeFailure(.timeout, "timeout after 500ms"), after: 500_000_000)
    static let ok = ProbeOutcome.up(after: 1_000)

    @Test func fallFailuresInARowTakeABackendDownAndRiseSuccessesBringItBack() {
        var health = BackendHealth(since: 0)
        func record(_ outcome: ProbeOutcome, at now: UInt64) -> Bool { health.record(outcome, rise: 2, fall: 3, at: now) }
        #expect(health.isUp, "a backend starts up, as in keepalived and HAProxy")
        #expect(!record(Self.refused, at: 1))
        #expect(!record(Self.refused, at: 2))
        #expect(!record(Self.ok, at: 3), "a success breaks the run of failures")
        #expect(health.failures == 0 && health.successes == 1)
        #expect(!record(Self.refused, at: 4))
        #expect(!record(Self.refused, at: 5))
        #expect(record(Self.timedOut, at: 6), "the third failure in a row")
        #expect(!health.isUp && health.changedAt == 6 && health.failures == 3)
        #expect(health.lastOutcome?.text == "timeout after 500ms")
        #expect(!record(Self.ok, at: 7))
        #expect(!record(Self.refused, at: 8), "a failure breaks the run of successes")
        #expect(!record(Self.ok, at: 9))
        #expect(record(Self.ok, at: 10))
        #expect(health.isUp && health.changedAt == 10 && health.probes == 10)
    }

    @Test func firstProbesSpreadOverTheFirstIntervalAndLaterOnesComeAnIntervalApartWithJitter() {
        var schedule = HealthSchedule(concurrency: 1_000, random: SplitMix64(seed: 7))
        schedule.update((1...100).map { Self.target($0) }, now: 0)
        var starts: [BackendKey: [UInt64]] = [:]
        for now in stride(from: UInt64(0), through: 3_200, by: 5) {
            for ticket in schedule.start(now: now) {
                starts[ticket.target.key, default: []].append(now)
                _ = schedule.finish(ticket, Self.ok, now: now)
            }
        }
        #expect(starts.count == 100)
        let first = starts.values.map { $0[0] }
        #expect(first.allSatisfy { $0 < 1_000 } && first.min()! < 100 && first.max()! > 900, "spread over the first second")
        let gaps = starts.values.flatMap { times in zip(times.dropFirst(), times).map { $0 - $1 } }
        #expect(gaps.count >= 200)
        // ±5% of 1 s, rounded up to the 5 ms steps of this clock.
        #expect(gaps.allSatisfy { (950...1_055).contains($0) }, "\(gaps.min()!)…\(gaps.max()!)")
        #expect(Set(gaps).count > 10, "jittered, not all the same: \(Set(gaps).sorted())")
    }

    @Test func noMoreThanTheConcurrencyIsInFlightAndWhatWaitsStartsWhenOneFinishes() {
        var schedule = HealthSchedule(concurrency: 3, random: SplitMix64(seed: 1))
        schedule.update((1...10).map { Self.target($0) }, now: 0)
        let started = schedule.start(now: 2_000)
        #expect(started.count == 3 && schedule.probesInFlight == 3)
        #expect(schedule.start(now: 2_000).isEmpty)
        _ = schedule.finish(started[0], Self.ok, now: 2_010)
        let next = schedule.start(now: 2_010)
        #expect(next.count == 1 && !started.map(\.target.key).contains(next[0].target.key))
        #expect(schedule.nextDue != nil)
    }

    @Test func anAnswerTwiceOrForABackendThatIsGoneCountsNothing() {
        var schedule = HealthSchedule(concurrency: 10, random: SplitMix64(seed: 2))
        schedule.update([Self.target(1, fall: 1), Self.target(2, fall: 1)], now: 0)
        let tickets = schedule.start(now: 1_000)
        #expect(tickets.count == 2)
        let transition = schedule.finish(tickets[0], Self.refused, now: 1_001)
        #expect(transition?.isUp == false && transition?.reason == "connect refused")
        #expect(schedule.finish(tickets[0], Self.refused, now: 1_002) == nil)
        #expect(schedule.health(of: tickets[0].target.key)?.probes == 1)
        schedule.update([tickets[0].target], now: 1_003)
        #expect(schedule.finish(tickets[1], Self.refused, now: 1_004) == nil, "its backend was removed meanwhile")
        #expect(schedule.probesInFlight == 0)
        #expect(schedule.down == [tickets[0].target.key])
    }

    @Test func timeoutsAreFailuresWithTheirReason() {
        var schedule = HealthSchedule(concurrency: 10, random: SplitMix64(seed: 3))
        schedule.update([Self.target(1, fall: 3)], now: 0)
        var transitions: [HealthTransition] = []
        for now in stride(from: UInt64(0), through: 4_000, by: 5) {
            for ticket in schedule.start(now: now) {
                if let transition = schedule.finish(ticket, Self.timedOut, now: now + 500) { transitions.append(transition) }
            }
        }
        #expect(transitions.count == 1)
        #expect(transitions.first?.description == "service web backend 198.18.1.1 is down: 3 tcp probe(s) in a row failed (timeout after 500ms)")
    }

    @Test func anUpdateKeepsTheStateOfBackendsThatStay() {
        var schedule = HealthSchedule(concurrency: 10, random: SplitMix64(seed: 4))
        let kept = Self.target(1, fall: 1), gone = Self.target(2, fall: 1)
        schedule.update([kept, gone], now: 0)
        for ticket in schedule.start(now: 1_000) { _ = schedule.finish(ticket, Self.refused, now: 1_000) }
        #expect(schedule.down == [kept.key, gone.key])
        // A reload: the check's timing changed, one backend went, one came.
        let retimed = Self.target(1, interval: 2_000, timeout: 1_000, fall: 1)
        schedule.update([retimed, Self.target(3)], now: 1_100)
        #expect(schedule.down == [kept.key], "the backend that stays is still down; the new one starts up")
        #expect(schedule.health(of: kept.key)?.failures == 1)
        #expect(schedule.targets.first { $0.key == kept.key }?.check.intervalMilliseconds == 2_000)
        #expect(schedule.health(of: gone.key) == nil)
    }
}
