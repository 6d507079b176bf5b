/// Reads the fields of one JSON object by name and type, naming the field (with its path) in every
/// refusal. Keys nobody asked for are refused by `finish`, so a misspelt option is not silently ignored.
/// This is for a request's own fields (`command`, `service`, `limit`) and the state file's frame; the
/// fields of services and backends are the schema's (``ServiceCodec``).
public struct JSONFields {
    public let path: String
    private let fields: [(key: String, value: ParsedJSON)]
    private var read: Set<String> = []

    public init(_ value: ParsedJSON, path: String) throws(ControlError) {
        guard case .object(let fields) = value else {
            throw ControlError("\(path.isEmpty ? "the request" : path) must be an object, got \(value.kind)")
        }
        self.path = path
        self.fields = fields
    }

    public func name(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    public mutating func optional(_ key: String) -> ParsedJSON? {
        read.insert(key)
        guard let value = fields.first(where: { $0.key == key })?.value, value != .null else { return nil }
        return value
    }

    public mutating func required(_ key: String) throws(ControlError) -> ParsedJSON {
        guard let value = optional(key) else { throw ControlError("missing field \"\(name(key))\"") }
        return value
    }

    public mutating func string(_ key: String) throws(ControlError) -> String {
        try Self.string(required(key), name(key))
    }

    public mutating func optionalString(_ key: String) throws(ControlError) -> String? {
        guard let value = optional(key) else { return nil }
        return try Self.string(value, name(key))
    }

    public mutating func integer(_ key: String, in range: ClosedRange<Int>) throws(ControlError) -> Int {
        try Self.integer(required(key), name(key), range)
    }

    public mutating func optionalInteger(_ key: String, in range: ClosedRange<Int>) throws(ControlError) -> Int? {
        guard let value = optional(key) else { return nil }
        return try Self.integer(value, name(key), range)
    }

    public mutating func optionalArray(_ key: String) throws(ControlError) -> [ParsedJSON]? {
        guard let value = optional(key) else { return nil }
        guard case .array(let elements) = value else {
            throw ControlError("field \"\(name(key))\" must be an array, got \(value.kind)")
        }
        return elements
    }

    public mutating func optionalBool(_ key: String) throws(ControlError) -> Bool? {
        guard let value = optional(key) else { return nil }
        guard case .bool(let flag) = value else {
            throw ControlError("field \"\(name(key))\" must be true or false, got \(value.kind)")
        }
        return flag
    }

    /// The fields not read yet, as one object for a reader that judges them itself, unknown keys
    /// included (``ServiceCodec``); they count as read.
    public mutating func remaining() -> ParsedJSON {
        let rest = fields.filter { !read.contains($0.key) }
        read.formUnion(rest.map(\.key))
        return .object(rest)
    }

    /// Refuses keys that were never read.
    public func finish() throws(ControlError) {
        if let unknown = fields.first(where: { !read.contains($0.key) }) {
            let known = read.sorted().map { "\"\($0)\"" }.joined(separator: ", ")
            throw ControlError("unknown field \"\(name(unknown.key))\" (known here: \(known))")
        }
    }

    static func string(_ value: ParsedJSON, _ name: String) throws(ControlError) -> String {
        guard case .string(let text) = value else { throw ControlError("field \"\(name)\" must be a string, got \(value.kind)") }
        return text
    }

    static func integer(_ value: ParsedJSON, _ name: String, _ range: ClosedRange<Int>) throws(ControlError) -> Int {
        guard case .number(let number) = value, number.rounded() == number,
              number >= Double(range.lowerBound), number <= Double(range.upperBound) else {
            let got: String
            if case .number(let number) = value {
                got = number.rounded() == number && abs(number) < 1e15 ? String(Int64(number)) : "\(number)"
            } else {
                got = value.kind
            }
            throw ControlError("field \"\(name)\" must be an integer from \(range.lowerBound) to \(range.upperBound), got \(got)")
        }
        return Int(number)
    }
}
