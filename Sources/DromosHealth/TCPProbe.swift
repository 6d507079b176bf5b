import DromosBalancer
import DromosWire
import NIOCore
import NIOPosix

/// `tcp`: a connect to the backend's own address and the check's port, from the balancer's address.
/// Closed with a reset (SO_LINGER 0), as HAProxy's checks do: a thousand backends probed every second
/// would otherwise leave tens of thousands of TIME_WAIT sockets on one source address.
struct TCPProbe: Sendable {
    let current: CurrentSource

    func probe(_ target: HealthTarget, on loop: any EventLoop) -> EventLoopFuture<ProbeOutcome> {
        let started = monotonicNanoseconds()
        let timeout = target.check.timeoutMilliseconds
        return connect(target, on: loop, timeoutMilliseconds: timeout) { channel in
            channel.eventLoop.makeSucceededVoidFuture()
        }.flatMap { channel in
            Self.reset(channel)
        }.map {
            ProbeOutcome.up(after: monotonicNanoseconds() &- started)
        }.recover { error in
            .down(error as? ProbeFailure ?? SocketFailure.connectFailure(error, timeoutMilliseconds: timeout),
                  after: monotonicNanoseconds() &- started)
        }
    }

    /// A connected channel to the target's address and check port, or a failure (`ProbeFailure` when the
    /// probe itself could not be set up).
    func connect(_ target: HealthTarget, on loop: any EventLoop, timeoutMilliseconds: Int,
                 initializer: @escaping @Sendable (any Channel) -> EventLoopFuture<Void>) -> EventLoopFuture<any Channel> {
        let destination = target.key.address
        guard let port = target.check.port ?? target.key.service.port else {
            return loop.makeFailedFuture(ProbeFailure(.error, "no port to probe"))
        }
        let source = current.value
        guard let from = source.address(toward: destination) else {
            return loop.makeFailedFuture(source.missing(toward: destination))
        }
        do {
            let remote = try SocketAddress(ipAddress: destination.description, port: Int(port))
            let local = try SocketAddress(ipAddress: from.description, port: 0)
            return ClientBootstrap(group: loop)
                .connectTimeout(.milliseconds(Int64(timeoutMilliseconds)))
                .bind(to: local)
                .channelInitializer(initializer)
                .connect(to: remote)
        } catch {
            return loop.makeFailedFuture(ProbeFailure(.error, "address \(destination) port \(port): \(error)"))
        }
    }

    static func reset(_ channel: any Channel) -> EventLoopFuture<Void> {
        let linger = (channel as? any SocketOptionProvider)?.setSoLinger(linger(l_onoff: 1, l_linger: 0))
            ?? channel.eventLoop.makeSucceededVoidFuture()
        return linger.flatMapError { _ in channel.eventLoop.makeSucceededVoidFuture() }.flatMap { channel.close() }
            .flatMapError { _ in channel.eventLoop.makeSucceededVoidFuture() }
    }
}
