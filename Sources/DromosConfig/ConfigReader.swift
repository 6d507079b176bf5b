import DromosBalancer
import DromosWire
import Yams

/// Walks the composed YAML tree into the model, collecting every problem on the way with the path of the
/// node it concerns. A read that fails reports and returns nil, and the walk goes on with the next field:
/// one run shows the operator everything.
///
/// Values come from the text as written, never from YAML's type guessing, so `mac: 12:34:56:12:34:56` is
/// not a base-60 integer, `port: 010` is not octal and `name: yes` is not a boolean. MACs and IPv6
/// addresses therefore need no quotes.
final class ConfigReader {
    private(set) var problems: [FieldProblem] = []
    /// Where each key and list entry read so far starts, by path, to put the problems in file order.
    private var positions: [String: (line: Int, column: Int)] = [:]

    func report(_ path: String, _ reason: String) {
        problems.append(FieldProblem(path: path, reason: reason))
    }

    func report(_ found: [FieldProblem], within prefix: String) {
        problems += found.map { $0.within(prefix) }
    }

    func record(_ node: Node, at path: String) {
        if let mark = node.mark { positions[path] = (mark.line, mark.column) }
    }

    /// Each problem sits where its nearest recorded path starts (`services[1]` for a conflict between
    /// services, the key for a field); problems at one place keep the order they were found in.
    var problemsInFileOrder: [FieldProblem] {
        func position(_ path: String) -> (line: Int, column: Int) {
            var path = Substring(path)
            while !path.isEmpty {
                if let position = positions[String(path)] { return position }
                path = path[..<(path.lastIndex { $0 == "." || $0 == "[" } ?? path.startIndex)]
            }
            return (0, 0)
        }
        let placed = problems.enumerated().map { (position: position($1.path), order: $0, problem: $1) }
        return placed.sorted { ($0.position.line, $0.position.column, $0.order) < ($1.position.line, $1.position.column, $1.order) }
            .map(\.problem)
    }
}

/// A mapping's values by key, after its keys were checked against the ones the schema allows.
struct Fields {
    let path: String
    fileprivate let values: [String: Node]

    func path(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }
}

/// An optional field: left out (take the default), read, or present but unreadable (reported already).
enum FieldValue<Value> {
    case absent
    case present(Value)
    case invalid

    /// Nil only for `invalid`, so a caller can tell "use the default" from "unknown".
    func or(_ fallback: Value) -> Value? {
        switch self {
        case .absent: fallback
        case .present(let value): value
        case .invalid: nil
        }
    }

    /// For a setting whose default is "none": `.some(nil)` when left out, nil only for `invalid`.
    var orNone: Value?? { map { Optional($0) }.or(nil) }

    func map<Mapped>(_ transform: (Value) -> Mapped) -> FieldValue<Mapped> {
        switch self {
        case .absent: .absent
        case .present(let value): .present(transform(value))
        case .invalid: .invalid
        }
    }
}

extension ConfigReader {
    /// Reports a node that is not a mapping and every key not in `allowed`, naming the ones that are.
    /// Duplicate keys never get here: Yams refuses them while composing (see ``ConfigLoader``).
    func fields(_ node: Node, at path: String, allowed: [String]) -> Fields? {
        guard case .mapping(let mapping) = node else {
            report(path, "expected a mapping, got \(node.kindDescription)")
            return nil
        }
        var values: [String: Node] = [:]
        for (keyNode, value) in mapping {
            guard case .scalar(let key) = keyNode else {
                report(path, "has a key that is \(keyNode.kindDescription); keys are plain words")
                continue
            }
            let keyPath = path.isEmpty ? key.string : "\(path).\(key.string)"
            record(keyNode, at: keyPath)
            guard allowed.contains(key.string) else {
                report(keyPath, KeySuggestion.unknownKeyReason(key.string, allowed: allowed))
                continue
            }
            values[key.string] = value
        }
        return Fields(path: path, values: values)
    }

    func required<Value>(_ fields: Fields, _ key: String, _ read: (Node, String) -> Value?) -> Value? {
        guard let node = fields.values[key] else {
            report(fields.path(key), "is required")
            return nil
        }
        guard !node.isNull else {
            report(fields.path(key), "has no value")
            return nil
        }
        return read(node, fields.path(key))
    }

    /// `key:` with nothing after it is refused rather than read as "the default": it is as likely a value
    /// that went missing in an edit.
    func optional<Value>(_ fields: Fields, _ key: String, _ read: (Node, String) -> Value?) -> FieldValue<Value> {
        guard let node = fields.values[key] else { return .absent }
        guard !node.isNull else {
            report(fields.path(key), "has no value; leave the key out for the default")
            return .invalid
        }
        return read(node, fields.path(key)).map { .present($0) } ?? .invalid
    }

    func list(_ node: Node, at path: String) -> [Node]? {
        guard case .sequence(let sequence) = node else {
            report(path, "expected a list, got \(node.kindDescription)")
            return nil
        }
        for (index, element) in sequence.enumerated() { record(element, at: "\(path)[\(index)]") }
        return Array(sequence)
    }
}

extension Node {
    /// `~`, `null` or nothing at all, unquoted: YAML's way of saying no value.
    var isNull: Bool {
        guard case .scalar(let scalar) = self else { return false }
        return scalar.style == .plain && tag.description == Tag.Name.null.rawValue
    }

    var kindDescription: String {
        switch self {
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .alias: "an alias"
        case .scalar(let scalar): isNull ? "nothing" : "\"\(scalar.string)\""
        }
    }
}
