public import Glibc

/// Every raw call of Dromos (ports, netlink) goes through here (after swift-nio's System.swift): EINTR is
/// retried, and `errno` becomes a `SystemCallError` naming the call. No other file reads `errno`.
public enum Syscall {
    /// Runs `body` until it is not interrupted; a negative result becomes an error.
    @inlinable @inline(__always)
    public static func call(_ name: StaticString, _ body: () -> Int) throws(SystemCallError) -> Int {
        while true {
            let result = body()
            if result >= 0 { return result }
            let code = Glibc.errno
            if code == EINTR { continue }
            throw SystemCallError(call: name.description, errno: code)
        }
    }

    /// The same for a non-blocking send: EAGAIN/EWOULDBLOCK and ENOBUFS mean "the queue is full now",
    /// a normal state under load that the caller counts, so they come back as nil rather than an error.
    @inlinable @inline(__always)
    public static func callNonBlocking(_ name: StaticString, _ body: () -> Int) throws(SystemCallError) -> Int? {
        while true {
            let result = body()
            if result >= 0 { return result }
            let code = Glibc.errno
            if code == EINTR { continue }
            if code == EAGAIN || code == EWOULDBLOCK || code == ENOBUFS { return nil }
            throw SystemCallError(call: name.description, errno: code)
        }
    }

    @inlinable
    public static func setOption<T: BitwiseCopyable>(_ descriptor: borrowing SocketDescriptor, level: Int32, _ option: Int32,
                                              _ name: StaticString, _ value: T) throws(SystemCallError) {
        var value = value
        let socket = descriptor.rawValue
        _ = try call(name) {
            withUnsafeBytes(of: &value) { Int(setsockopt(socket, level, option, $0.baseAddress, socklen_t($0.count))) }
        }
    }

    @inlinable
    public static func getOption<T: BitwiseCopyable>(_ descriptor: borrowing SocketDescriptor, level: Int32, _ option: Int32,
                                              _ name: StaticString, into value: inout T) throws(SystemCallError) {
        var length = socklen_t(MemoryLayout<T>.size)
        let socket = descriptor.rawValue
        _ = try call(name) {
            withUnsafeMutableBytes(of: &value) { Int(getsockopt(socket, level, option, $0.baseAddress, &length)) }
        }
    }

    public static func interfaceIndex(_ name: String) throws(SystemCallError) -> Int32 {
        // if_nametoindex returns 0, not -1, on failure.
        let index = try call("if_nametoindex") {
            let index = if_nametoindex(name)
            return index == 0 ? -1 : Int(index)
        }
        return Int32(index)
    }
}
