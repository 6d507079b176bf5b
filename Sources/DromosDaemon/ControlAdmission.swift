import DromosConfig
import DromosControlPlane
import DromosDatapath
import DromosSystem
import Glibc
import NIOCore
import NIOPosix
import Synchronization

/// Who gets served on the control socket: decided once per connection, at accept, from the peer's
/// credentials (`SO_PEERCRED`) and the number of clients already connected. It sets up the connection's
/// pipeline accordingly: the request handlers, or a `TurnAwayHandler` with the reason.
final class ControlAdmission: Sendable {
    static let lingeringLimit = 64
    static let lingerTime = TimeAmount.seconds(1)

    private let limits: ControlServer.Limits
    private let groupID: gid_t?
    private let daemonUser = geteuid()
    private let service: ControlService
    private let work: NIOThreadPool
    private let log: @Sendable (String) -> Void
    private let counts = Mutex<(clients: Int, lingering: Int)>((0, 0))

    init(limits: ControlServer.Limits, groupID: gid_t?, service: ControlService, work: NIOThreadPool,
         log: @escaping @Sendable (String) -> Void) {
        self.limits = limits
        self.groupID = groupID
        self.service = service
        self.work = work
        self.log = log
    }

    /// The child channel initializer: runs on the connection's event loop before it is registered.
    func setUp(_ channel: any Channel) -> EventLoopFuture<Void> {
        peer(of: channel).flatMapThrowing { peer in
            switch self.decide(peer) {
            case .serve: try self.serve(channel)
            case .turnAway(let reason): try self.turnAway(channel, reason: reason)
            }
        }
    }

    private func peer(of channel: any Channel) -> EventLoopFuture<Result<PeerCredentials, any Error>> {
        guard let options = channel as? any SocketOptionProvider else {
            return channel.eventLoop.makeSucceededFuture(.failure(ChannelError.operationUnsupported))
        }
        let credentials: EventLoopFuture<PeerCredentials> = options.unsafeGetSocketOption(
            level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_PEERCRED))
        return credentials.map { .success($0) }.recover { .failure($0) }
    }

    private enum Decision {
        case serve
        case turnAway(String)
    }

    /// A connection it serves is counted in here, so that two accepted at once cannot both take the last place.
    private func decide(_ peer: Result<PeerCredentials, any Error>) -> Decision {
        let credentials: PeerCredentials
        switch peer {
        case .success(let read): credentials = read
        case .failure(let error):
            return .turnAway(ControlService.refusal("cannot read the peer's credentials (SO_PEERCRED): \(failureText(error))"))
        }
        guard isAllowed(credentials) else {
            log("control: refused a connection from uid \(credentials.uid) (pid \(credentials.pid)): not root, the daemon's user or its group")
            return .turnAway(ControlService.refusal("permission denied: uid \(credentials.uid) is not root, the daemon's user or in the control group"))
        }
        let admitted = counts.withLock { counts in
            guard counts.clients < limits.clients else { return false }
            counts.clients += 1
            return true
        }
        guard admitted else {
            return .turnAway(ControlService.refusal("too many control clients (\(limits.clients) connected); try again later"))
        }
        return .serve
    }

    /// Root, the daemon's own user, or a primary or supplementary member of the control group. The
    /// supplementary groups come from /proc (a read that never waits on a disk), and only for a peer that
    /// nothing else lets in.
    private func isAllowed(_ peer: PeerCredentials) -> Bool {
        if peer.uid == 0 || peer.uid == daemonUser { return true }
        guard let groupID else { return false }
        return peer.gid == groupID || UnixSocket.supplementaryGroups(of: peer.pid).contains(groupID)
    }

    private func serve(_ channel: any Channel) throws {
        channel.closeFuture.whenComplete { _ in self.counts.withLock { $0.clients -= 1 } }
        try channel.pipeline.syncOperations.addHandlers(
            IdleStateHandler(readTimeout: .milliseconds(Int64(limits.idleMilliseconds))),
            ByteToMessageHandler(ControlLineDecoder(limit: limits.requestBytes)),
            ControlConnectionHandler(service: service, work: work, limits: limits))
    }

    private func turnAway(_ channel: any Channel, reason: String) throws {
        let lingers = counts.withLock { counts in
            guard counts.lingering < Self.lingeringLimit else { return false }
            counts.lingering += 1
            return true
        }
        if lingers { channel.closeFuture.whenComplete { _ in self.counts.withLock { $0.lingering -= 1 } } }
        try channel.pipeline.syncOperations.addHandler(TurnAwayHandler(reason: reason, linger: lingers ? Self.lingerTime : nil))
    }
}
