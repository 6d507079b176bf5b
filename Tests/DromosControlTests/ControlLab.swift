import DromosBalancer
import DromosConfig
import DromosControlPlane
import DromosDaemon
import DromosDatapath
import DromosHealth
import DromosHost
import DromosOffline
import DromosSystem
import DromosIO
import DromosLab
import DromosWire
import Foundation
import Glibc
import Synchronization

/// A control plane, control socket and one datapath worker loop for real — real `ForwardingTable`s,
/// `TablePublisher`, `BalancerWorker`, mailbox and Unix socket — with frames handed to the worker
/// directly instead of through an AF_PACKET ring, so it runs without namespaces.
final class ControlLab: @unchecked Sendable {
    static let vip = LabAddresses.vip
    static let backendMACs = LabAddresses.backendMACs

    let directory: URL
    var configPath: String { directory.appendingPathComponent("dromos.yaml").path }
    var statePath: String { directory.appendingPathComponent("state/state.yaml").path }
    var socketPath: String { directory.appendingPathComponent("run/control.sock").path }
    let coveredVIPs = Mutex<[[IPAddress]]>([])
    let failCoverVIPs = Atomic<Bool>(false)
    let pendingFrames = Mutex<[[UInt8]]>([])
    let stopping = Atomic<Bool>(false)
    var plane: ControlPlane!
    /// The worker's mailbox, for a second reader (the metrics endpoint).
    var mailbox: WorkerMailbox?
    func readerAsk(_ request: ReportRequest) -> [WorkerReport] {
        [mailbox?.ask(request, timeoutMilliseconds: 30_000)].compactMap { $0 }
    }
    var server: ControlServer!
    var worker: Thread?
    let workerStopped = Atomic<Bool>(false)
    /// Frames the worker has decided so far: what `sendSYNs` waits for.
    let decided = Atomic<Int>(0)
    let logLines = Mutex<[String]>([])

