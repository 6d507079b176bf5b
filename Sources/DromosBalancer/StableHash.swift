public import DromosWire

/// Hashes that every Dromos instance computes alike, on every machine and in every run: balancers that
/// share a pool must agree on where a flow goes, so Swift's `Hasher` (seeded at random per process)
/// cannot be used. Changing any of these functions remaps flows between old and new builds, which is why
/// the tests pin their outputs.
public enum StableHash {
    // MARK: - Bytes: xxHash64

    /// xxHash64 (Yann Collet, XXH64 of xxHash 0.8), bit for bit: the same value as `XXH64(bytes,
    /// length, seed)` in the C library, so published test vectors apply. Reads are little-endian
    /// whatever the host, as the specification requires.
    public static func hash(_ bytes: UnsafeRawBufferPointer, seed: UInt64) -> UInt64 {
        let count = bytes.count
        var offset = 0
        var accumulator: UInt64
        if count >= 32 {
            var lane1 = seed &+ XXH64.prime1 &+ XXH64.prime2
            var lane2 = seed &+ XXH64.prime2
            var lane3 = seed
            var lane4 = seed &- XXH64.prime1
            while offset + 32 <= count {
                lane1 = XXH64.round(lane1, bytes.littleEndianWord(at: offset))
                lane2 = XXH64.round(lane2, bytes.littleEndianWord(at: offset + 8))
                lane3 = XXH64.round(lane3, bytes.littleEndianWord(at: offset + 16))
                lane4 = XXH64.round(lane4, bytes.littleEndianWord(at: offset + 24))
                offset += 32
            }
            accumulator = lane1.rotatedLeft(1) &+ lane2.rotatedLeft(7) &+ lane3.rotatedLeft(12)
                &+ lane4.rotatedLeft(18)
            accumulator = XXH64.mergeRound(accumulator, lane1)
            accumulator = XXH64.mergeRound(accumulator, lane2)
            accumulator = XXH64.mergeRound(accumulator, lane3)
            accumulator = XXH64.mergeRound(accumulator, lane4)
        } else {
            accumulator = seed &+ XXH64.prime5
        }
        accumulator &+= UInt64(count)

        while offset + 8 <= count {
            accumulator ^= XXH64.round(0, bytes.littleEndianWord(at: offset))
            accumulator = accumulator.rotatedLeft(27) &* XXH64.prime1 &+ XXH64.prime4
            offset += 8
        }
        if offset + 4 <= count {
            let half = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
            accumulator ^= UInt64(half) &* XXH64.prime1
            accumulator = accumulator.rotatedLeft(23) &* XXH64.prime2 &+ XXH64.prime3
            offset += 4
        }
        while offset < count {
            accumulator ^= UInt64(bytes[offset]) &* XXH64.prime5
            accumulator = accumulator.rotatedLeft(11) &* XXH64.prime1
            offset += 1
        }
        return XXH64.avalanche(accumulator)
    }

    // MARK: - Addresses

    /// The tags that keep an IPv4 address and an IPv6 address with the same trailing bytes apart.
    /// Computed rather than stored so that inlined callers see a constant, not a lazy global.
    @inlinable public static var ipv4Tag: UInt8 { 4 }
    @inlinable public static var ipv6Tag: UInt8 { 6 }

    /// xxHash64 of the canonical form: the family tag, then the 4 or 16 address bytes in network
    /// order. Used off the packet path (Maglev permutations), where clarity beats speed.
    public static func hash(_ address: IPAddress, seed: UInt64) -> UInt64 {
        // 17 bytes on the stack: an array here would allocate for every backend of every build.
        withUnsafeTemporaryAllocation(byteCount: 17, alignment: 8) { buffer in
            switch address {
            case .v4(let v4):
                buffer.storeBytes(of: ipv4Tag, toByteOffset: 0, as: UInt8.self)
                buffer.storeBytes(of: v4.rawValue.bigEndian, toByteOffset: 1, as: UInt32.self)
                return hash(UnsafeRawBufferPointer(rebasing: buffer[0..<5]), seed: seed)
            case .v6(let v6):
                buffer.storeBytes(of: ipv6Tag, toByteOffset: 0, as: UInt8.self)
                buffer.storeBytes(of: v6.high.bigEndian, toByteOffset: 1, as: UInt64.self)
                buffer.storeBytes(of: v6.low.bigEndian, toByteOffset: 9, as: UInt64.self)
                return hash(UnsafeRawBufferPointer(rebasing: buffer[0..<17]), seed: seed)
            }
        }
    }

