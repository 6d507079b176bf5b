import DromosBalancer
public import DromosConfig
public import DromosControlPlane
import DromosDatapath
import DromosHost
import DromosIO
import DromosSystem
import DromosWire
import Glibc

/// The control socket: one thread, one poll() over the listener and its clients, one JSON object per
/// line each way. Requests are answered in arrival order on this thread; a change holds the control
/// plane's change lock, so changes are serialized whichever client sends them.
public final class ControlServer: Sendable {
    public struct Limits: Sendable {
        public var clients = 16
        public var requestBytes = 65_536
        public var idleMilliseconds = 60_000
        /// Responses a client has not read yet; beyond this the client is dropped, not the daemon slowed.
        public var pendingResponseBytes = 8 << 20
        public init() {}
    }

    /// Who may connect besides root: the daemon's own user, and members of `group` if one is set.
    public struct Access: Sendable {
        public var group: String?
        public init(group: String? = nil) { self.group = group }
    }

    public let path: String
    public let limits: Limits
    private let listener: Int32
    private let groupID: gid_t?
    private let service: ControlService
    private let log: @Sendable (String) -> Void
    private let thread = ServiceThread()

    /// Binds the socket (creating its directory, replacing a stale socket), sets its mode, and listens.
    public init(path: String, access: Access, service: ControlService, limits: Limits = Limits(),
                log: @escaping @Sendable (String) -> Void) throws(ControlError) {
        var groupID: gid_t? = nil
        if let group = access.group {
            guard let entry = getgrnam(group) else {
                throw ControlError("control.group: there is no group \"\(group)\" on this host")
            }
            groupID = entry.pointee.gr_gid
        }
        var address = try UnixSocket.address(path)
        try Self.makeDirectory(StateFile.directory(of: path))
        try Self.removeStale(path)
        let listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard listener >= 0 else { throw ControlError("control socket: socket: \(systemErrorText())") }
        // Until the chmod below the socket has the umask's mode; with any usual umask that leaves
        // others without write permission, which connect() needs, and SO_PEERCRED is checked anyway.
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0 else {
            let text = systemErrorText()
            close(listener)
            throw ControlError("control socket \(path): cannot bind: \(text)")
        }
        let mode: mode_t = groupID == nil ? 0o600 : 0o660
        if let groupID, chown(path, uid_t.max, groupID) != 0 {
            let text = systemErrorText()
            close(listener)
            unlink(path)
            throw ControlError("control socket \(path): cannot give it to group \(access.group ?? ""): \(text)")
        }
        guard chmod(path, mode) == 0, listen(listener, Int32(limits.clients)) == 0 else {
            let text = systemErrorText()
            close(listener)
            unlink(path)
            throw ControlError("control socket \(path): \(text)")
        }
        self.path = path
        self.limits = limits
        self.listener = listener
        self.groupID = groupID
        self.service = service
        self.log = log
    }

    public func start() {
        thread.start { [self] in self.serve() }
    }

    /// Stops the thread, closes every connection and removes the socket file.
    public func stop() {
        guard thread.stop() else { return }
        close(listener)
        unlink(path)
    }

    private static func makeDirectory(_ directory: String) throws(ControlError) {
        var prefix = directory.hasPrefix("/") ? "" : "."
        for component in directory.split(separator: "/") {
            prefix += "/" + component
            if mkdir(prefix, 0o755) != 0 && errno != EEXIST {
                throw ControlError("control socket: cannot create directory \(prefix): \(systemErrorText())")
            }
        }
    }

    /// A socket file nobody answers on is left over from a daemon that died; anything else is not ours.
    private static func removeStale(_ path: String) throws(ControlError) {
        var status = stat()
        guard lstat(path, &status) == 0 else { return }
        guard status.st_mode & S_IFMT == S_IFSOCK else {
            throw ControlError("control socket \(path) exists and is not a socket; not touching it")
        }
        if let descriptor = try UnixSocket.connect(path) {
            close(descriptor)
            throw ControlError("control socket \(path): another daemon answers there; stop it first")
        }
        unlink(path)
    }

    // MARK: The loop

    private final class Client {
        let descriptor: Int32
        var input: [UInt8] = []
        var output: [UInt8] = []
        var lastActivity: UInt64
        /// After an over-long request: the rest of that line is skipped, then reading goes on.
        var skippingLine = false
        var closing = false
        init(_ descriptor: Int32, now: UInt64) {
            self.descriptor = descriptor
            lastActivity = now
        }
    }

    /// A turned-away connection: told why, then read to its end (for at most a second) before it is
    /// closed, because closing with the client's request unread would reset the connection and the
    /// client could lose the answer that says why.
    private struct Lingering {
        var descriptor: Int32
        var deadline: UInt64
    }
    static let lingeringLimit = 64

