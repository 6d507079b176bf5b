/// Why a piece of text is not the address it should be; the message names the text and the rule it broke.
public struct AddressParseError: Error, Equatable, Sendable, CustomStringConvertible {
    public let text: String
    public let kind: String
    public let reason: String

    public init(text: String, kind: String, reason: String) {
        self.text = text
        self.kind = kind
        self.reason = reason
    }

    public var description: String { "'\(text)' is not \(kind): \(reason)" }
}

extension UInt8 {
    /// The value of an ASCII hex digit, or nil.
    @inlinable
    var hexDigitValue: UInt8? {
        switch self {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return self &- UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return self &- UInt8(ascii: "a") &+ 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return self &- UInt8(ascii: "A") &+ 10
        default: return nil
        }
    }
}

func hexString<T: FixedWidthInteger>(_ value: T, minimumDigits: Int) -> String {
    var text = String(value, radix: 16)
    if text.count < minimumDigits {
        text = String(repeating: "0", count: minimumDigits - text.count) + text
    }
    return text
}
