import DromosSystem
import DromosWire

/// Finishes an L4 checksum the sender's kernel left partial (CHECKSUM_PARTIAL), as a NIC or the
/// kernel's skb_checksum_help would: the checksum field already holds the pseudo-header sum, so the
/// Internet checksum from `start` to the frame's end, complemented, is the final value.
enum PartialChecksum {
    /// False (frame untouched) when the offsets do not fit the frame.
    static func complete(_ frame: UnsafeMutableRawBufferPointer, start: Int, offset: Int) -> Bool {
        guard let base = frame.baseAddress, start >= 0, offset >= 0, start &+ offset &+ 2 <= frame.count else { return false }
        let sum = onesComplementSum(UnsafeRawBufferPointer(rebasing: frame[start...]))
        // A computed 0 is sent as 0xffff: for UDP 0 means "no checksum" (skb_checksum_help does the same).
        let value = ~sum == 0 ? 0xffff : ~sum
        base.storeBytes(of: value.bigEndian, toByteOffset: start &+ offset, as: UInt16.self)
        return true
    }

    /// The folded 16-bit one's complement sum of big-endian words, an odd last byte padded with zero.
    static func onesComplementSum(_ bytes: UnsafeRawBufferPointer, initial: UInt64 = 0) -> UInt16 {
        var sum = initial
        var index = 0
        let count = bytes.count
        // Eight bytes at a time: 64-bit adds with the carries folded back in at the end (RFC 1071).
        while index &+ 8 <= count {
            let word = UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self))
            sum &+= (word >> 32) &+ (word & 0xffff_ffff)
            index &+= 8
        }
        while index &+ 2 <= count {
            sum &+= UInt64(UInt16(bigEndian: bytes.loadUnaligned(fromByteOffset: index, as: UInt16.self)))
            index &+= 2
        }
        if index < count { sum &+= UInt64(bytes[index]) << 8 }
        while sum > 0xffff { sum = (sum & 0xffff) &+ (sum >> 16) }
        return UInt16(sum)
    }
}
