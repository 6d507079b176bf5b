/// Either family. A plain enum of trivial payloads: copying it never allocates.
public enum IPAddress: Hashable, Comparable, Sendable, CustomStringConvertible {
    case v4(IPv4Address)
    case v6(IPv6Address)

    /// Chooses the family by the text's shape (a ':' means IPv6) so the error speaks of the right one.
    public init(parsing text: String) throws(AddressParseError) {
        if text.contains(":") {
            self = .v6(try IPv6Address(parsing: text))
        } else {
            self = .v4(try IPv4Address(parsing: text))
        }
    }

    public var isIPv4: Bool {
        if case .v4 = self { return true }
        return false
    }

    public var description: String {
        switch self {
        case .v4(let address): return address.description
        case .v6(let address): return address.description
        }
    }

    public static func < (lhs: IPAddress, rhs: IPAddress) -> Bool {
        switch (lhs, rhs) {
        case (.v4(let a), .v4(let b)): return a < b
        case (.v6(let a), .v6(let b)): return a < b
        case (.v4, .v6): return true
        case (.v6, .v4): return false
        }
    }
}
