import DromosBalancer
import DromosIO
import DromosSystem
import DromosWire
import Glibc
import NIOCore
import Synchronization

/// `dsr`: a TCP SYN to the VIP and the check's port, framed to the backend's MAC from the balancer's
/// MAC and address, exactly as a client's SYN leaves the datapath. A backend that holds the VIP on `lo`
/// and listens answers with a SYN-ACK from the VIP straight to the balancer's address; that is up, and
/// the half-open connection is then reset the same way. No SYN-ACK within the timeout is down, which is
/// what a backend that lost the VIP (or its ARP suppression, or whose MAC is wrong) gives.
///
/// The SYN leaves by a send-only packet socket (protocol 0: it is delivered nothing, so the datapath's
/// frames never reach it), and the answer is read from a raw TCP socket of the SYN-ACK's family, which
/// sees only what the host's own stack receives, never forwarded VIP traffic. The source port is
/// reserved for the probe by a bound TCP socket, so the host never hands it to a connection of its own.
/// The kernel answers the SYN-ACK with a reset of its own too (no socket listens on the port); ours is
/// sent by the DR path so it reaches the backend whatever the host's routing does with the VIP.
final class DSRProbe: Sendable {
    private struct Match: Hashable {
        var vip: IPAddress
        var vipPort: UInt16
        var localPort: UInt16
        var acknowledgment: UInt32
    }

    private struct Waiting {
        var finish: @Sendable (ProbeOutcome?) -> Void
        var started: UInt64
        var rst: [UInt8]
    }

    private let current: CurrentSource
    private let backendMAC: @Sendable (BackendKey) -> MACAddress?
    private let sender: Mutex<FrameSender?>
    private let waiting = Mutex<[Match: Waiting]>([:])
    private let listeners = Mutex<[Bool: RawTCPListener]>([:])

    init(current: CurrentSource, backendMAC: @escaping @Sendable (BackendKey) -> MACAddress?) {
        self.current = current
        self.backendMAC = backendMAC
        sender = Mutex(nil)
    }

    /// Stops the listeners and answers every probe still waiting (as not answered), so that no promise
    /// outlives the event loop and every reserved port is given back.
    func stop() {
        let stopping = listeners.withLock { listeners in
            defer { listeners = [:] }
            return Array(listeners.values)
        }
        for listener in stopping { listener.stop() }
        let abandoned = waiting.withLock { waiting in
            defer { waiting = [:] }
            return Array(waiting.values)
        }
        for waiter in abandoned { waiter.finish(nil) }
    }

    func probe(_ target: HealthTarget, on loop: any EventLoop) -> EventLoopFuture<ProbeOutcome> {
        let started = monotonicNanoseconds()
        let check = target.check
        func down(_ failure: ProbeFailure) -> EventLoopFuture<ProbeOutcome> {
            loop.makeSucceededFuture(.down(failure, after: monotonicNanoseconds() &- started))
        }
        let vip = target.key.service.vip
        guard let port = check.port ?? target.key.service.port else { return down(ProbeFailure(.error, "no port to probe")) }
        let source = current.value
        guard let from = source.address(toward: vip) else { return down(source.missing(toward: vip)) }
        guard let mac = backendMAC(target.key) else {
            return down(ProbeFailure(.error, "no MAC for the backend yet (neighbor resolution pending)"))
        }
        let reservation: PortReservation
        do {
            try listener(ipv4: vip.isIPv4)
            reservation = try PortReservation(address: from)
        } catch {
            return down(ProbeFailure(.error, "\(error)"))
        }
        let sequence = UInt32.random(in: 0...UInt32.max)
        let syn = TCPControlFrame.Segment(source: from, destination: vip, sourcePort: reservation.port, destinationPort: port,
                                          sequence: sequence, flags: TCPControlFrame.syn)
        var rst = syn
        rst.sequence = sequence &+ 1
        rst.flags = TCPControlFrame.rst
        let match = Match(vip: vip, vipPort: port, localPort: reservation.port, acknowledgment: sequence &+ 1)
        let promise = loop.makePromise(of: ProbeOutcome.self)
        let timeoutText = DurationText.format(milliseconds: check.timeoutMilliseconds)
        let finish: @Sendable (ProbeOutcome?) -> Void = { outcome in
            withExtendedLifetime(reservation) {}
            promise.succeed(outcome ?? .down(ProbeFailure(.noSYNACK, "no SYN-ACK from VIP within \(timeoutText)"),
                                             after: monotonicNanoseconds() &- started))
        }
        waiting.withLock { $0[match] = Waiting(finish: finish, started: started, rst: TCPControlFrame.bytes(rst, from: source.mac, to: mac)) }
        let timeout = loop.scheduleTask(in: .milliseconds(Int64(check.timeoutMilliseconds))) { [self] in
            if let waiter = waiting.withLock({ $0.removeValue(forKey: match) }) { waiter.finish(nil) }
        }
        if let failure = send(TCPControlFrame.bytes(syn, from: source.mac, to: mac)) {
            timeout.cancel()
            // Unless the answer came first (it cannot without a SYN, but the lock decides, not the reasoning).
            if waiting.withLock({ $0.removeValue(forKey: match) }) != nil {
                promise.succeed(.down(failure, after: monotonicNanoseconds() &- started))
            }
        }
        return promise.futureResult.always { _ in timeout.cancel() }
    }

    /// From a listener thread: a SYN-ACK from `vip`:`vipPort` to `localPort` acknowledging `acknowledgment`.
    private func answered(vip: IPAddress, vipPort: UInt16, localPort: UInt16, acknowledgment: UInt32) {
        let match = Match(vip: vip, vipPort: vipPort, localPort: localPort, acknowledgment: acknowledgment)
        guard let waiter = waiting.withLock({ $0.removeValue(forKey: match) }) else { return }
        _ = send(waiter.rst)
        waiter.finish(.up(after: monotonicNanoseconds() &- waiter.started))
    }

    private func send(_ frame: [UInt8]) -> ProbeFailure? {
        let interface = current.value.interface
        return sender.withLock { sender -> ProbeFailure? in
            do {
                if sender == nil { sender = try FrameSender(interface: interface) }
                let open = sender!
                try frame.withUnsafeBytes { bytes in try open.send(bytes) }
                return nil
            } catch {
                return ProbeFailure(.error, "cannot send on \(interface): \(error)")
            }
        }
    }

    private func listener(ipv4: Bool) throws(SystemCallError) {
        try listeners.withLock { (listeners: inout [Bool: RawTCPListener]) throws(SystemCallError) in
            guard listeners[ipv4] == nil else { return }
            listeners[ipv4] = try RawTCPListener(ipv4: ipv4) { [weak self] answer in
                self?.answered(vip: answer.source, vipPort: answer.sourcePort, localPort: answer.destinationPort,
                               acknowledgment: answer.acknowledgment)
            }
        }
    }
}

/// Keeps a local port out of the host's hands for as long as it lives: a TCP socket bound to it.
final class PortReservation: Sendable {
    private let descriptor: Mutex<SocketDescriptor>
    let port: UInt16

    init(address: IPAddress) throws(SystemCallError) {
        let family = address.isIPv4 ? AF_INET : AF_INET6
        let socket = try SocketDescriptor(domain: family, type: Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), protocol: 0)
        port = try SocketAddressing.bindToAnyPort(socket, address)
        descriptor = Mutex(socket)
    }
}
