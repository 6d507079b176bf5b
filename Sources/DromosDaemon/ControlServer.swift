public import DromosConfig
public import DromosControlPlane
import DromosDatapath
import DromosSystem
import Glibc
import NIOCore
import NIOPosix

/// The control socket: a Unix-domain stream socket served by SwiftNIO, one JSON object per line each
/// way. Its event loop thread only moves bytes; every request is answered on the one work thread, in
/// the order the requests arrived whichever client sent them, so changes are serialized and a read that
/// arrives after a change sees it.
public final class ControlServer: Sendable {
    public struct Limits: Sendable {
        public var clients = 16
        public var requestBytes = 65_536
        public var idleMilliseconds = 60_000
        public init() {}
    }

    /// Who may connect besides root: the daemon's own user, and members of `group` if one is set.
    public struct Access: Sendable {
        public var group: String?
        public init(group: String? = nil) { self.group = group }
    }

    public let path: String
    public let limits: Limits
    private let server: ListeningServer

    /// Binds the socket (creating its directory, replacing a stale socket) and sets its mode; connections
    /// wait in the backlog until `start`.
    public init(path: String, access: Access, service: ControlService, limits: Limits = Limits(),
                log: @escaping @Sendable (String) -> Void) throws(ControlError) {
        let group = try Self.group(access.group)
        _ = try UnixSocket.address(path)
        try ControlSocketFile.makeDirectory(StateFile.directory(of: path))
        try ControlSocketFile.removeStale(path)
        let server = try ListeningServer(bind: { threads in
            let admission = ControlAdmission(limits: limits, groupID: group?.id, service: service, work: threads.work, log: log)
            return try ServerBootstrap(group: threads.eventLoops)
                .serverChannelOption(.backlog, value: Int32(limits.clients))
                .serverChannelOption(.autoRead, value: false)
                .serverChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandlers(AcceptBackoffHandler(), AcceptFailureLog(log: log))
                    }
                }
                .childChannelOption(.allowRemoteHalfClosure, value: true)
                .childChannelInitializer { channel in admission.setUp(channel) }
                .bind(unixDomainSocketPath: path).wait()
        }, failure: { ControlError("control socket \(path): cannot bind: \($0)") })
        do {
            try ControlSocketFile.restrictAccess(path, group: group)
        } catch {
            server.stop()
            ControlSocketFile.remove(path)
            throw error
        }
        self.path = path
        self.limits = limits
        self.server = server
    }

    /// Starts accepting.
    public func start() {
        server.start()
    }

    /// Closes the socket and every connection (a change in progress is finished and answered first) and
    /// removes the socket file. Only the first call does anything.
    public func stop() {
        if server.stop() { ControlSocketFile.remove(path) }
    }

    private static func group(_ name: String?) throws(ControlError) -> (name: String, id: gid_t)? {
        guard let name else { return nil }
        guard let entry = getgrnam(name) else {
            throw ControlError("control.group: there is no group \"\(name)\" on this host")
        }
        return (name, entry.pointee.gr_gid)
    }
}
