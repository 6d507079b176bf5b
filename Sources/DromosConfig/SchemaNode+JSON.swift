extension SchemaNode {
    /// A JSON string is a quoted scalar; a number, `true` and `false` are plain ones, as the same
    /// characters are in YAML. A whole number arrives as its decimal digits (`2.0` and `2e0` are 2, as
    /// any JSON reader has them); any other as Swift writes it, to be refused where an integer is needed.
    init(json value: ParsedJSON) {
        switch value {
        case .null: self.init(.null)
        case .bool(let flag): self.init(.scalar(flag ? "true" : "false", quoted: false))
        case .number(let number): self.init(.scalar(Self.text(number), quoted: false))
        case .string(let text): self.init(.scalar(text, quoted: true))
        case .array(let elements): self.init(.list(elements.map(SchemaNode.init(json:))))
        case .object(let fields):
            self.init(.mapping(fields.map { (SchemaNode(.scalar($0.key, quoted: true)), SchemaNode(json: $0.value)) }))
        }
    }

    /// Beyond 10^15 a double no longer holds every integer; no field takes one that large anyway.
    private static func text(_ number: Double) -> String {
        number.rounded() == number && abs(number) < 1e15 ? String(Int64(number)) : "\(number)"
    }
}
