import DromosConfig
import DromosControlPlane
import DromosDatapath
import DromosSystem
import NIOCore

/// Raised instead of passing on a request's bytes once there are more than the limit.
struct RequestTooLarge {}

/// In front of the HTTP decoder: a request (line, headers and whatever follows) larger than `limit` is
/// not parsed, and not kept, beyond it.
final class RequestSizeLimit: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let limit: Int
    private var received = 0

    init(_ limit: Int) {
        self.limit = limit
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard received <= limit else { return }
        received += unwrapInboundIn(data).readableBytes
        if received > limit {
            context.fireUserInboundEventTriggered(RequestTooLarge())
        } else {
            context.fireChannelRead(data)
        }
    }
}