    // MARK: - Flows: the per-packet hash

    /// The five-tuple hash every new flow pays for, so it works on whole 64-bit words in registers.
    /// wyhash-style (Wang Yi's wyhash): a seed-dependent start as in wyhash final 4, then one `mum`
    /// fold per pair of words, then wyhash's closing fold with the length. The key is five words: each
    /// address as two halves (IPv4 in the low half, high half zero), then protocol, ports and the
    /// family tag packed into one. Not byte-compatible with wyhash of any byte string, so the tests pin
    /// its outputs instead of a published vector.
    @inlinable
    public static func hash(_ flow: FlowKey, seed: UInt64) -> UInt64 {
        // `FlowKey` stores the addresses as `words` gives them; only the source's family is hashed.
        let sourceTag = flow.rest & FlowKey.sourceIsIPv6 != 0 ? ipv6Tag : ipv4Tag
        let rest = UInt64(flow.ipProtocol) | UInt64(flow.sourcePort) << 8 | UInt64(flow.destinationPort) << 24
            | UInt64(sourceTag) << 40
        var state = seed ^ mix(seed ^ Wy.secret0, Wy.secret1)
        state = mix(flow.sourceHigh ^ Wy.secret1, flow.sourceLow ^ state)
        state = mix(flow.destinationHigh ^ Wy.secret2, flow.destinationLow ^ state)
        return mix(Wy.secret1 ^ Wy.flowLength, mix(rest ^ Wy.secret3, state))
    }

    /// wyhash's `_wymix`: the 128-bit product folded to 64 bits, so every input bit reaches the output.
    @inlinable
    static func mix(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let product = a.multipliedFullWidth(by: b)
        return product.high ^ product.low
    }

    @usableFromInline
    enum Wy {
        // wyhash's default secret up to final 3 (`_wyp`): odd, 32 of 64 bits set each, so a product
        // with any of them spreads bits both ways.
        @inlinable static var secret0: UInt64 { 0xa076_1d64_78bd_642f }
        @inlinable static var secret1: UInt64 { 0xe703_7ed1_a0b4_28db }
        @inlinable static var secret2: UInt64 { 0x8ebc_6af0_9c88_c6e3 }
        @inlinable static var secret3: UInt64 { 0x5899_65cc_7537_4cc3 }
        /// Stands where wyhash folds in the input's length: the key's five words are 40 bytes.
        @inlinable static var flowLength: UInt64 { 40 }
    }
}

/// xxHash64's constants and rounds, named as in the specification (xxhash_spec.md).
private enum XXH64 {
    static let prime1: UInt64 = 0x9e37_79b1_85eb_ca87
    static let prime2: UInt64 = 0xc2b2_ae3d_27d4_eb4f
    static let prime3: UInt64 = 0x1656_67b1_9e37_79f9
    static let prime4: UInt64 = 0x85eb_ca77_c2b2_ae63
    static let prime5: UInt64 = 0x27d4_eb2f_1656_67c5

    static func round(_ accumulator: UInt64, _ lane: UInt64) -> UInt64 {
        (accumulator &+ lane &* prime2).rotatedLeft(31) &* prime1
    }

    static func mergeRound(_ accumulator: UInt64, _ lane: UInt64) -> UInt64 {
        (accumulator ^ round(0, lane)) &* prime1 &+ prime4
    }

    static func avalanche(_ value: UInt64) -> UInt64 {
        var hash = value
        hash ^= hash >> 33
        hash &*= prime2
        hash ^= hash >> 29
        hash &*= prime3
        hash ^= hash >> 32
        return hash
    }
}

extension UInt64 {
    fileprivate func rotatedLeft(_ count: UInt64) -> UInt64 {
        self << count | self >> (64 - count)
    }
}

extension UnsafeRawBufferPointer {
    fileprivate func littleEndianWord(at offset: Int) -> UInt64 {
        UInt64(littleEndian: loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }
}
