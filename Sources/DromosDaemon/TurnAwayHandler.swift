import DromosConfig
import DromosControlPlane
import DromosDatapath
import DromosSystem
import NIOCore

/// A connection the control socket does not serve: told why in one line, then closed.
///
/// Closing with the client's request still unread would reset the connection, and the client could lose
/// the line that says why. So the daemon shuts down its sending side and reads the client to its end,
/// for at most `linger`, before it closes; without `linger` (too many are lingering already) it closes
/// as soon as the line is written.
final class TurnAwayHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let reason: String
    private let linger: TimeAmount?
    private var deadline: Scheduled<Void>?

    init(reason: String, linger: TimeAmount?) {
        self.reason = reason
        self.linger = linger
    }

    func channelActive(context: ChannelHandlerContext) {
        let channel = context.channel
        let written = context.writeAndFlush(wrapOutboundOut(channel.allocator.line(reason)))
        guard let linger else {
            written.whenComplete { _ in channel.close(promise: nil) }
            return
        }
        written.whenComplete { _ in channel.close(mode: .output, promise: nil) }
        deadline = context.eventLoop.scheduleTask(in: linger) { channel.close(promise: nil) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event { context.close(promise: nil) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        context.fireChannelInactive()
    }
}
