public import DromosBalancer
public import DromosWire
import NIOCore
import NIOPosix
import Synchronization

/// Runs the services' health checks off the packet path, on an event loop of its own (SwiftNIO): the
/// schedule (``HealthSchedule``) says what is due, the probes (`tcp`, `http` on NIO; `dsr` by a packet
/// socket) answer on the loop, and each change of the set of down backends goes to `downChanged` on a
/// thread of its own (it rebuilds and publishes the forwarding table, which takes milliseconds and must
/// not hold up the probes), in order.
public final class HealthChecker: Sendable {
    /// Probes in flight at most; what is due beyond waits its turn. Each holds a socket (two for `dsr`).
    public static let defaultConcurrency = 256
    /// Due probes are started together when they fall within this many milliseconds.
    static let wakeGranularity: UInt64 = 5

    public let board = HealthBoard()
    private let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    private let work = NIOThreadPool(numberOfThreads: 1)
    private let loop: any EventLoop
    private let loopState: LoopState
    private let current: CurrentSource
    private let tcp: TCPProbe
    private let http: HTTPProbe
    private let dsr: DSRProbe
    private let downChanged: @Sendable (Set<BackendKey>) -> Void
    private let log: @Sendable (String) -> Void
    private let stopped = Atomic<Bool>(false)

    /// Touched on `loop` only (every access below runs there), hence unchecked.
    private final class LoopState: @unchecked Sendable {
        var schedule: HealthSchedule
        var timer: Scheduled<Void>?
        var timerDeadline: UInt64?
        var down: Set<BackendKey> = []
        init(schedule: HealthSchedule) { self.schedule = schedule }
    }

    public init(source: ProbeSource, concurrency: Int = HealthChecker.defaultConcurrency,
                backendMAC: @escaping @Sendable (BackendKey) -> MACAddress?,
                downChanged: @escaping @Sendable (Set<BackendKey>) -> Void,
                log: @escaping @Sendable (String) -> Void) {
        loop = group.next()
        loopState = LoopState(schedule: HealthSchedule(concurrency: concurrency))
        current = CurrentSource(source)
        tcp = TCPProbe(current: current)
        http = HTTPProbe(tcp: tcp)
        dsr = DSRProbe(current: current, backendMAC: backendMAC)
        self.downChanged = downChanged
        self.log = log
        work.start()
    }

    /// The services to check, at start and after every accepted change or reload: backends that stay
    /// keep their state. `source`, when given, replaces the addresses probes come from.
    public func update(_ services: [ServiceSpec], source: ProbeSource? = nil) {
        if let source { current.replace(source) }
        let targets = HealthTarget.all(services)
        guard !stopped.load(ordering: .acquiring) else { return }
        loop.execute { [self] in
            let state = loopState
            state.schedule.update(targets, now: Self.now())
            board.replace(state.schedule.healthByKey, targets: state.schedule.targets)
            publishDown()
            arm()
        }
    }

    /// Stops probing: no probe starts after this returns, and no outcome counts any more: those in
    /// flight are abandoned (`dsr`'s answered as stopped, so nothing waits on them), and nothing reaches
    /// `downChanged` after it. Blocks (it waits for the checker's threads): not from an event loop or a
    /// Swift concurrency thread.
    public func stop() {
        guard !stopped.exchange(true, ordering: .acquiringAndReleasing) else { return }
        try? loop.submit { [self] in
            loopState.timer?.cancel()
            loopState.timer = nil
        }.wait()
        dsr.stop()
        try? group.syncShutdownGracefully()
        try? work.syncShutdownGracefully()
    }

    static func now() -> UInt64 { NIODeadline.now().uptimeNanoseconds / 1_000_000 }

    private func arm() {
        let state = loopState
        // With every slot taken nothing can start before a probe finishes, and `finish` arms again.
        guard !stopped.load(ordering: .acquiring), state.schedule.probesInFlight < state.schedule.concurrency,
              let due = state.schedule.nextDue else { return }
        let now = Self.now()
        let granularity = Self.wakeGranularity
        let deadline = max(due, now).roundedUp(to: granularity)
        if let armed = state.timerDeadline, armed <= deadline, state.timer != nil { return }
        state.timer?.cancel()
        state.timerDeadline = deadline
        state.timer = loop.scheduleTask(deadline: NIODeadline.uptimeNanoseconds(deadline * 1_000_000)) { [self] in
            self.loopState.timer = nil
            self.loopState.timerDeadline = nil
            tick()
        }
    }

    private func tick() {
        guard !stopped.load(ordering: .acquiring) else { return }
        for ticket in loopState.schedule.start(now: Self.now()) {
            // Probes only succeed with an outcome; a failed future would still free its slot.
            probe(ticket.target).whenComplete { [self] result in
                finish(ticket, (try? result.get()) ?? .down(ProbeFailure(.error, "probe failed: \(result)"), after: 0))
            }
        }
        arm()
    }

    private func probe(_ target: HealthTarget) -> EventLoopFuture<ProbeOutcome> {
        switch target.check.type {
        case .tcp: tcp.probe(target, on: loop)
        case .http: http.probe(target, on: loop)
        case .dsr: dsr.probe(target, on: loop)
        case .none: loop.makeSucceededFuture(.up(after: 0))
        }
    }

    private func finish(_ ticket: ProbeTicket, _ outcome: ProbeOutcome) {
        // Shutting down closes the probes' channels: those failures are ours, not the backends'.
        guard !stopped.load(ordering: .acquiring) else { return }
        let state = loopState
        let transition = state.schedule.finish(ticket, outcome, now: Self.now())
        if let health = state.schedule.health(of: ticket.target.key) {
            board.record(ticket.target, health, outcome)
        }
        if let transition {
            log(transition.description)
            publishDown()
        }
        arm()
    }

    private func publishDown() {
        let state = loopState
        let down = state.schedule.down
        guard down != state.down else { return }
        state.down = down
        let downChanged = self.downChanged
        work.submit { [self] state in
            // A pool that is shutting down runs what is queued as cancelled, or right away on the caller.
            guard state == .active, !stopped.load(ordering: .acquiring) else { return }
            downChanged(down)
        }
    }
}

extension UInt64 {
    fileprivate func roundedUp(to step: UInt64) -> UInt64 { (self + step - 1) / step * step }
}
