import DromosBalancer
public import DromosConfig
import DromosDatapath
import DromosHost
import DromosSystem
import DromosWire
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
        while true {
            if let newline = buffered.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffered[..<newline], as: UTF8.self)
                buffered.removeSubrange(...newline)
                return line
            }
            var request = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            let ready = poll(&request, 1, timeoutMilliseconds)
            if ready < 0 && errno == EINTR { continue }
            guard ready > 0 else { throw ControlError("no answer from the daemon within \(timeoutMilliseconds) ms") }
            let count = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return nil }
            buffered += chunk[0..<count]
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
