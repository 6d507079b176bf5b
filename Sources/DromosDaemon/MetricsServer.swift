import DromosBalancer
public import DromosConfig
public import DromosControlPlane
import DromosDatapath
import DromosHost
import DromosIO
import DromosSystem
import DromosWire
import Glibc

/// `GET /metrics` over plain HTTP/1.x on its own thread: one request per connection, answered and
/// closed. Small on purpose: Prometheus is its only client, and the figures are read off the packet
/// path (the workers' mailboxes), so nothing here can slow forwarding.
public final class MetricsServer: Sendable {
    public static let maximumClients = 8
    public static let requestTimeoutMilliseconds: UInt64 = 5_000
    static let maximumRequestBytes = 8_192

    public let listen: ListenAddress
    private let listener: Int32
    private let exporter: MetricsExporter
    private let thread = ServiceThread()

    public init(listen: ListenAddress, exporter: MetricsExporter) throws(ControlError) {
        let family = listen.address.isIPv4 ? AF_INET : AF_INET6
        let listener = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard listener >= 0 else { throw ControlError("metrics: socket: \(systemErrorText())") }
        var yes: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        let bound: Int32
        switch listen.address {
        case .v4(let address):
            var socketAddress = sockaddr_in()
            socketAddress.sin_family = sa_family_t(AF_INET)
            socketAddress.sin_port = listen.port.bigEndian
            socketAddress.sin_addr.s_addr = address.rawValue.bigEndian
            bound = withUnsafePointer(to: &socketAddress) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        case .v6(let address):
            var socketAddress = sockaddr_in6()
            socketAddress.sin6_family = sa_family_t(AF_INET6)
            socketAddress.sin6_port = listen.port.bigEndian
            withUnsafeMutableBytes(of: &socketAddress.sin6_addr) { raw in
                for index in 0..<8 { raw[index] = UInt8(truncatingIfNeeded: address.high >> (56 - 8 * UInt64(index))) }
                for index in 0..<8 { raw[8 + index] = UInt8(truncatingIfNeeded: address.low >> (56 - 8 * UInt64(index))) }
            }
            bound = withUnsafePointer(to: &socketAddress) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
            }
        }
        guard bound == 0, Glibc.listen(listener, 16) == 0 else {
            let text = systemErrorText()
            close(listener)
            throw ControlError("metrics.listen: cannot listen on \(listen): \(text)")
        }
        self.listen = listen
        self.listener = listener
        self.exporter = exporter
    }

    public func start() {
        thread.start { [self] in self.serve() }
    }

    public func stop() {
        guard thread.stop() else { return }
        close(listener)
    }

    private final class Connection {
        let descriptor: Int32
        let opened: UInt64
        var request: [UInt8] = []
        var response: [UInt8] = []
        var answered = false
        init(_ descriptor: Int32, opened: UInt64) {
            self.descriptor = descriptor
            self.opened = opened
        }
    }

    private func serve() {
        var connections: [Connection] = []
        var acceptPausedUntil: UInt64 = 0
        var chunk = [UInt8](repeating: 0, count: 4_096)
        while !thread.isStopping {
            // At capacity (or out of descriptors) a pending connection keeps the listener readable: leave
            // it out of the poll set until there is room, or poll would spin.
            let listening = connections.count < Self.maximumClients && monotonicMilliseconds() >= acceptPausedUntil
            var descriptors = [pollfd(fd: listener, events: listening ? Int16(POLLIN) : 0, revents: 0)]
            for connection in connections {
                descriptors.append(pollfd(fd: connection.descriptor, events: Int16(connection.answered ? POLLOUT : POLLIN), revents: 0))
            }
            _ = poll(&descriptors, nfds_t(descriptors.count), 100)
            let now = monotonicMilliseconds()
            for (index, connection) in connections.enumerated() where descriptors[index + 1].revents != 0 {
                if connection.answered { send(connection) } else { receive(connection, &chunk) }
            }
            if descriptors[0].revents & Int16(POLLIN) != 0 {
                while connections.count < Self.maximumClients {
                    let descriptor = accept(listener, nil, nil)
                    guard descriptor >= 0 else {
                        if errno == EMFILE || errno == ENFILE { acceptPausedUntil = now &+ 1_000 }
                        break
                    }
                    _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
                    UnixSocket.setNonBlocking(descriptor)
                    connections.append(Connection(descriptor, opened: now))
                }
            }
            connections.removeAll { connection in
                let finished = connection.answered && connection.response.isEmpty
                guard finished || now &- connection.opened > Self.requestTimeoutMilliseconds else { return false }
                close(connection.descriptor)
                return true
            }
        }
        for connection in connections { close(connection.descriptor) }
    }

    private func receive(_ connection: Connection, _ chunk: inout [UInt8]) {
        let count = chunk.withUnsafeMutableBytes { recv(connection.descriptor, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
        guard count > 0 else {
            if count == 0 || (errno != EAGAIN && errno != EINTR) { connection.answered = true }
            return
        }
        connection.request += chunk[0..<count]
        if connection.request.count > Self.maximumRequestBytes {
            respond(connection, status: "431 Request Header Fields Too Large", body: Array("request too large\n".utf8))
            return
        }
        guard let end = headerEnd(connection.request) else { return }
        let line = String(decoding: connection.request[..<end].prefix { $0 != 0x0D && $0 != 0x0A }, as: UTF8.self)
        let parts = line.split(separator: " ")
        guard parts.count == 3, parts[2].hasPrefix("HTTP/1.") else {
            respond(connection, status: "400 Bad Request", body: Array("expected GET /metrics HTTP/1.1\n".utf8))
            return
        }
        guard parts[0] == "GET" || parts[0] == "HEAD" else {
            respond(connection, status: "405 Method Not Allowed", body: Array("only GET\n".utf8), extra: "Allow: GET, HEAD\r\n")
            return
        }
        let path = parts[1].split(separator: "?", maxSplits: 1).first.map(String.init) ?? ""
        guard path == "/metrics" else {
            respond(connection, status: "404 Not Found", body: Array("only /metrics is served here\n".utf8))
            return
        }
        let body = exporter.scrape()
        respond(connection, status: "200 OK", body: parts[0] == "HEAD" ? [] : body,
                contentType: "text/plain; version=0.0.4; charset=utf-8", length: body.count)
    }

    private func headerEnd(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for index in 0...(bytes.count - 4) where bytes[index] == 0x0D && bytes[index + 1] == 0x0A && bytes[index + 2] == 0x0D && bytes[index + 3] == 0x0A {
            return index
        }
        return nil
    }

    private func respond(_ connection: Connection, status: String, body: [UInt8], contentType: String = "text/plain; charset=utf-8",
                         extra: String = "", length: Int? = nil) {
        let head = "HTTP/1.1 \(status)\r\nContent-Type: \(contentType)\r\nContent-Length: \(length ?? body.count)\r\n"
            + extra + "Connection: close\r\n\r\n"
        connection.response = Array(head.utf8) + body
        connection.answered = true
        send(connection)
    }

    private func send(_ connection: Connection) {
        while !connection.response.isEmpty {
            let count = connection.response.withUnsafeBytes {
                Glibc.send(connection.descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT))
            }
            if count < 0 {
                if errno == EINTR { continue }
                if errno != EAGAIN { connection.response.removeAll() }
                return
            }
            connection.response.removeFirst(count)
        }
    }
}
