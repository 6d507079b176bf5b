import DromosIO
import Glibc

/// One connection to a daemon's control socket, for `dromos ctl` and the tests.
public final class ControlClient {
    private let descriptor: Int32
    private var buffered: [UInt8] = []

    public init(path: String) throws(ControlError) {
        guard let descriptor = try UnixSocket.connect(path) else {
            let reason = systemErrorText()
            let hint = errno == ENOENT || errno == ECONNREFUSED ? " (is dromos run running with this control socket?)" : ""
            throw ControlError("cannot connect to \(path): \(reason)\(hint)")
        }
        self.descriptor = descriptor
    }

    deinit { close(descriptor) }

    /// Sends raw bytes as they are (the tests send broken requests this way).
    public func send(raw bytes: [UInt8]) throws(ControlError) {
        guard UnixSocket.writeAll(descriptor, bytes) else { throw ControlError("cannot send to the daemon: \(systemErrorText())") }
    }

    /// The next response line, without its newline; nil once the daemon closed the connection.
    public func receiveLine(timeoutMilliseconds: Int32 = 10_000) throws(ControlError) -> String? {
        var chunk = [UInt8](repeating: 0, count: 65_536)
        try waitAtMost(milliseconds: timeoutMilliseconds)
        while true {
            if let newline = buffered.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffered[..<newline], as: UTF8.self)
                buffered.removeSubrange(...newline)
                return line
            }
            let count: Int
            do throws(SystemCallError) {
                count = try Syscall.call("recv") { chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) } }
            } catch {
                // A reset says no more than an orderly close: the connection is over.
                guard error.errno == EAGAIN || error.errno == EWOULDBLOCK else { return nil }
                throw ControlError("no answer from the daemon within \(timeoutMilliseconds) ms")
            }
            guard count > 0 else { return nil }
            buffered += chunk[0..<count]
        }
    }

    /// A receive that waits longer fails with EAGAIN (SO_RCVTIMEO): a blocking socket needs no poll.
    private func waitAtMost(milliseconds: Int32) throws(ControlError) {
        var timeout = timeval(tv_sec: Int(milliseconds / 1_000), tv_usec: Int(milliseconds % 1_000) * 1_000)
        do throws(SystemCallError) {
            _ = try Syscall.call("setsockopt(SO_RCVTIMEO)") {
                Int(setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size)))
            }
        } catch {
            throw ControlError("cannot set a receive timeout: \(failureText(error))")
        }
    }

    /// Sends one request line and returns the parsed response.
    public func request(_ line: String, timeoutMilliseconds: Int32 = 10_000) throws(ControlError) -> ParsedJSON {
        try send(raw: Array((line + "\n").utf8))
        guard let answer = try receiveLine(timeoutMilliseconds: timeoutMilliseconds) else {
            throw ControlError("the daemon closed the connection without answering")
        }
        do { return try JSONReader.parse(answer) } catch { throw ControlError("the daemon's answer is \(error.description)") }
    }
}
