/// An IPv6 address as two host-order halves: `high` holds the first eight bytes on the wire.
public struct IPv6Address: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let high: UInt64
    public let low: UInt64

    @inlinable
    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// RFC 4291 text: hex groups, at most one `::`, optionally ending in a dotted quad. Zone ids
    /// (`%eth0`) are refused: a VIP or backend has no scope.
    public init(parsing text: String) throws(AddressParseError) {
        switch IPv6Address.parse(text) {
        case .success(let address): self = address
        case .failure(let reason):
            throw AddressParseError(text: text, kind: "an IPv6 address", reason: reason.message)
        }
    }

    private struct Failure: Error { let message: String }

    private static func parse(_ text: String) -> Result<IPv6Address, Failure> {
        if text.isEmpty { return .failure(Failure(message: "empty")) }
        if text.contains("%") { return .failure(Failure(message: "zone ids are not accepted")) }
        let halves = text.splitAtDoubleColons()
        guard halves.count <= 2 else { return .failure(Failure(message: "'::' appears more than once")) }
        var head: [UInt16] = []
        var tail: [UInt16] = []
        do {
            head = try groups(halves[0], allowsTrailingIPv4: halves.count == 1)
            if halves.count == 2 { tail = try groups(halves[1], allowsTrailingIPv4: true) }
        } catch {
            return .failure(error)
        }
        let total = head.count + tail.count
        if halves.count == 1 && total != 8 {
            return .failure(Failure(message: "expected eight groups, found \(total)"))
        }
        if halves.count == 2 && total > 7 {
            return .failure(Failure(message: "'::' must stand for at least one group, but \(total) are given"))
        }
        let all = head + Array(repeating: 0, count: 8 - total) + tail
        var high: UInt64 = 0
        var low: UInt64 = 0
        for group in all[0..<4] { high = high << 16 | UInt64(group) }
        for group in all[4..<8] { low = low << 16 | UInt64(group) }
        return .success(IPv6Address(high: high, low: low))
    }

    private static func groups(_ text: Substring, allowsTrailingIPv4: Bool) throws(Failure) -> [UInt16] {
        if text.isEmpty { return [] }
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        var result: [UInt16] = []
        for (index, part) in parts.enumerated() {
            if index == parts.count - 1, allowsTrailingIPv4, part.contains(".") {
                guard let v4 = IPv4Address.parse(part.utf8) else {
                    throw Failure(message: "'\(part)' is not a valid embedded IPv4 address")
                }
                result.append(UInt16(truncatingIfNeeded: v4.rawValue >> 16))
                result.append(UInt16(truncatingIfNeeded: v4.rawValue))
                continue
            }
            guard !part.isEmpty else { throw Failure(message: "empty group (a single ':' at the start or end?)") }
            guard part.utf8.count <= 4 else { throw Failure(message: "group '\(part)' has more than four hex digits") }
            var value: UInt16 = 0
            for byte in part.utf8 {
                guard let digit = byte.hexDigitValue else {
                    throw Failure(message: "group '\(part)' is not hexadecimal")
                }
                value = value << 4 | UInt16(digit)
            }
            result.append(value)
        }
        return result
    }

    public var groups: [UInt16] {
        (0..<4).map { UInt16(truncatingIfNeeded: high >> UInt64(48 - 16 * $0)) }
            + (0..<4).map { UInt16(truncatingIfNeeded: low >> UInt64(48 - 16 * $0)) }
    }

    /// `::ffff:a.b.c.d`
    public var isIPv4Mapped: Bool { high == 0 && low >> 32 == 0xffff }

    /// RFC 5952: lower case, no leading zeros, the longest run of two or more zero groups (the first
    /// of equal runs) as `::`, IPv4-mapped addresses with a dotted quad.
    public var description: String {
        if isIPv4Mapped {
            return "::ffff:" + IPv4Address(rawValue: UInt32(truncatingIfNeeded: low)).description
        }
        let groups = self.groups
        var bestStart = -1
        var bestLength = 0
        var index = 0
        while index < 8 {
            guard groups[index] == 0 else { index += 1; continue }
            var end = index
            while end < 8 && groups[end] == 0 { end += 1 }
            if end - index > bestLength {
                bestStart = index
                bestLength = end - index
            }
            index = end
        }
        func hex(_ range: Range<Int>) -> String {
            groups[range].map { String($0, radix: 16) }.joined(separator: ":")
        }
        guard bestLength >= 2 else { return hex(0..<8) }
        return hex(0..<bestStart) + "::" + hex((bestStart + bestLength)..<8)
    }

    public static func < (lhs: IPv6Address, rhs: IPv6Address) -> Bool {
        (lhs.high, lhs.low) < (rhs.high, rhs.low)
    }
}

extension String {
    /// Splits on `::`; a third piece means the text used it twice.
    fileprivate func splitAtDoubleColons() -> [Substring] {
        var pieces: [Substring] = []
        var start = startIndex
        var index = startIndex
        while index < endIndex {
            let next = self.index(after: index)
            if self[index] == ":", next < endIndex, self[next] == ":" {
                pieces.append(self[start..<index])
                start = self.index(after: next)
                index = start
                continue
            }
            index = next
        }
        pieces.append(self[start..<endIndex])
        return pieces
    }
}
