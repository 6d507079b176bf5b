public import DromosBalancer
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
        try fields.finish()
        if let problem = BalancerSpec(services: running).problems().first {
            throw ControlError("services: \(problem)")
        }
        return SavedState(configServices: configServices, pool: RuntimePool(services: running, drained: drained))
    }

    /// Nil when there is no state file yet.
    public func load() throws(ControlError) -> SavedState? {
        let text: String
        do { text = try ConfigFile.read(path) } catch {
            if errno == ENOENT { return nil }
            throw ControlError("state file \(path) \(error.reason)")
        }
        do { return try decode(text) } catch { throw ControlError("state file \(path): \(error.message)") }
    }

    public func save(_ state: SavedState) throws(ControlError) {
        let directory = Self.directory(of: path)
        try Self.makeDirectories(directory)
        let temporary = path + ".tmp"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw failure("cannot create \(temporary)") }
        var bytes = Array(encode(state).utf8)
        var written = 0
        while written < bytes.count {
            let count = bytes.withUnsafeMutableBytes { write(descriptor, $0.baseAddress! + written, $0.count - written) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else {
                let error = failure("cannot write \(temporary)")
                close(descriptor)
                unlink(temporary)
                throw error
            }
            written += count
        }
        guard fsync(descriptor) == 0 else {
            let error = failure("cannot fsync \(temporary)")
            close(descriptor)
            unlink(temporary)
            throw error
        }
        close(descriptor)
        guard rename(temporary, path) == 0 else {
            let error = failure("cannot rename \(temporary) to \(path)")
            unlink(temporary)
            throw error
        }
        // The rename is durable only once the directory entry is.
        let directoryDescriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryDescriptor >= 0 {
            _ = fsync(directoryDescriptor)
            close(directoryDescriptor)
        }
    }

    private func failure(_ what: String) -> ControlError {
        ControlError("\(what): \(String(cString: strerror(errno)))")
    }

    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// `mkdir -p` with mode 0700 for what it creates.
    static func makeDirectories(_ directory: String) throws(ControlError) {
        var prefix = directory.hasPrefix("/") ? "" : "."
        for component in directory.split(separator: "/") {
            prefix += "/" + component
            if mkdir(prefix, 0o700) != 0 && errno != EEXIST {
                throw ControlError("cannot create directory \(prefix): \(String(cString: strerror(errno)))")
            }
        }
    }
}