    init() throws {
        directory = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("dromos-control-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try writeConfig()
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(at: directory)
    }

    func writeConfig(backends: [Int] = [0, 1], scheduler: String = "rr", group: String? = nil) throws {
        let lines = backends.map { "      - { address: 198.18.0.\(11 + $0), mac: \"\(Self.backendMACs[$0])\" }" }
        let control = group.map { "control: { socket: \(socketPath), group: \($0) }" } ?? "control: { socket: \(socketPath) }"
        let yaml = """
            interface: lo
            \(control)
            state: \(statePath)
            services:
              - name: web
                vip: \(Self.vip)
                port: 80
                protocol: tcp
                scheduler: \(scheduler)
                backends:

            """ + lines.joined(separator: "\n") + "\n"
        try yaml.write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    var hooks: ControlHooks {
        ControlHooks(
            coverVIPs: { [self] vips in
                if failCoverVIPs.load(ordering: .acquiring) { return "nft refused (test)" }
                coveredVIPs.withLock { $0.append(vips) }
                return nil
            },
            hostProblems: { _ in [] },
            loadConfig: { [configPath] in
                do throws(ConfigError) { return .success(try ConfigLoader.load(path: configPath)) } catch {
                    return .failure(ControlError(error.lines.joined(separator: "; ")))
                }
            })
    }

    /// Starts the plane (restoring the state file as the daemon does), one worker loop and the socket.
    @discardableResult
    func start(limits: ControlServer.Limits = ControlServer.Limits(), group: String? = nil, health: HealthBoard? = nil) throws -> String {
        let config = try ConfigLoader.load(path: configPath)
        let stateFile = StateFile(path: statePath)
        let (pool, note) = try ControlPlane.startingPool(config: config, stateFile: stateFile)
        let log: @Sendable (String) -> Void = { [self] line in self.logLines.withLock { $0.append(line) } }
        plane = try ControlPlane(pool: pool, configServices: config.balancer.services, stateFile: stateFile, hooks: hooks, log: log)
        let mailbox = WorkerMailbox()
        self.mailbox = mailbox
        startWorker(mailbox: mailbox)
        let reader = DatapathReader(
            workerCount: 1, counters: { DatapathCounters() },
            ask: { request in [mailbox.ask(request, timeoutMilliseconds: 30_000)].compactMap { $0 } })
        let service = ControlService(plane: plane, datapath: reader, interface: "lo", health: health, log: log)
        server = try ControlServer(path: socketPath, access: .init(group: group), service: service, limits: limits, log: log)
        server.start()
        return note
    }

    /// The worker loop: adopt at the boundary, decide the frames handed over, answer the mailbox.
    private func startWorker(mailbox: WorkerMailbox) {
        let publisher = plane.publisher
        stopping.store(false, ordering: .releasing)
        workerStopped.store(false, ordering: .releasing)
        let thread = Thread { [self] in
            let balancer = BalancerWorker(table: publisher.snapshot().table, flowTable: FlowTableSpec(capacity: 4_096))
            var follower = TableFollower(publisher: publisher, balancer: balancer)
            while !stopping.load(ordering: .acquiring) {
                let now = monotonicMilliseconds()
                for var frame in pendingFrames.withLock({ frames in defer { frames.removeAll() }; return frames }) {
                    frame.withUnsafeMutableBytes { _ = balancer.decide($0, now: now) }
                    decided.add(1, ordering: .releasing)
                }
                _ = follower.follow(balancer)
                if let ticket = mailbox.pendingTicket {
                    mailbox.answer(ticket: ticket, worker: 0, balancer: balancer, ringDrops: 0, now: now)
                }
                usleep(1_000)
            }
            workerStopped.store(true, ordering: .releasing)
        }
        thread.start()
        worker = thread
    }

    func stop() {
        server?.stop()
        server = nil
        stopping.store(true, ordering: .releasing)
        let deadline = Date().addingTimeInterval(60)
        while worker != nil && !workerStopped.load(ordering: .acquiring) && Date() < deadline { usleep(1_000) }
        worker = nil
    }

    /// Restarts the whole lab on the same files, as a daemon restart would.
    @discardableResult
    func restart() throws -> String {
        stop()
        return try start()
    }

    /// Hands TCP SYNs from distinct client ports to the worker, and waits (bounded) until it decided them.
    func sendSYNs(count: Int, firstPort: UInt16 = 40_000) {
        let target = decided.load(ordering: .acquiring) + count
        pendingFrames.withLock { frames in
            for index in 0..<count { frames.append(SYNFrame.make(sourcePort: firstPort &+ UInt16(index), vip: Self.vip)) }
        }
        let deadline = Date().addingTimeInterval(60)
        while decided.load(ordering: .acquiring) < target && Date() < deadline { usleep(1_000) }
    }

    func client() throws -> ControlClient { try ControlClient(path: socketPath) }

    /// One request on a fresh connection. 30 s, like the worker mailbox's wait: a pool change waits for
    /// the lab's worker thread to adopt the table, and with the whole suite running in parallel on two
    /// cores that thread once took longer than the client's default 10 s (a fresh-clone run, load 10).
    func ask(_ line: String) throws -> ParsedJSON { try client().request(line, timeoutMilliseconds: 30_000) }

    var stateFileText: String { (try? String(contentsOfFile: statePath, encoding: .utf8)) ?? "" }
}

/// An Ethernet + IPv4 + TCP SYN from 198.51.100.7 to the VIP, port 80.
enum SYNFrame {
    static func make(sourcePort: UInt16, vip: String) -> [UInt8] {
        let vipBytes = vip.split(separator: ".").map { UInt8($0)! }
        var frame: [UInt8] = [0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01, 0x08, 0x00]
        var ip: [UInt8] = [0x45, 0, 0, 40, 0, 1, 0x40, 0, 64, 6, 0, 0, 198, 51, 100, 7] + vipBytes
        var sum: UInt32 = 0
        for index in stride(from: 0, to: ip.count, by: 2) { sum += UInt32(ip[index]) << 8 | UInt32(ip[index + 1]) }
        while sum > 0xFFFF { sum = (sum & 0xFFFF) + (sum >> 16) }
        let checksum = ~UInt16(sum)
        ip[10] = UInt8(checksum >> 8)
        ip[11] = UInt8(checksum & 0xFF)
        let tcp: [UInt8] = [UInt8(sourcePort >> 8), UInt8(sourcePort & 0xFF), 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02,
                            0xFF, 0xFF, 0, 0, 0, 0]
        frame += ip + tcp
        return frame
    }
}

extension ParsedJSON {
    var isOK: Bool { self["ok"] == .bool(true) }
    var errorText: String { if case .string(let text)? = self["error"] { return text } else { return "" } }
    var int: Int? { if case .number(let number) = self { return Int(number) } else { return nil } }
    var text: String? { if case .string(let text) = self { return text } else { return nil } }
    var items: [ParsedJSON] { if case .array(let items) = self { return items } else { return [] } }
}
