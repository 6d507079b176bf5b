/// A YAML or JSON document as the schema reads it, before any field means anything: the one shape both
/// the config file and the control protocol are turned into, so that each field is read by one rule
/// whichever text it came from.
///
/// Scalars keep the text as written and whether it was quoted, because the rules need both (`port: 80`
/// is a number, `port: "80"` is a string). A JSON string is a quoted scalar and a JSON number or boolean
/// a plain one, exactly what the same characters are in YAML, so `"port": "80"` in a request and
/// `port: "80"` in the file are one mistake with one reason.
struct SchemaNode {
    enum Content {
        case mapping([(key: SchemaNode, value: SchemaNode)])
        case list([SchemaNode])
        case scalar(String, quoted: Bool)
        /// YAML's `~`, `null` or nothing at all, unquoted; JSON's `null`.
        case null
    }

    var content: Content
    /// Where the node starts in a YAML file; nil for JSON, whose reader keeps no positions.
    var position: SourcePosition?

    init(_ content: Content, at position: SourcePosition? = nil) {
        self.content = content
        self.position = position
    }

    var isNull: Bool {
        if case .null = content { return true }
        return false
    }

    /// What the node is, in the words a problem uses after "got".
    var kindDescription: String {
        switch content {
        case .mapping: "a mapping"
        case .list: "a list"
        case .null: "nothing"
        case .scalar(let text, _): "\"\(text)\""
        }
    }
}

/// A line and column (from 1, columns in Unicode scalars), to report problems in file order.
struct SourcePosition: Comparable {
    var line: Int
    var column: Int

    static func < (lhs: SourcePosition, rhs: SourcePosition) -> Bool { (lhs.line, lhs.column) < (rhs.line, rhs.column) }
}
