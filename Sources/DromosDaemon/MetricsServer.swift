import DromosBalancer
public import DromosConfig
public import DromosControlPlane
import DromosDatapath
import DromosHost
import DromosSystem
import DromosWire
import NIOCore
import NIOHTTP1
import NIOPosix

/// `GET /metrics` over HTTP/1.1 (NIOHTTP1): one request per connection, answered and closed. Small on
/// purpose: Prometheus is its only client. A scrape asks the workers' mailboxes and can wait for them, so
/// it runs on the server's work thread, never on its event loop; the figures are read off the packet
/// path, so nothing here can slow forwarding, and its threads are its own, so a control change in
/// progress does not hold up a scrape.
public final class MetricsServer: Sendable {
    public static let maximumClients = 8
    public static let requestTimeoutMilliseconds: UInt64 = 5_000
    static let maximumRequestBytes = 8_192

    public let listen: ListenAddress
    private let server: ListeningServer

    /// Binds and listens; connections wait in the backlog until `start`.
    public init(listen: ListenAddress, exporter: MetricsExporter) throws(ControlError) {
        server = try ListeningServer(bind: { threads in
            let work = threads.work
            let address = try SocketAddress(ipAddress: listen.address.description, port: Int(listen.port))
            return try ServerBootstrap(group: threads.eventLoops)
                .serverChannelOption(.backlog, value: 16)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .serverChannelOption(.autoRead, value: false)
                // One accept per read, so that AcceptLimit stops at the limit exactly.
                .serverChannelOption(.maxMessagesPerRead, value: 1)
                .serverChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandlers(AcceptBackoffHandler(), AcceptLimit(Self.maximumClients))
                    }
                }
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let pipeline = channel.pipeline.syncOperations
                        try pipeline.addHandler(RequestSizeLimit(Self.maximumRequestBytes))
                        try pipeline.configureHTTPServerPipeline(withPipeliningAssistance: false, withErrorHandling: false)
                        try pipeline.addHandler(MetricsRequestHandler(
                            exporter: exporter, work: work, timeout: .milliseconds(Int64(Self.requestTimeoutMilliseconds))))
                    }
                }
                .bind(to: address).wait()
        }, failure: { ControlError("metrics.listen: cannot listen on \(listen): \($0)") })
        self.listen = listen
    }

    /// Starts accepting.
    public func start() {
        server.start()
    }

    /// Closes the listener and every connection. Only the first call does anything.
    public func stop() {
        server.stop()
    }
}
