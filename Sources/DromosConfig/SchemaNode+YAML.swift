import Yams

extension SchemaNode {
    /// Values are taken from the text as written, never from YAML's type guessing, so `mac: 12:34:56:12:34:56`
    /// is not a base-60 integer, `port: 010` is not octal and `name: yes` is not a boolean.
    init(yaml node: Node) {
        let position = node.mark.map { SourcePosition(line: $0.line, column: $0.column) }
        switch node {
        case .mapping(let mapping):
            self.init(.mapping(mapping.map { (SchemaNode(yamlKey: $0.key), SchemaNode(yaml: $0.value)) }), at: position)
        case .sequence(let sequence):
            self.init(.list(sequence.map(SchemaNode.init(yaml:))), at: position)
        case .scalar(let scalar):
            self.init(node.isPlainNull ? .null : .scalar(scalar.string, quoted: scalar.style != .plain), at: position)
        case .alias:
            // Composing replaces every alias with the node it names; none is left to read.
            self.init(.null, at: position)
        }
    }

    /// A key that YAML reads as null (`~: 1`) is still the word written: only values can be missing.
    private init(yamlKey node: Node) {
        guard case .scalar(let scalar) = node else {
            self.init(yaml: node)
            return
        }
        self.init(.scalar(scalar.string, quoted: scalar.style != .plain),
                  at: node.mark.map { SourcePosition(line: $0.line, column: $0.column) })
    }
}

extension Node {
    /// `~`, `null` or nothing at all, unquoted: YAML's way of saying no value.
    fileprivate var isPlainNull: Bool {
        guard case .scalar(let scalar) = self else { return false }
        return scalar.style == .plain && tag.description == Tag.Name.null.rawValue
    }
}
