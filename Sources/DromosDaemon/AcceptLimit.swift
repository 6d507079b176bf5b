import DromosConfig
import DromosControlPlane
import DromosDatapath
import DromosSystem
import NIOCore

/// At most `limit` connections at once: at the limit the listener stops accepting (further connections
/// wait in the kernel's backlog) until one of them closes.
final class AcceptLimit: ChannelDuplexHandler {
    typealias InboundIn = any Channel
    typealias OutboundIn = Never

    private let limit: Int
    private var open = 0
    private var readDeferred = false

    init(_ limit: Int) {
        self.limit = limit
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        open += 1
        unwrapInboundIn(data).closeFuture.hop(to: context.eventLoop).assumeIsolated().whenComplete { _ in
            self.open -= 1
            if self.readDeferred && self.open < self.limit {
                self.readDeferred = false
                context.read()
            }
        }
        context.fireChannelRead(data)
    }

    func read(context: ChannelHandlerContext) {
        if open < limit {
            context.read()
        } else {
            readDeferred = true
        }
    }
}
