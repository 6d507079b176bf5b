import DromosBalancer
import DromosWire
import NIOCore
import NIOHTTP1
import NIOPosix

/// `http`: GET `path` over plain TCP to the backend's own address, `Host:` the check's host or the
/// backend's address; up when the response's status is in `expect`. The whole exchange (connect,
/// request, the response's head) has the check's timeout; the body is not waited for.
struct HTTPProbe: Sendable {
    let tcp: TCPProbe

    func probe(_ target: HealthTarget, on loop: any EventLoop) -> EventLoopFuture<ProbeOutcome> {
        let started = monotonicNanoseconds()
        let check = target.check
        let answer = loop.makePromise(of: ProbeOutcome.self)
        let finish = FinishOnce(answer, started: started)
        let host = check.host ?? (target.key.address.isIPv4 ? target.key.address.description : "[\(target.key.address)]")
        let request = HTTPRequestHead(version: .http1_1, method: .GET, uri: check.path,
                                      headers: ["Host": host, "User-Agent": "dromos-health-check", "Connection": "close"])
        let deadline = loop.scheduleTask(in: .milliseconds(Int64(check.timeoutMilliseconds))) {
            finish.down(SocketFailure.timeout(check.timeoutMilliseconds))
        }
        let connected = tcp.connect(target, on: loop, timeoutMilliseconds: check.timeoutMilliseconds) { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHTTPClientHandlers()
                try channel.pipeline.syncOperations.addHandler(HTTPProbeHandler(request: request, expect: check.expect, finish: finish))
            }
        }
        connected.whenComplete { result in
            switch result {
            case .success(let channel):
                finish.whenDone { TCPProbe.reset(channel).whenComplete { _ in } }
            case .failure(let error):
                finish.down(error as? ProbeFailure ?? SocketFailure.connectFailure(error, timeoutMilliseconds: check.timeoutMilliseconds))
            }
        }
        return answer.futureResult.always { _ in deadline.cancel() }
    }
}

/// The first outcome wins (the response, the deadline, a closed connection); the others are ignored.
/// Used on the probe's event loop only.
final class FinishOnce: @unchecked Sendable {
    private let promise: EventLoopPromise<ProbeOutcome>
    private let started: UInt64
    private var finished = false
    private var onDone: [() -> Void] = []

    init(_ promise: EventLoopPromise<ProbeOutcome>, started: UInt64) {
        self.promise = promise
        self.started = started
    }

    func up() { finish(.up(after: monotonicNanoseconds() &- started)) }
    func down(_ failure: ProbeFailure) { finish(.down(failure, after: monotonicNanoseconds() &- started)) }

    /// Runs `body` once the outcome is known (now, if it is).
    func whenDone(_ body: @escaping () -> Void) {
        if finished { body() } else { onDone.append(body) }
    }

    private func finish(_ outcome: ProbeOutcome) {
        guard !finished else { return }
        finished = true
        promise.succeed(outcome)
        for body in onDone { body() }
        onDone = []
    }
}

private final class HTTPProbeHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    let request: HTTPRequestHead
    let expect: ClosedRange<Int>
    let finish: FinishOnce

    init(request: HTTPRequestHead, expect: ClosedRange<Int>, finish: FinishOnce) {
        self.request = request
        self.expect = expect
        self.finish = finish
    }

    func channelActive(context: ChannelHandlerContext) {
        context.write(wrapOutboundOut(.head(request)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(let head) = unwrapInboundIn(data) else { return }
        let status = Int(head.status.code)
        if expect ~= status {
            finish.up()
        } else {
            finish.down(ProbeFailure(.httpStatus, "http \(status)"))
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish.down(ProbeFailure(.error, "connection closed before a response"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        finish.down(ProbeFailure(.error, "http: \(error)"))
        context.close(promise: nil)
    }
}
