import DromosBalancer
import DromosWire

/// Builds one JSON object with its keys in the order they are added: `explain` promises a fixed key
/// order, which Foundation's encoder does not keep.
public struct JSONLine {
    private var text = "{"
    private var isEmpty = true

    public init() {}

    public mutating func add(_ key: String, _ value: JSONValue) {
        if !isEmpty { text += ", " }
        isEmpty = false
        text += JSONValue.string(key).encoded + ": " + value.encoded
    }

    public var encoded: String { text + "}" }
}

public indirect enum JSONValue {
    case null
    case bool(Bool)
    case int(Int)
    case string(String)
    case array([JSONValue])
    case object(JSONLine)

    public static func optionalString(_ value: String?) -> JSONValue {
        value.map { .string($0) } ?? .null
    }

    public var encoded: String {
        switch self {
        case .null: return "null"
        case .bool(let value): return value ? "true" : "false"
        case .int(let value): return String(value)
        case .array(let values): return "[" + values.map(\.encoded).joined(separator: ", ") + "]"
        case .object(let line): return line.encoded
        case .string(let value): return Self.quote(value)
        }
    }

    private static func quote(_ value: String) -> String {
        var out = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                out += "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count)
                    + String(scalar.value, radix: 16)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
