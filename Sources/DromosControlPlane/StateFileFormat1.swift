import DromosConfig
import DromosBalancer

/// State files of format 1 were written before services were read by the config file's schema: with
/// the control protocol's health names (`interval_ms`, `timeout_ms`: milliseconds as numbers), `null`
/// for what a service does not have, and a Maglev table size for every scheduler. This rewrites one such
/// service into what the schema reads, so that a dromos started on an older state file keeps its runtime
/// changes; anything else in it is left for the schema to judge.
enum StateFileFormat1 {
    static func upgrade(service: ParsedJSON) -> ParsedJSON {
        guard case .object(var fields) = withoutNulls(service) else { return service }
        let scheduler = fields.first { $0.key == "scheduler" }?.value
        let hasTable = SchedulerKind.allCases.contains { $0.isConsistentHash && scheduler == .string($0.rawValue) }
        if !hasTable { fields.removeAll { $0.key == "maglev_table_size" } }
        fields = fields.map { field in
            guard field.key == "health", case .object(let health) = field.value else { return field }
            return (field.key, .object(health.map(renamedDuration)))
        }
        return .object(fields)
    }

    private static func renamedDuration(_ field: (key: String, value: ParsedJSON)) -> (key: String, value: ParsedJSON) {
        guard let name = ["interval_ms": "interval", "timeout_ms": "timeout"][field.key],
              case .number(let milliseconds) = field.value, let whole = Int(exactly: milliseconds) else { return field }
        return (name, .string("\(whole)ms"))
    }

    /// Wherever they are: format 1 wrote null only for a value a service or backend does not have.
    private static func withoutNulls(_ value: ParsedJSON) -> ParsedJSON {
        switch value {
        case .object(let fields): .object(fields.filter { $0.value != .null }.map { ($0.key, withoutNulls($0.value)) })
        case .array(let elements): .array(elements.map(withoutNulls))
        default: value
        }
    }
}
