/// Durations as people write them in the configuration and read them in messages: one whole number and
/// one unit (`500ms`, `2s`, `1m`, `1h`). The model keeps milliseconds; this is the one place that turns
/// them into text and back, so a problem report quotes a duration the way the file spelled it.
public enum DurationText {
    private static let units: [(suffix: String, milliseconds: Int)] = [
        ("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1),
    ]

    /// Why a text is not a duration; `reason` completes "must be …" style messages after a field path.
    public struct ParseError: Error, Equatable, Sendable {
        public var reason: String

        public init(reason: String) { self.reason = reason }
    }

    /// A bare number is refused rather than taken as seconds: `timeout: 2` reads as two seconds to one
    /// operator and two milliseconds to another, and the difference is a broken health check.
    /// Fractions (`1.5s`) and compound forms (`1m30s`) are refused too; the smaller unit says it exactly.
    public static func parse(_ text: String) throws(ParseError) -> Int {
        let digits = text.prefix { $0.isASCII && $0.isNumber }
        let suffix = text.dropFirst(digits.count)
        if text.hasPrefix("-") {
            throw ParseError(reason: "must not be negative, got \"\(text)\"")
        }
        if !digits.isEmpty && suffix.isEmpty {
            throw ParseError(reason: "needs a unit (ms, s, m or h), got \(text) with none")
        }
        guard !digits.isEmpty, let unit = units.first(where: { $0.suffix == suffix }) else {
            throw ParseError(reason: "must be a whole number with a unit ms, s, m or h (like 500ms or 2s), got \"\(text)\"")
        }
        guard let count = Int(digits) else { throw ParseError(reason: "is too long, got \"\(text)\"") }
        let (milliseconds, overflow) = count.multipliedReportingOverflow(by: unit.milliseconds)
        guard !overflow else { throw ParseError(reason: "is too long, got \"\(text)\"") }
        return milliseconds
    }

    /// In the largest unit that says it exactly: 900000 is `15m`, 90000 is `90s`, 1500 is `1500ms`.
    public static func format(milliseconds: Int) -> String {
        guard milliseconds != 0 else { return "0s" }
        let unit = units.first { milliseconds % $0.milliseconds == 0 } ?? units[units.count - 1]
        return "\(milliseconds / unit.milliseconds)\(unit.suffix)"
    }
}
