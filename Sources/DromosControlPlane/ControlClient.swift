public import DromosConfig
import DromosSystem
import Glibc

/// One connection to a daemon's control socket, for `dromos ctl` and the tests.
public final class ControlClient {
    private let socket: SocketDescriptor
    private var buffered: [UInt8] = []
    private var receiveTimeoutMilliseconds: Int32 = -1

    public init(path: String) throws(ControlError) {
        var address = try UnixSocket.address(path)
        do {
            socket = try SocketDescriptor(domain: AF_UNIX, type: Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), protocol: 0)
            let descriptor = socket.rawValue
            _ = try Syscall.call("connect") {
                withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        Int(connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)))
                    }
                }
            }
        } catch {
            let hint = error.code == .noSuchFileOrDirectory || error.code == .connectionRefused
                ? " (is dromos run running with this control socket?)" : ""
            throw ControlError("cannot connect to \(path): \(error.code)\(hint)")
        }
    }

    /// Sends raw bytes as they are (the tests send broken requests this way).
    public func send(raw bytes: [UInt8]) throws(ControlError) {
        let descriptor = socket.rawValue
        var written = 0
        do {
            while written < bytes.count {
                written += try Syscall.call("send") {
                    bytes.withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress! + written, $0.count - written, Int32(MSG_NOSIGNAL)) }
                }
            }
        } catch {
            throw ControlError("cannot send to the daemon: \(error.code)")
        }
    }

    /// The next response line, without its newline; nil once the daemon closed the connection.
    public func receiveLine(timeoutMilliseconds: Int32 = 10_000) throws(ControlError) -> String? {
        try waitAtMost(timeoutMilliseconds)
        let descriptor = socket.rawValue
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            if let newline = buffered.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffered[..<newline], as: UTF8.self)
                buffered.removeSubrange(...newline)
                return line
            }
            let received: Int?
            do {
                received = try Syscall.callNonBlocking("recv") {
                    chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
                }
            } catch {
                throw ControlError("cannot read from the daemon: \(error.code)")
            }
            // SO_RCVTIMEO ran out: recv reports it as "would block".
            guard let count = received else { throw ControlError("no answer from the daemon within \(timeoutMilliseconds) ms") }
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

    /// Bounds each wait for the daemon's bytes (the socket blocks; no poll loop of our own).
    private func waitAtMost(_ milliseconds: Int32) throws(ControlError) {
        guard milliseconds != receiveTimeoutMilliseconds else { return }
        let timeout = timeval(tv_sec: Int(milliseconds / 1_000), tv_usec: Int(milliseconds % 1_000) * 1_000)
        do { try Syscall.setOption(socket, level: SOL_SOCKET, SO_RCVTIMEO, "setsockopt(SO_RCVTIMEO)", timeout) } catch {
            throw ControlError("cannot set the control socket's timeout: \(error.code)")
        }
        receiveTimeoutMilliseconds = milliseconds
    }
}
