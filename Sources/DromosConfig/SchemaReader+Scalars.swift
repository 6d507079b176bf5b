import DromosBalancer
import DromosWire

extension SchemaReader {
    func text(_ node: SchemaNode, at path: String) -> String? {
        guard case .scalar(let text, _) = node.content else {
            report(path, "expected a single value, got \(node.kindDescription)")
            return nil
        }
        return text
    }

    /// An integer is a plain decimal number. Quoted (`"80"`) it is a string, and Dromos does not guess
    /// what was meant; `1.5`, `+1`, `0x50`, `1_000` and `010` (octal to YAML 1.1) are refused too. (A whole
    /// JSON number arrives as plain digits: ``SchemaNode/init(json:)``.)
    /// `expected` only words the message: the range is checked where the model is validated, so one rule
    /// has one wording.
    func integer(_ node: SchemaNode, at path: String, expected range: ClosedRange<Int>) -> Int? {
        guard case .scalar(let text, let quoted) = node.content else {
            report(path, "must be an integer from \(range.lowerBound) to \(range.upperBound), got \(node.kindDescription)")
            return nil
        }
        guard !quoted else {
            report(path, "must be an unquoted integer from \(range.lowerBound) to \(range.upperBound), got the string \"\(text)\"")
            return nil
        }
        guard let value = Self.decimal(text) else {
            report(path, "must be an integer from \(range.lowerBound) to \(range.upperBound), got \"\(text)\"")
            return nil
        }
        return value
    }

    /// Ports are checked here, not later: the model has no room for one outside 1...65535.
    func port(_ node: SchemaNode, at path: String) -> UInt16? {
        guard let value = integer(node, at: path, expected: 1...65_535) else { return nil }
        guard (1...65_535).contains(value) else {
            report(path, "must be an integer from 1 to 65535, got \(value)")
            return nil
        }
        return UInt16(value)
    }

    /// Keyword values (`tcp`, `maglev`) are matched without regard to case, since `TCP` and `tcp` cannot
    /// mean different things; the normalized form prints them in lower case.
    func choice<Choice>(_ node: SchemaNode, at path: String, from options: [(name: String, value: Choice)]) -> Choice? {
        guard let word = text(node, at: path) else { return nil }
        if let match = options.first(where: { $0.name == word.lowercased() }) { return match.value }
        report(path, "must be one of \(options.map(\.name).joined(separator: ", ")), got \"\(word)\"")
        return nil
    }

    /// Milliseconds; zero is let through for validation to refuse where it is meaningless.
    func duration(_ node: SchemaNode, at path: String) -> Int? {
        guard let text = text(node, at: path) else { return nil }
        do {
            return try DurationText.parse(text)
        } catch {
            report(path, error.reason)
            return nil
        }
    }

    func address(_ node: SchemaNode, at path: String) -> IPAddress? {
        guard let text = text(node, at: path) else { return nil }
        do {
            return try IPAddress(parsing: text)
        } catch {
            report(path, error.description)
            return nil
        }
    }

    func mac(_ node: SchemaNode, at path: String) -> MACAddress? {
        guard let text = text(node, at: path) else { return nil }
        do {
            return try MACAddress(parsing: text)
        } catch {
            report(path, error.description)
            return nil
        }
    }

    /// `-?(0|[1-9][0-9]*)`: Swift's `Int(_:)` alone would also take a leading `+` and leading zeros.
    static func decimal(_ text: String) -> Int? {
        let digits = text.hasPrefix("-") ? text.dropFirst() : Substring(text)
        guard let first = digits.first, digits.allSatisfy({ $0.isASCII && $0.isNumber }),
              first != "0" || digits.count == 1 else { return nil }
        return Int(text)
    }
}
