import DromosBalancer
import DromosConfig
import DromosDatapath
public import DromosHealth
import DromosHost
import DromosSystem
import DromosWire
import Glibc

/// Answers one request line with one response line. Every refusal is `{"ok": false, "error": …}` with
/// the reason; nothing a client sends can stop the daemon or the connection.
public final class ControlService: Sendable {
    public static let commands = [
        "status", "services", "backends", "stats", "flows", "service add", "service remove", "backend add",
        "backend remove", "backend weight", "backend drain", "backend undrain", "backend down", "backend up", "backend auto",
        "reload", "vip announce", "advertise", "advertise withdraw", "advertise restore",
    ]
    public static let defaultFlowLimit = 100
    public static let maximumFlowLimit = 10_000

    public let plane: ControlPlane
    public let datapath: DatapathReader
    public let interface: String
    /// The packet I/O, as `ctl status` shows it (`afpacket`, `pcap`, `xdp (native mode, copy)`).
    public let io: String
    /// The health checks' results; nil where nothing checks (tests of the protocol alone).
    public let health: HealthBoard?
    let startedAt: UInt64
    private let log: @Sendable (String) -> Void
    /// Sends the VIP announcements again (the daemon's `announceVIPs`); nil where nothing can send them.
    private let announce: (@Sendable () -> [String])?
    /// The VIP routes for a routing daemon; nil when the config has no `advertise`.
    public let advertiser: RouteAdvertiser?

    public init(plane: ControlPlane, datapath: DatapathReader, interface: String, io: String = "afpacket", health: HealthBoard? = nil,
                log: @escaping @Sendable (String) -> Void, announce: (@Sendable () -> [String])? = nil,
                advertiser: RouteAdvertiser? = nil) {
        self.announce = announce
        self.advertiser = advertiser
        self.health = health
        self.plane = plane
        self.datapath = datapath
        self.interface = interface
        self.io = io
        self.log = log
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        startedAt = UInt64(now.tv_sec)
    }

    public func respond(to line: [UInt8]) -> String {
        do throws(ControlError) {
            let request: ParsedJSON
            do { request = try JSONReader.parse(line) } catch { throw ControlError("request is \(error.description)") }
            return try handle(request).encodedWithOK
        } catch {
            return Self.refusal(error.message)
        }
    }

    public static func refusal(_ message: String) -> String {
        var line = JSONLine()
        line.add("ok", .bool(false))
        line.add("error", .string(message))
        return line.encoded
    }

