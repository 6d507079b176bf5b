import DromosBalancer
import DromosWire
import Yams

/// Reads the daemon's YAML configuration into a validated ``DromosConfig``, or reports every problem.
public enum ConfigLoader {
    public static func load(path: String) throws(ConfigError) -> DromosConfig {
        let text: String
        do {
            text = try ConfigFile.read(path)
        } catch {
            throw ConfigError(source: path, problems: [FieldProblem(path: "", reason: error.reason)])
        }
        return try parse(yaml: text, source: path)
    }

    /// `source` names the text in problem lines; usually the file's path.
    public static func parse(yaml: String, source: String) throws(ConfigError) -> DromosConfig {
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            // libyaml stops at the first syntax error: there is no tree to walk for more.
            throw ConfigError(source: source, problems: [FieldProblem(path: "", reason: syntaxReason(error, yaml: yaml))])
        }
        guard let root else {
            throw ConfigError(source: source, problems: [FieldProblem(path: "", reason: "is empty; it needs at least interface and services")])
        }
        let reader = SchemaReader()
        guard let config = reader.config(SchemaNode(yaml: root)), reader.problems.isEmpty else {
            throw ConfigError(source: source, problems: reader.problemsInFileOrder)
        }
        return config
    }

    /// One line with the position, for an operator's editor. Yams refuses a key that appears twice in a
    /// mapping while composing (where YAML itself would keep the last silently), so that problem has a
    /// position but no field path: there is no tree yet to name one from.
    private static func syntaxReason(_ error: any Error, yaml: String) -> String {
        guard let error = error as? YamlError else { return "is not valid YAML: \(error)" }
        func at(_ mark: Mark) -> String { at((mark.line, mark.column)) }
        func at(_ place: (line: Int, column: Int)) -> String { "line \(place.line), column \(place.column)" }
        switch error {
        case let .scanner(context, problem, mark, _), let .parser(context, problem, mark, _):
            let during = context.map { " (\($0.text) at \(at($0.mark)))" } ?? ""
            return "is not valid YAML at \(at(mark)): \(problem)\(during)"
        case let .composer(context, problem, mark, _):
            if problem == "but found another document" {
                return "holds more than one YAML document (the second starts at \(at(mark))); it must be one"
            }
            let during = context.map { " (\($0.text) at \(at($0.mark)))" } ?? ""
            return "is not valid YAML at \(at(mark)): \(problem)\(during)"
        case let .reader(problem, offset, _, _):
            let place = offset.map { at(lineAndColumn(ofCharacterOffset: $0, in: yaml)) } ?? "an unknown position"
            return "is not valid YAML at \(place): \(problem)"
        case let .duplicatedKeysInMapping(duplicates, context):
            // Yams marks the first occurrence of the first duplicate in sorted order.
            let first = at(context.mark)
            guard duplicates.count > 1, let earliest = duplicates.first else {
                return "key \"\(duplicates.first ?? "")\" appears more than once in the same mapping (first at \(first))"
            }
            let keys = duplicates.map { "\"\($0)\"" }.joined(separator: ", ")
            return "keys \(keys) appear more than once in the same mapping (the first \"\(earliest)\" at \(first))"
        default:
            return "is not valid YAML: \(error)"
        }
    }

    /// Yams gives the reader's position in characters; lines and columns are told like libyaml's others
    /// (columns in Unicode scalars).
    private static func lineAndColumn(ofCharacterOffset offset: Int, in text: String) -> (line: Int, column: Int) {
        let before = text.prefix(offset).unicodeScalars
        let lineStart = before.lastIndex(of: "\n").map { before.index(after: $0) } ?? before.startIndex
        let line = before.count(where: { $0 == "\n" }) + 1
        return (line, before[lineStart...].count + 1)
    }
}
