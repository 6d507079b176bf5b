import Glibc
public import SystemPackage

/// A system call that failed: its name and the error number, so a message says which step of a setup broke.
public struct SystemCallError: Error, Equatable, Sendable, CustomStringConvertible {
    public let call: String
    public let code: Errno

    public init(call: String, errno: Int32) {
        self.call = call
        code = Errno(rawValue: errno)
    }

    public init(call: String, code: Errno) {
        self.call = call
        self.code = code
    }

    public var description: String { "\(call): \(String(cString: strerror(code.rawValue))) (errno \(code.rawValue))" }
}