    private func handle(_ request: ParsedJSON) throws(ControlError) -> ResponseLine {
        var fields = try JSONFields(request, path: "")
        let command = try fields.string("command")
        var response = ResponseLine()
        switch command {
        case "status":
            try fields.finish()
            status(into: &response)
        case "services":
            try fields.finish()
            response.add("services", .array(plane.running.pool.services.map { serviceSummary($0, plane.running.pool) }))
        case "backends":
            let name = try fields.string("service")
            try fields.finish()
            let running = plane.running
            let service = running.pool.services[try running.pool.serviceIndex(name)]
            response.add("service", .string(name))
            let up = running.upBackends(service)
            let checks = health?.snapshot ?? [:]
            let now = Clock.Reading.now()
            response.add("backends", .array(service.backends.map {
                backendSummary($0, service: service, running, up: up, checks: checks, now: now)
            }))
        case "stats":
            try fields.finish()
            stats(into: &response)
        case "flows":
            let name = try fields.string("service")
            let limit = try fields.optionalInteger("limit", in: 1...Self.maximumFlowLimit) ?? Self.defaultFlowLimit
            try fields.finish()
            let running = plane.running
            let service = running.pool.services[try running.pool.serviceIndex(name)]
            flows(of: service, limit: limit, into: &response)
        case "reload":
            try fields.finish()
            try change(.reload, into: &response)
        case "vip announce":
            try fields.finish()
            // After a failover the new balancer tells the link the VIPs are at its MAC now.
            guard let announce else { throw ControlError("this daemon cannot send announcements") }
            let lines = announce()
            guard !lines.isEmpty else { throw ControlError("no service has announce: arp, so there is nothing to announce") }
            response.add("announced", .array(lines.map { .string($0) }))
        case "advertise", "advertise withdraw", "advertise restore":
            try fields.finish()
            guard let advertiser else {
                throw ControlError("this daemon advertises no routes (the config has no advertise: { table: N })")
            }
            if command != "advertise" {
                let result = command == "advertise withdraw" ? advertiser.withdraw() : advertiser.restore()
                let changed: [IPAddress]
                switch result {
                case .success(let vips): changed = vips
                case .failure(let failure):
                    log("control: \(command) failed: \(failure.message)")
                    throw failure
                }
                log("control: \(command): \(changed.isEmpty ? "no route changed" : changed.map(\.description).joined(separator: ", "))")
                response.add(command == "advertise withdraw" ? "withdrawn" : "restored", .array(changed.map { .string($0.description) }))
            }
            response.add("advertise", advertisement(advertiser.snapshot))
        case "service add":
            let service = try ServiceCodec.decodeService(try fields.required("service"), path: "service")
            try fields.finish()
            try change(.addService(service), into: &response)
        case "service remove":
            let name = try fields.string("service")
            try fields.finish()
            try change(.removeService(name), into: &response)
        case "backend add":
            let name = try fields.string("service")
            // The rest of the request is the backend, an entry of the config file's `backends`.
            let backend = try ServiceCodec.decodeBackend(fields.remaining(), path: "")
            try change(.addBackend(service: name, backend), into: &response)
        case "backend remove", "backend drain", "backend undrain", "backend weight", "backend down", "backend up", "backend auto":
            let name = try fields.string("service")
            let address = try ServiceCodec.decodeAddress(try fields.required("address"), path: "address")
            let weight = command == "backend weight" ? try ServiceCodec.decodeWeight(try fields.required("weight"), path: "weight") : 0
            try fields.finish()
            let change: PoolChange = switch command {
            case "backend remove": .removeBackend(service: name, address: address)
            case "backend drain": .drain(service: name, address: address)
            case "backend undrain": .undrain(service: name, address: address)
            case "backend down": .force(service: name, address: address, .down)
            case "backend up": .force(service: name, address: address, .up)
            case "backend auto": .force(service: name, address: address, nil)
            default: .setWeight(service: name, address: address, weight: weight)
            }
            try self.change(change, into: &response)
        default:
            throw ControlError("unknown command \"\(command)\" (known: \(Self.commands.joined(separator: ", ")))")
        }
        return response
    }

    private func change(_ change: PoolChange, into response: inout ResponseLine) throws(ControlError) {
        do {
            let generation = try plane.apply(change)
            log("control: \(Self.describe(change)) accepted: table generation \(generation)")
            response.add("generation", .int(Int(generation)))
        } catch {
            log("control: \(Self.describe(change)) refused: \(error.message)")
            throw error
        }
    }

    static func describe(_ change: PoolChange) -> String {
        switch change {
        case .addService(let service): return "service add \(service.name)"
        case .removeService(let name): return "service remove \(name)"
        case .addBackend(let name, let backend): return "backend add \(name) \(backend.address) weight \(backend.weight)"
        case .removeBackend(let name, let address): return "backend remove \(name) \(address)"
        case .setWeight(let name, let address, let weight): return "backend weight \(name) \(address) \(weight)"
        case .drain(let name, let address): return "backend drain \(name) \(address)"
        case .undrain(let name, let address): return "backend undrain \(name) \(address)"
        case .force(let name, let address, let state): return "backend \(state?.rawValue ?? "auto") \(name) \(address)"
        case .reload: return "reload"
        }
    }
}

/// A response: `"ok": true` first, then the command's fields.
struct ResponseLine {
    private var fields: [(String, JSONValue)] = []
    mutating func add(_ key: String, _ value: JSONValue) { fields.append((key, value)) }
    var encodedWithOK: String {
        var line = JSONLine()
        line.add("ok", .bool(true))
        for (key, value) in fields { line.add(key, value) }
        return line.encoded
    }
}
