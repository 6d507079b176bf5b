/// The captured bytes of one frame, read in network order.
///
/// The loads do not check bounds themselves: every caller first proves the range with `contains`,
/// which is the one place the arithmetic lives. `contains` cannot overflow because `count`, `offset`
/// and `length` are non-negative and far below `Int.max` (a frame is at most a few hundred KiB).
@usableFromInline
struct ByteView {
    @usableFromInline let base: UnsafeRawPointer?
    @usableFromInline let count: Int

    @inlinable
    init(_ buffer: UnsafeRawBufferPointer) {
        base = buffer.baseAddress
        count = buffer.count
    }

    /// True when `length` bytes at `offset` lie inside the frame and before `end`.
    @inlinable
    func contains(_ length: Int, at offset: Int, end: Int) -> Bool {
        offset >= 0 && offset <= min(end, count) &- length
    }

    @inlinable
    func contains(_ length: Int, at offset: Int) -> Bool {
        contains(length, at: offset, end: count)
    }

    @inlinable
    func u8(_ offset: Int) -> UInt8 {
        base.unsafelyUnwrapped.load(fromByteOffset: offset, as: UInt8.self)
    }

    @inlinable
    func u16(_ offset: Int) -> UInt16 {
        UInt16(bigEndian: base.unsafelyUnwrapped.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    @inlinable
    func u32(_ offset: Int) -> UInt32 {
        UInt32(bigEndian: base.unsafelyUnwrapped.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    @inlinable
    func u64(_ offset: Int) -> UInt64 {
        UInt64(bigEndian: base.unsafelyUnwrapped.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    @inlinable
    func mac(_ offset: Int) -> MACAddress {
        MACAddress(rawValue: UInt64(u16(offset)) << 32 | UInt64(u32(offset &+ 2)))
    }
}
