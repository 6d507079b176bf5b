import DromosIO
import Glibc
import NIOCore

/// Why a control request or change was refused; `message` is what the client is told verbatim.
public struct ControlError: Error, Equatable, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// errno in words, for messages that go to an operator.
func systemErrorText(_ code: Int32 = errno) -> String { String(cString: strerror(code)) }

/// What a failed socket step says to an operator: NIO's errors carry the errno, told in words like the
/// rest of our messages rather than as NIO's description of its internal call.
func failureText(_ error: any Error) -> String {
    if let error = error as? IOError { return systemErrorText(error.errnoCode) }
    if let error = error as? SystemCallError { return systemErrorText(error.errno) }
    return "\(error)"
}