    private func serve() {
        var acceptPausedUntil: UInt64 = 0
        var clients: [Client] = []
        var lingering: [Lingering] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while !thread.isStopping {
            // Out of descriptors, a pending connection keeps the listener readable: poll would spin.
            let listening = monotonicMilliseconds() >= acceptPausedUntil
            var descriptors = [pollfd(fd: listener, events: listening ? Int16(POLLIN) : 0, revents: 0)]
            for client in clients {
                let events = Int16(POLLIN) | (client.output.isEmpty ? 0 : Int16(POLLOUT))
                descriptors.append(pollfd(fd: client.descriptor, events: events, revents: 0))
            }
            for turnedAway in lingering { descriptors.append(pollfd(fd: turnedAway.descriptor, events: Int16(POLLIN), revents: 0)) }
            let ready = poll(&descriptors, nfds_t(descriptors.count), 100)
            let now = monotonicMilliseconds()
            if ready > 0 {
                for (index, client) in clients.enumerated() {
                    let events = descriptors[index + 1].revents
                    if events & Int16(POLLIN | POLLHUP | POLLERR) != 0 { receive(client, &chunk, now: now) }
                    if !client.output.isEmpty { flush(client) }
                }
                for (index, turnedAway) in lingering.enumerated() where descriptors[clients.count + 1 + index].revents != 0 {
                    let count = chunk.withUnsafeMutableBytes { recv(turnedAway.descriptor, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
                    if count == 0 || (count < 0 && errno != EAGAIN && errno != EINTR) { lingering[index].deadline = 0 }
                }
                if descriptors[0].revents & Int16(POLLIN) != 0 { accept(into: &clients, lingering: &lingering, pausedUntil: &acceptPausedUntil, now: now) }
            }
            lingering.removeAll { turnedAway in
                guard now >= turnedAway.deadline else { return false }
                close(turnedAway.descriptor)
                return true
            }
            for client in clients where !client.closing && now &- client.lastActivity > UInt64(limits.idleMilliseconds) {
                client.output += Array((ControlService.refusal("idle for \(limits.idleMilliseconds / 1_000) s: closing") + "\n").utf8)
                flush(client)
                client.closing = true
            }
            clients.removeAll { client in
                guard client.closing && (client.output.isEmpty || client.output.count > limits.pendingResponseBytes
                                         || now &- client.lastActivity > UInt64(limits.idleMilliseconds)) else { return false }
                close(client.descriptor)
                return true
            }
        }
        for client in clients { close(client.descriptor) }
        for turnedAway in lingering { close(turnedAway.descriptor) }
    }

    private func accept(into clients: inout [Client], lingering: inout [Lingering], pausedUntil: inout UInt64, now: UInt64) {
        while true {
            let descriptor = Glibc.accept(listener, nil, nil)
            guard descriptor >= 0 else {
                if errno == EMFILE || errno == ENFILE {
                    log("control: cannot accept a connection: \(systemErrorText()); pausing for 1 s")
                    pausedUntil = now &+ 1_000
                }
                return
            }
            _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
            UnixSocket.setNonBlocking(descriptor)
            if let refusal = admissionProblem(descriptor, clients: clients.count) {
                _ = send(descriptor, refusal + "\n", refusal.utf8.count + 1, Int32(MSG_NOSIGNAL | MSG_DONTWAIT))
                shutdown(descriptor, Int32(SHUT_WR))
                if lingering.count < Self.lingeringLimit {
                    lingering.append(Lingering(descriptor: descriptor, deadline: now &+ 1_000))
                } else {
                    close(descriptor)
                }
                continue
            }
            clients.append(Client(descriptor, now: now))
        }
    }

    private func admissionProblem(_ descriptor: Int32, clients: Int) -> String? {
        guard let peer = UnixSocket.peer(descriptor) else {
            return ControlService.refusal("cannot read the peer's credentials (SO_PEERCRED): \(systemErrorText())")
        }
        let allowed = peer.uid == 0 || peer.uid == geteuid()
            || groupID.map { peer.gid == $0 || UnixSocket.supplementaryGroups(of: peer.pid).contains($0) } == true
        guard allowed else {
            log("control: refused a connection from uid \(peer.uid) (pid \(peer.pid)): not root, the daemon's user or its group")
            return ControlService.refusal("permission denied: uid \(peer.uid) is not root, the daemon's user or in the control group")
        }
        guard clients < limits.clients else {
            return ControlService.refusal("too many control clients (\(limits.clients) connected); try again later")
        }
        return nil
    }

    private func receive(_ client: Client, _ chunk: inout [UInt8], now: UInt64) {
        guard !client.closing else { return }
        let count = chunk.withUnsafeMutableBytes { recv(client.descriptor, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
        if count < 0 {
            if errno == EAGAIN || errno == EINTR { return }
            client.closing = true
            client.output.removeAll()
            return
        }
        if count == 0 {
            client.closing = true
            return
        }
        client.lastActivity = now
        var start = 0
        for index in 0..<count where chunk[index] == UInt8(ascii: "\n") {
            take(client, chunk[start..<index], lineEnds: true)
            start = index + 1
        }
        if start < count { take(client, chunk[start..<count], lineEnds: false) }
    }

    private func take(_ client: Client, _ bytes: ArraySlice<UInt8>, lineEnds: Bool) {
        if client.skippingLine {
            if lineEnds { client.skippingLine = false }
            return
        }
        client.input += bytes
        if client.input.count > limits.requestBytes {
            answer(client, ControlService.refusal("request longer than \(limits.requestBytes) bytes: refused (one JSON object per line)"))
            client.input.removeAll()
            client.skippingLine = !lineEnds
            return
        }
        guard lineEnds else { return }
        var line = client.input
        client.input.removeAll(keepingCapacity: true)
        if line.last == UInt8(ascii: "\r") { line.removeLast() }
        guard line.contains(where: { $0 != 0x20 && $0 != 0x09 }) else { return }
        answer(client, service.respond(to: line))
    }

    private func answer(_ client: Client, _ response: String) {
        client.output += Array(response.utf8)
        client.output.append(UInt8(ascii: "\n"))
        if client.output.count > limits.pendingResponseBytes {
            log("control: dropped a client that does not read its answers (\(client.output.count) bytes pending)")
            client.closing = true
        }
    }

    private func flush(_ client: Client) {
        while !client.output.isEmpty {
            let count = client.output.withUnsafeBytes {
                send(client.descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT))
            }
            if count < 0 {
                if errno == EINTR { continue }
                if errno != EAGAIN {
                    client.output.removeAll()
                    client.closing = true
                }
                return
            }
            client.output.removeFirst(count)
        }
    }
}
