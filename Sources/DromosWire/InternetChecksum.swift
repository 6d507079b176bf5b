/// The RFC 1071 ones'-complement sum, accumulated in 32 bits and folded once at the end. The caller feeds
/// whole 16-bit words in wire order; an odd trailing byte is padded with zero as the RFC says.
@usableFromInline
struct InternetChecksum {
    @usableFromInline var sum: UInt64 = 0

    @inlinable init() {}

    @inlinable
    mutating func add(_ word: UInt16) { sum &+= UInt64(word) }

    @inlinable
    mutating func add(_ word: UInt32) { sum &+= UInt64(word >> 16) &+ UInt64(word & 0xffff) }

    @inlinable
    mutating func add(_ address: IPv6Address) {
        add(UInt32(truncatingIfNeeded: address.high >> 32))
        add(UInt32(truncatingIfNeeded: address.high))
        add(UInt32(truncatingIfNeeded: address.low >> 32))
        add(UInt32(truncatingIfNeeded: address.low))
    }

    /// Adds `count` bytes at `offset`; the caller has proved the range with `bytes.contains`.
    @inlinable
    mutating func add(_ bytes: ByteView, from offset: Int, count: Int) {
        var index = offset
        let end = offset &+ count
        while index &+ 1 < end {
            add(bytes.u16(index))
            index &+= 2
        }
        if index < end { add(UInt16(bytes.u8(index)) << 8) }
    }

    /// The ones' complement of the folded sum: what goes in the header, and 0 when checking a message
    /// whose checksum field was summed along.
    @inlinable
    var value: UInt16 {
        var folded = sum
        while folded > 0xffff { folded = (folded & 0xffff) &+ (folded >> 16) }
        return ~UInt16(truncatingIfNeeded: folded)
    }
}
