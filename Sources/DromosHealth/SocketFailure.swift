import DromosBalancer
import DromosSystem
import Glibc
import NIOCore

/// NIO reports a failed socket call as an `IOError` carrying the error number; this is the one place
/// that number is taken out of it, for the probes' reasons and the daemon's messages.
public enum SocketFailure {
    public static func code(of error: any Error) -> Int32? {
        (error as? IOError)?.errnoCode
    }

    /// A connect that failed, as a probe's reason: refused, unreachable, or the system's words.
    static func connectFailure(_ error: any Error, timeoutMilliseconds: Int) -> ProbeFailure {
        if case ChannelError.connectTimeout = error as? ChannelError ?? .ioOnClosedChannel {
            return timeout(timeoutMilliseconds)
        }
        switch code(of: error) {
        case ECONNREFUSED?: return ProbeFailure(.refused, "connect refused")
        case let code? where [EHOSTUNREACH, ENETUNREACH, EHOSTDOWN, ENETDOWN].contains(code):
            return ProbeFailure(.unreachable, "connect: \(systemErrorText(code))")
        case let code?: return ProbeFailure(.error, "connect: \(systemErrorText(code))")
        case nil: return ProbeFailure(.error, "connect: \(error)")
        }
    }

    static func timeout(_ milliseconds: Int) -> ProbeFailure {
        ProbeFailure(.timeout, "timeout after \(DurationText.format(milliseconds: milliseconds))")
    }
}
