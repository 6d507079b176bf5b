import DromosBalancer
public import DromosConfig
import DromosDatapath
import DromosHost
import DromosSystem
import DromosWire

/// `dromos ctl`'s human-readable form of a daemon's answer: aligned tables, one row per item.
public enum ControlReplyText {
    public static func render(command: String, reply: ParsedJSON) -> String {
        switch command {
        case "status":
            var text = pairs(reply, ["pid", "interface", "io", "workers", "generation", "services", "backends", "draining",
                                     "health_down", "forced", "accepted_changes", "refused_changes", "uptime_seconds", "state_file"])
            if let advertise = reply["advertise"], advertise != .null { text += advertisement(advertise) }
            return text
        case "advertise", "advertise withdraw", "advertise restore":
            var text = ""
            if let changed = reply["withdrawn"] ?? reply["restored"] {
                let verb = reply["withdrawn"] != nil ? "withdrawn" : "restored"
                text += changed == .array([]) ? "no route changed\n" : "\(verb): \(cell(changed))\n"
            }
            return text + advertisement(reply["advertise"] ?? .null)
        case "services":
            return table(reply["services"], ["name", "vip", "port", "protocol", "scheduler", "backends", "draining"])
        case "backends":
            // The health columns only where something checks or overrides: otherwise they would all say so.
            guard case .array(let rows)? = reply["backends"] else { return table(nil, []) }
            func word(_ value: ParsedJSON?) -> String? {
                if case .string(let text)? = value { return text }
                return nil
            }
            let health = rows.contains { row in word(row["health"]) != "unchecked" || word(row["forced"]) != nil }
            return table(reply["backends"], ["address", "weight", "state", "mac"]
                         + (health ? ["health", "forced", "last_result", "last_result_age_ms", "successes", "failures", "last_change"] : []))
        case "stats":
            var text = pairs(reply["totals"] ?? .null, ["received", "forwarded", "passed", "dropped", "outgoing", "ring_drops",
                                                       "active_flows", "expired", "batches", "adoptions"])
            text += "\n" + table(reply["backends"], ["service", "address", "packets", "bytes", "new_flows", "active_flows"])
            text += "\n" + table(reply["decisions"], ["verdict", "reason", "frames"])
            if let answered = reply["workers_answered"], let workers = reply["workers"], answered != workers {
                text += "\nonly \(cell(answered)) of \(cell(workers)) workers answered in time: per-backend figures are partial\n"
            }
            return text
        case "flows":
            var text = table(reply["flows"], ["src", "sport", "dst", "dport", "proto", "backend", "state", "idle_ms", "worker"])
            if reply["truncated"] == .bool(true) { text += "(more flows exist; raise --limit to see more)\n" }
            return text
        case "vip announce":
            guard case .array(let lines)? = reply["announced"] else { return "ok\n" }
            return lines.map { cell($0) + "\n" }.joined()
        default:
            return "ok" + (reply["generation"].map { ": table generation \(cell($0))" } ?? "") + "\n"
        }
    }

    /// The `advertise` object: one line each, prefixed so that it reads as part of `status`.
    static func advertisement(_ object: ParsedJSON) -> String {
        let keys = ["table", "state", "advertised", "servable", "problem"]
        let width = keys.map(\.count).max()! + "advertise_".count
        return keys.compactMap { key in
            object[key].map { ("advertise_" + key).padding(width) + "  " + cell($0) + "\n" }
        }.joined()
    }

    static func pairs(_ object: ParsedJSON, _ keys: [String]) -> String {
        let width = keys.map(\.count).max() ?? 0
        return keys.compactMap { key in
            object[key].map { key.padding(width) + "  " + cell($0) + "\n" }
        }.joined()
    }

    static func table(_ rows: ParsedJSON?, _ columns: [String]) -> String {
        guard case .array(let items)? = rows else { return "" }
        let cells = [columns.map { $0.uppercased() }] + items.map { item in columns.map { item[$0].map(cell) ?? "-" } }
        let widths = columns.indices.map { column in cells.map { $0[column].count }.max() ?? 0 }
        return cells.map { row in
            zip(row, widths).map { $0.padding($1) }.joined(separator: "  ").trailingSpacesRemoved + "\n"
        }.joined() + (items.isEmpty ? "(none)\n" : "")
    }

    static func cell(_ value: ParsedJSON) -> String {
        switch value {
        case .null: return "-"
        case .bool(let flag): return flag ? "yes" : "no"
        case .number(let number): return number.rounded() == number && abs(number) < 9e15 ? String(Int64(number)) : String(number)
        case .string(let text): return text
        case .array(let items): return items.map(cell).joined(separator: ",")
        case .object: return "{…}"
        }
    }
}

extension String {
    fileprivate func padding(_ width: Int) -> String { self + String(repeating: " ", count: max(width - count, 0)) }
    fileprivate var trailingSpacesRemoved: String {
        var text = self
        while text.last == " " { text.removeLast() }
        return text
    }
}
