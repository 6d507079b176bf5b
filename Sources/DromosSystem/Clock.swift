import Glibc

/// Milliseconds of CLOCK_MONOTONIC: flow idle times must not jump with the wall clock.
public func monotonicMilliseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) &* 1_000 &+ UInt64(now.tv_nsec) / 1_000_000
}
