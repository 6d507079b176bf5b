/// An IPv4 address; `rawValue` holds it in host order (`1.2.3.4` is `0x01020304`).
public struct IPv4Address: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let rawValue: UInt32

    @inlinable
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
        self.init(rawValue: UInt32(a) << 24 | UInt32(b) << 16 | UInt32(c) << 8 | UInt32(d))
    }

    /// Strict dotted quad, as `inet_pton` takes it: four decimal parts, no leading zeros (they read as
    /// octal to some tools, so they are refused rather than guessed).
    public init(parsing text: String) throws(AddressParseError) {
        guard let value = IPv4Address.parse(text.utf8[...]) else {
            throw AddressParseError(text: text, kind: "an IPv4 address", reason: IPv4Address.explainFailure(text))
        }
        self = value
    }

    static func parse(_ text: Substring.UTF8View) -> IPv4Address? {
        var raw: UInt32 = 0
        var part: UInt32 = 0
        var digits = 0
        var parts = 0
        for byte in text {
            if byte == UInt8(ascii: ".") {
                guard digits > 0, parts < 3 else { return nil }
                raw = raw << 8 | part
                parts += 1
                part = 0
                digits = 0
                continue
            }
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            guard !(digits == 1 && part == 0) else { return nil }
            part = part * 10 + UInt32(byte - UInt8(ascii: "0"))
            digits += 1
            guard part <= 255 else { return nil }
        }
        guard digits > 0, parts == 3 else { return nil }
        return IPv4Address(rawValue: raw << 8 | part)
    }

    private static func explainFailure(_ text: String) -> String {
        if text.isEmpty { return "empty" }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        if parts.count != 4 { return "expected four dot-separated parts, found \(parts.count)" }
        for (index, part) in parts.enumerated() {
            if part.isEmpty { return "part \(index + 1) is empty" }
            if !part.allSatisfy({ $0.isASCII && $0.isNumber }) { return "part \(index + 1) ('\(part)') is not a decimal number" }
            if part.count > 1 && part.first == "0" { return "part \(index + 1) ('\(part)') has a leading zero" }
            if part.count > 3 || Int(part)! > 255 { return "part \(index + 1) (\(part)) is above 255" }
        }
        return "not a dotted quad"
    }

    public var description: String {
        "\(rawValue >> 24).\(rawValue >> 16 & 0xff).\(rawValue >> 8 & 0xff).\(rawValue & 0xff)"
    }

    public static func < (lhs: IPv4Address, rhs: IPv4Address) -> Bool { lhs.rawValue < rhs.rawValue }
}
