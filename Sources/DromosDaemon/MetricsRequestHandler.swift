import DromosConfig
import DromosControlPlane
import DromosDatapath
import DromosSystem
import NIOCore
import NIOHTTP1
import NIOPosix

/// One metrics connection: the first request is answered, then the connection is closed; one that has
/// not been answered within `timeout` of its start is closed as well.
final class MetricsRequestHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let exporter: MetricsExporter
    private let work: NIOThreadPool
    private let timeout: TimeAmount
    private var answered = false
    private var deadline: Scheduled<Void>?

    init(exporter: MetricsExporter, work: NIOThreadPool, timeout: TimeAmount) {
        self.exporter = exporter
        self.work = work
        self.timeout = timeout
    }

    func channelActive(context: ChannelHandlerContext) {
        let channel = context.channel
        deadline = context.eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(let request) = unwrapInboundIn(data), !answered else { return }
        answered = true
        guard request.method == .GET || request.method == .HEAD else {
            return respond(context, .methodNotAllowed, body: "only GET\n", extraHeaders: [("Allow", "GET, HEAD")])
        }
        let path = request.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        guard path == "/metrics" else {
            return respond(context, .notFound, body: "only /metrics is served here\n")
        }
        let exporter = exporter
        work.runIfActive(eventLoop: context.eventLoop) { exporter.scrape() }
            .assumeIsolated()
            .whenComplete { result in
                switch result {
                case .success(let body):
                    // For HEAD the encoder sends the head alone, with the length a GET would get.
                    self.respond(context, .ok, body: body, contentType: "text/plain; version=0.0.4; charset=utf-8")
                case .failure:
                    context.close(promise: nil)
                }
            }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is RequestTooLarge else { return context.fireUserInboundEventTriggered(event) }
        answerOnce(context, .requestHeaderFieldsTooLarge, body: "request too large\n")
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard error is HTTPParserError else { return context.close(promise: nil) }
        answerOnce(context, .badRequest, body: "expected GET /metrics HTTP/1.1\n")
    }

    private func answerOnce(_ context: ChannelHandlerContext, _ status: HTTPResponseStatus, body: String) {
        guard !answered else { return }
        answered = true
        respond(context, status, body: body)
    }

    private func respond(_ context: ChannelHandlerContext, _ status: HTTPResponseStatus, body: String,
                         extraHeaders: [(String, String)] = []) {
        respond(context, status, body: Array(body.utf8), contentType: "text/plain; charset=utf-8", extraHeaders: extraHeaders)
    }

    private func respond(_ context: ChannelHandlerContext, _ status: HTTPResponseStatus, body: [UInt8], contentType: String,
                         extraHeaders: [(String, String)] = []) {
        let headers = HTTPHeaders([("Content-Type", contentType), ("Content-Length", String(body.count))] + extraHeaders
                                  + [("Connection", "close")])
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
    }
}
