import DromosWire

extension FlowTable {
    /// A `FlowKey` as five words, so equality is five compares and hashing needs no switch on the family.
    /// Each address is two halves (IPv4 in the low half); `rest` holds the ports, the protocol and a family
    /// bit per address, so an IPv4 address never equals the IPv6 address with the same low bits.
    struct PackedKey: Equatable {
        var sourceHigh: UInt64
        var sourceLow: UInt64
        var destinationHigh: UInt64
        var destinationLow: UInt64
        var rest: UInt64

        private static let sourceIsIPv6: UInt64 = 1
        private static let destinationIsIPv6: UInt64 = 2

        @inline(__always)
        init(_ key: FlowKey) {
            var rest = UInt64(key.sourcePort) << 48 | UInt64(key.destinationPort) << 32 | UInt64(key.ipProtocol) << 8
            switch key.source {
            case .v4(let address):
                sourceHigh = 0
                sourceLow = UInt64(address.rawValue)
            case .v6(let address):
                sourceHigh = address.high
                sourceLow = address.low
                rest |= Self.sourceIsIPv6
            }
            switch key.destination {
            case .v4(let address):
                destinationHigh = 0
                destinationLow = UInt64(address.rawValue)
            case .v6(let address):
                destinationHigh = address.high
                destinationLow = address.low
                rest |= Self.destinationIsIPv6
            }
            self.rest = rest
        }

        var flowKey: FlowKey {
            FlowKey(source: Self.address(sourceHigh, sourceLow, isIPv6: rest & Self.sourceIsIPv6 != 0),
                    destination: Self.address(destinationHigh, destinationLow,
                                              isIPv6: rest & Self.destinationIsIPv6 != 0),
                    ipProtocol: UInt8(truncatingIfNeeded: rest >> 8),
                    sourcePort: UInt16(truncatingIfNeeded: rest >> 48),
                    destinationPort: UInt16(truncatingIfNeeded: rest >> 32))
        }

        private static func address(_ high: UInt64, _ low: UInt64, isIPv6: Bool) -> IPAddress {
            isIPv6 ? .v6(IPv6Address(high: high, low: low))
                : .v4(IPv4Address(rawValue: UInt32(truncatingIfNeeded: low)))
        }
    }

    /// One slot of the entry array. In use, `newer`/`older` link it into its state's recency list; free,
    /// `newer` is `Entry.free` and `older` links the free list.
    struct Entry {
        var key: PackedKey
        var lastSeen: UInt64
        var newer: Int32
        var older: Int32
        var target: FlowTarget
        var state: FlowState

        /// Marks a free entry, so a stale handle trips an assertion in debug builds.
        static let free: Int32 = -2
        static let none: Int32 = -1
    }

    /// Both ends of one state's recency list: `newest` was touched last, `oldest` is the next to expire.
    struct RecencyList {
        var newest: Int32 = Entry.none
        var oldest: Int32 = Entry.none
        var count: Int = 0
    }

    /// The table's mutable scalars. They live behind a pointer, like the arrays, so that no operation writes
    /// a stored property of the class: that would cost a dynamic exclusivity check per access.
    struct Counters {
        var count = 0
        var freeHead: Int32 = Entry.none
        var insertions: UInt64 = 0
        var evictions: UInt64 = 0
        var expirations: UInt64 = 0
    }

    /// Keys for the index hash, drawn per table: the hash is private to one worker and never has to agree
    /// with another process (unlike the scheduler's), so a random key costs nothing and keeps an attacker
    /// from choosing tuples that pile onto one probe chain.
    struct HashKey {
        let source: UInt64
        let destination: UInt64
        let high: UInt64
        let final: UInt64

        init(seed: UInt64) {
            var state = seed
            // splitmix64 spreads one seed into independent words; `| 1` keeps every multiplier non-zero.
            func next() -> UInt64 {
                state &+= 0x9e37_79b9_7f4a_7c15
                var z = state
                z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
                z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
                return (z ^ (z >> 31)) | 1
            }
            source = next()
            destination = next()
            high = next()
            final = next()
        }

        /// wyhash's folded multiply: both halves of the 128-bit product, so every input bit reaches the output.
        @inline(__always)
        static func fold(_ a: UInt64, _ b: UInt64) -> UInt64 {
            let product = a.multipliedFullWidth(by: b)
            return product.high ^ product.low
        }

        @inline(__always)
        func hash(_ key: PackedKey) -> UInt64 {
            let source = Self.fold(key.sourceLow ^ self.source, key.sourceHigh ^ high)
            let destination = Self.fold(key.destinationLow ^ self.destination, key.destinationHigh ^ high ^ final)
            return Self.fold(source ^ key.rest ^ final, destination ^ self.source)
        }
    }
}
