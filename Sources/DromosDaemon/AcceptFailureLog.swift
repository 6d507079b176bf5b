import DromosConfig
import DromosControlPlane
import DromosDatapath
import DromosSystem
import NIOCore

/// Tells the operator when the control socket cannot accept (out of descriptors, most likely); the
/// `AcceptBackoffHandler` before it has already paused accepting for a second.
final class AcceptFailureLog: ChannelInboundHandler {
    typealias InboundIn = any Channel

    private let log: @Sendable (String) -> Void

    init(log: @escaping @Sendable (String) -> Void) {
        self.log = log
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard error is IOError else { return context.fireErrorCaught(error) }
        log("control: cannot accept a connection: \(failureText(error)); pausing for 1 s")
    }
}
