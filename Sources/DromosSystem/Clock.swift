import Glibc

/// Milliseconds of CLOCK_MONOTONIC: flow idle times must not jump with the wall clock.
public func monotonicMilliseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) &* 1_000 &+ UInt64(now.tv_nsec) / 1_000_000
}

/// Both clocks read together, to tell a monotonic time (when a health state changed) as wall-clock time.
public enum Clock {
    /// Blocks the calling thread for the whole of `milliseconds`, a signal notwithstanding.
    public static func pause(milliseconds: Int) {
        var wanted = timespec(tv_sec: milliseconds / 1_000, tv_nsec: (milliseconds % 1_000) * 1_000_000)
        var remaining = timespec()
        while nanosleep(&wanted, &remaining) != 0 && errno == EINTR { wanted = remaining }
    }

    public struct Reading: Sendable {
        public var monotonicMilliseconds: UInt64
        public var wallClockMilliseconds: UInt64

        public static func now() -> Reading {
            var wall = timespec()
            clock_gettime(CLOCK_REALTIME, &wall)
            return Reading(monotonicMilliseconds: DromosSystem.monotonicMilliseconds(),
                           wallClockMilliseconds: UInt64(wall.tv_sec) &* 1_000 &+ UInt64(wall.tv_nsec) / 1_000_000)
        }

        /// UTC, ISO 8601 with milliseconds (`2026-12-03T14:05:09.123Z`).
        public func wallClockText(atMonotonicMilliseconds then: UInt64) -> String {
            let milliseconds = wallClockMilliseconds &- (monotonicMilliseconds &- min(then, monotonicMilliseconds))
            var seconds = time_t(milliseconds / 1_000)
            var parts = tm()
            gmtime_r(&seconds, &parts)
            func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
            let fraction = String(milliseconds % 1_000)
            return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):"
                + "\(two(parts.tm_sec)).\(String(repeating: "0", count: 3 - fraction.count))\(fraction)Z"
        }
    }
}
