import DromosConfig
import DromosControlPlane
import DromosDatapath
import DromosSystem
import NIOCore
import NIOExtras

/// What a control connection sends, one line at a time.
enum ControlLine {
    case request(ByteBuffer)
    /// A line past the limit: answered with a refusal; its bytes are not kept.
    case overlong
}

/// `LineBasedFrameDecoder` with the protocol's line limit. A line is refused as soon as it grows past
/// the limit, not when it ends, so a client cannot make the daemon buffer an endless line; the rest of
/// it is skipped and the line after it is served as usual.
final class ControlLineDecoder: ByteToMessageDecoder {
    typealias InboundOut = ControlLine

    private let limit: Int
    private var lines = LineBasedFrameDecoder()
    private var skippingLine = false

    init(limit: Int) {
        self.limit = limit
    }

    func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        if skippingLine {
            guard let newline = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else {
                buffer.moveReaderIndex(to: buffer.writerIndex)
                return .needMoreData
            }
            buffer.moveReaderIndex(to: newline + 1)
            skippingLine = false
            return .continue
        }
        if let line = try lines.decode(buffer: &buffer) {
            context.fireChannelRead(wrapInboundOut(line.readableBytes > limit ? .overlong : .request(line)))
            return .continue
        }
        guard buffer.readableBytes > limit else { return .needMoreData }
        buffer.moveReaderIndex(to: buffer.writerIndex)
        // The line decoder remembers how far it scanned the bytes just dropped; a fresh one starts over.
        lines = LineBasedFrameDecoder()
        skippingLine = true
        context.fireChannelRead(wrapInboundOut(.overlong))
        return .needMoreData
    }

    /// A last line without its line end is not a request (as before NIO): dropped, not refused.
    func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        buffer.moveReaderIndex(to: buffer.writerIndex)
        return .needMoreData
    }
}
