import DromosBalancer

/// Walks a ``SchemaNode`` tree (from the config file or a control request) into the model, collecting
/// every problem on the way with the path of the node it concerns. A read that fails reports and returns
/// nil, and the walk goes on with the next field: one run shows everything.
final class SchemaReader {
    private(set) var problems: [FieldProblem] = []
    /// Where each key and list entry read so far starts, by path, to put the problems in file order.
    private var positions: [String: SourcePosition] = [:]

    func report(_ path: String, _ reason: String) {
        problems.append(FieldProblem(path: path, reason: reason))
    }

    func report(_ found: [FieldProblem], within prefix: String) {
        problems += found.map { $0.within(prefix) }
    }

    func record(_ node: SchemaNode, at path: String) {
        if let position = node.position { positions[path] = position }
    }

    /// Each problem sits where its nearest recorded path starts (`services[1]` for a conflict between
    /// services, the key for a field); problems at one place, or without positions (JSON), keep the order
    /// they were found in.
    var problemsInFileOrder: [FieldProblem] {
        func position(_ path: String) -> SourcePosition {
            var path = Substring(path)
            while !path.isEmpty {
                if let position = positions[String(path)] { return position }
                path = path[..<(path.lastIndex { $0 == "." || $0 == "[" } ?? path.startIndex)]
            }
            return SourcePosition(line: 0, column: 0)
        }
        let placed = problems.enumerated().map { (position: position($1.path), order: $0, problem: $1) }
        return placed.sorted { ($0.position, $0.order) < ($1.position, $1.order) }.map(\.problem)
    }
}

/// A mapping's values by key, after its keys were checked against the ones the schema allows.
struct Fields {
    let path: String
    fileprivate let values: [String: SchemaNode]

    func path(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }
    func has(_ key: String) -> Bool { values[key] != nil }
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

extension SchemaReader {
    /// Reports a node that is not a mapping and every key not in `allowed`, naming the ones that are;
    /// `renamed` explains keys that were once accepted. Duplicate keys never get here: the YAML composer
    /// and the JSON reader refuse them.
    func fields(_ node: SchemaNode, at path: String, allowed: [String], renamed: [String: String] = [:]) -> Fields? {
        guard case .mapping(let mapping) = node.content else {
            report(path, "expected a mapping, got \(node.kindDescription)")
            return nil
        }
        var values: [String: SchemaNode] = [:]
        for (keyNode, value) in mapping {
            guard case .scalar(let key, _) = keyNode.content else {
                report(path, "has a key that is \(keyNode.kindDescription); keys are plain words")
                continue
            }
            let keyPath = path.isEmpty ? key : "\(path).\(key)"
            record(keyNode, at: keyPath)
            guard allowed.contains(key) else {
                report(keyPath, KeySuggestion.unknownKeyReason(key, allowed: allowed, renamed: renamed))
                continue
            }
            values[key] = value
        }
        return Fields(path: path, values: values)
    }

    func required<Value>(_ fields: Fields, _ key: String, _ read: (SchemaNode, String) -> Value?) -> Value? {
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

    /// `key:` with nothing after it (or `"key": null`) is refused rather than read as "the default": it is
    /// as likely a value that went missing in an edit.
    func optional<Value>(_ fields: Fields, _ key: String, _ read: (SchemaNode, String) -> Value?) -> FieldValue<Value> {
        guard let node = fields.values[key] else { return .absent }
        guard !node.isNull else {
            report(fields.path(key), "has no value; leave the key out for the default")
            return .invalid
        }
        return read(node, fields.path(key)).map { .present($0) } ?? .invalid
    }

    func list(_ node: SchemaNode, at path: String) -> [SchemaNode]? {
        guard case .list(let elements) = node.content else {
            report(path, "expected a list, got \(node.kindDescription)")
            return nil
        }
        for (index, element) in elements.enumerated() { record(element, at: "\(path)[\(index)]") }
        return elements
    }
}
