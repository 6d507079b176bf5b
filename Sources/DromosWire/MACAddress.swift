/// A 48-bit Ethernet address. The first octet on the wire is the most significant byte of `rawValue`,
/// so ordering and printing follow the wire order.
public struct MACAddress: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let rawValue: UInt64

    public static let zero = MACAddress(rawValue: 0)
    public static let broadcast = MACAddress(rawValue: 0xffff_ffff_ffff)

    @inlinable
    public init(rawValue: UInt64) {
        self.rawValue = rawValue & 0xffff_ffff_ffff
    }

    public init(_ o0: UInt8, _ o1: UInt8, _ o2: UInt8, _ o3: UInt8, _ o4: UInt8, _ o5: UInt8) {
        let high = UInt64(o0) << 40 | UInt64(o1) << 32 | UInt64(o2) << 24
        self.init(rawValue: high | UInt64(o3) << 16 | UInt64(o4) << 8 | UInt64(o5))
    }

    /// Accepts `02:00:5e:00:00:01` and `02-00-5e-00-00-01` (one or two hex digits per octet).
    public init(parsing text: String) throws(AddressParseError) {
        func fail(_ reason: String) -> AddressParseError {
            AddressParseError(text: text, kind: "a MAC address", reason: reason)
        }
        var raw: UInt64 = 0
        var octet: UInt64 = 0
        var octets = 0
        var digits = 0
        var separator: UInt8? = nil
        for byte in text.utf8 {
            if let digit = byte.hexDigitValue {
                guard digits < 2 else { throw fail("octet \(octets + 1) has more than two hex digits") }
                octet = octet << 4 | UInt64(digit)
                digits += 1
                continue
            }
            guard byte == UInt8(ascii: ":") || byte == UInt8(ascii: "-") else {
                throw fail("unexpected character '\(Character(Unicode.Scalar(byte)))'")
            }
            guard separator == nil || separator == byte else { throw fail("mixes ':' and '-' separators") }
            guard digits > 0 else { throw fail("octet \(octets + 1) is empty") }
            separator = byte
            raw = raw << 8 | octet
            octet = 0
            octets += 1
            digits = 0
            guard octets < 6 else { throw fail("more than six octets") }
        }
        guard !text.isEmpty else { throw fail("empty") }
        guard digits > 0 else { throw fail("octet \(octets + 1) is empty") }
        guard octets == 5 else { throw fail("expected six octets, found \(octets + 1)") }
        self.init(rawValue: raw << 8 | octet)
    }

    public var octets: [UInt8] {
        (0..<6).map { UInt8(truncatingIfNeeded: rawValue >> UInt64(40 - 8 * $0)) }
    }

    /// The group bit: set for multicast and broadcast destinations.
    public var isMulticast: Bool { rawValue & 0x0100_0000_0000 != 0 }
    public var isBroadcast: Bool { self == .broadcast }

    public var description: String {
        octets.map { hexString($0, minimumDigits: 2) }.joined(separator: ":")
    }

    public static func < (lhs: MACAddress, rhs: MACAddress) -> Bool { lhs.rawValue < rhs.rawValue }
}
