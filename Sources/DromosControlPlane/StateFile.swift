public import DromosBalancer
public import DromosConfig
import DromosDatapath
import DromosHost
import DromosSystem
import DromosWire
import Glibc

/// What the state file holds: the running pool, and the config file's services as they were when the
/// pool was last written, which is how a start tells whether the config file was edited since.
public struct SavedState: Equatable, Sendable {
    /// 2: services in the schema's names, as `service add` takes them. 1 (read, upgraded): the control
    /// protocol's older names (``StateFileFormat1``).
    public static let format = 2
    public var configServices: [ServiceSpec]
    public var pool: RuntimePool

    public init(configServices: [ServiceSpec], pool: RuntimePool) {
        self.configServices = configServices
        self.pool = pool
    }
}

/// The state file: JSON (which is also YAML, so `state: …/state.yaml` reads fine to an operator),
/// replaced atomically: temporary file, fsync, rename over the old one, fsync of the directory.
public struct StateFile: Sendable {
    public let path: String

    public init(path: String) { self.path = path }

    public func encode(_ state: SavedState) -> String {
        var line = JSONLine()
        line.add("format", .int(SavedState.format))
        line.add("config_services", .array(state.configServices.map(ServiceCodec.encode)))
        line.add("services", .array(state.pool.services.map(ServiceCodec.encode)))
        let drained = state.pool.drained.sorted { ($0.service, $0.address) < ($1.service, $1.address) }.map { member in
            var entry = JSONLine()
            entry.add("service", .string(member.service))
            entry.add("address", .string(member.address.description))
            return JSONValue.object(entry)
        }
        line.add("drained", .array(drained))
        let forced = state.pool.forced.sorted { ($0.key.service, $0.key.address) < ($1.key.service, $1.key.address) }.map { member, state in
            var entry = JSONLine()
            entry.add("service", .string(member.service))
            entry.add("address", .string(member.address.description))
            entry.add("state", .string(state.rawValue))
            return JSONValue.object(entry)
        }
        line.add("forced", .array(forced))
        return line.encoded + "\n"
    }

    public func decode(_ text: String) throws(ControlError) -> SavedState {
        let root: ParsedJSON
        do { root = try JSONReader.parse(text) } catch { throw ControlError(error.description) }
        var fields = try JSONFields(root, path: "")
        let format = try fields.integer("format", in: 0...Int(Int32.max))
        guard format == SavedState.format || format == 1 else {
            throw ControlError("format \(format) is not one this dromos reads (1 or \(SavedState.format))")
        }
        func services(_ key: String) throws(ControlError) -> [ServiceSpec] {
            var list: [ServiceSpec] = []
            for (index, value) in (try fields.optionalArray(key) ?? []).enumerated() {
                let service = format == 1 ? StateFileFormat1.upgrade(service: value) : value
                list.append(try ServiceCodec.decodeService(service, path: "\(key)[\(index)]"))
            }
            return list
        }
        let configServices = try services("config_services")
        let running = try services("services")
        var drained: Set<RuntimePool.Member> = []
        for (index, value) in (try fields.optionalArray("drained") ?? []).enumerated() {
            var entry = try JSONFields(value, path: "drained[\(index)]")
            let service = try entry.string("service")
            let address = try ServiceCodec.decodeAddress(try entry.required("address"), path: entry.name("address"))
            drained.insert(RuntimePool.Member(service: service, address: address))
            try entry.finish()
        }
        var forced: [RuntimePool.Member: ForcedHealth] = [:]
        for (index, value) in (try fields.optionalArray("forced") ?? []).enumerated() {
            var entry = try JSONFields(value, path: "forced[\(index)]")
            let service = try entry.string("service")
            let address = try ServiceCodec.decodeAddress(try entry.required("address"), path: entry.name("address"))
            let word = try entry.string("state")
            guard let state = ForcedHealth(rawValue: word) else {
                throw ControlError("\(entry.name("state")): must be up or down, got \"\(word)\"")
            }
            forced[RuntimePool.Member(service: service, address: address)] = state
            try entry.finish()
        }
        try fields.finish()
        if let problem = BalancerSpec(services: running).problems().first {
            throw ControlError("services: \(problem)")
        }
        return SavedState(configServices: configServices, pool: RuntimePool(services: running, drained: drained, forced: forced))
    }

    /// Nil when there is no state file yet.
    public func load() throws(ControlError) -> SavedState? {
        let text: String
        do { text = try ConfigFile.read(path) } catch {
            if error.isMissing { return nil }
            throw ControlError("state file \(path) \(error.reason)")
        }
        do { return try decode(text) } catch { throw ControlError("state file \(path): \(error.message)") }
    }

    public func save(_ state: SavedState) throws(ControlError) {
        do {
            try Files.writeAtomically(Array(encode(state).utf8), to: path, mode: [.ownerReadWrite], directoryMode: [.ownerReadWriteExecute])
        } catch {
            throw ControlError(error.description)
        }
    }

    public static func directory(of path: String) -> String { Files.directory(of: path) }
}
