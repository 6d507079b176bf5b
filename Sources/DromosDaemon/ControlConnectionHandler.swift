import DromosConfig
import DromosControlPlane
import DromosDatapath
import DromosSystem
import NIOCore
import NIOPosix

/// One admitted control connection: request lines in, one answer line each out, in order.
///
/// One request at a time: the next is not started, and nothing more is read from the socket, until the
/// answer to the last one was written. A client that sends faster than it reads its answers holds up only
/// itself, and the daemon keeps at most one answer of it in memory. The answer is made on the work
/// thread (a change runs nft, fsyncs and waits for the workers), never on the event loop.
final class ControlConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = ControlLine
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let service: ControlService
    private let work: NIOThreadPool
    private let limits: ControlServer.Limits
    private var waiting = CircularBuffer<ControlLine>()
    /// An answer is being made or written.
    private var answering = false
    /// The answer is being made on the work thread: the client is not idle, it is waiting for us.
    private var making = false
    private var readDeferred = false
    private var inputClosed = false

    init(service: ControlService, work: NIOThreadPool, limits: ControlServer.Limits) {
        self.service = service
        self.work = work
        self.limits = limits
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        waiting.append(unwrapInboundIn(data))
        answerNext(context: context)
    }

    func read(context: ChannelHandlerContext) {
        if answering || !waiting.isEmpty {
            readDeferred = true
        } else {
            context.read()
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case IdleStateHandler.IdleStateEvent.read where !making:
            let notice = ControlService.refusal("idle for \(limits.idleMilliseconds / 1_000) s: closing")
            context.writeAndFlush(wrapOutboundOut(context.channel.allocator.line(notice)), promise: nil)
            context.close(promise: nil)
        case ChannelEvent.inputClosed:
            // The client shut down its side after its last request: it still gets every answer.
            inputClosed = true
            answerNext(context: context)
        default:
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    private func answerNext(context: ChannelHandlerContext) {
        while !answering, let line = waiting.popFirst() {
            switch line {
            case .overlong:
                send(ControlService.refusal("request longer than \(limits.requestBytes) bytes: refused (one JSON object per line)"),
                     context: context)
            case .request(let buffer):
                let bytes = Array(buffer.readableBytesView)
                guard bytes.contains(where: { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\t") }) else { continue }
                make(answerTo: bytes, context: context)
            }
        }
        guard !answering, waiting.isEmpty else { return }
        if inputClosed {
            context.close(promise: nil)
        } else if readDeferred {
            readDeferred = false
            context.read()
        }
    }

    private func make(answerTo request: [UInt8], context: ChannelHandlerContext) {
        answering = true
        making = true
        let service = service
        work.runIfActive(eventLoop: context.eventLoop) { service.respond(to: request) }
            .assumeIsolated()
            .whenComplete { result in
                self.making = false
                switch result {
                case .success(let answer): self.send(answer, context: context)
                case .failure: context.close(promise: nil)  // the work thread stopped: the server is stopping
                }
            }
    }

    private func send(_ answer: String, context: ChannelHandlerContext) {
        answering = true
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.line(answer))).assumeIsolated().whenComplete { result in
            self.answering = false
            switch result {
            case .success: self.answerNext(context: context)
            case .failure: context.close(promise: nil)
            }
        }
    }
}

extension ByteBufferAllocator {
    /// One line of the control protocol: the text and its line end.
    func line(_ text: String) -> ByteBuffer {
        var buffer = buffer(capacity: text.utf8.count + 1)
        buffer.writeString(text)
        buffer.writeInteger(UInt8(ascii: "\n"))
        return buffer
    }
}
