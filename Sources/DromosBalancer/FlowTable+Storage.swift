import DromosWire

extension FlowTable {
    /// One slot of the entry array. In use, `newer`/`older` link it into its state's recency list; free,
    /// `newer` is `Entry.free` and `older` links the free list.
    struct Entry {
        /// Five words (see `FlowKey`): equality is five compares and hashing needs no switch on the family.
        var key: FlowKey
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
        @inline(always)
        static func fold(_ a: UInt64, _ b: UInt64) -> UInt64 {
            let product = a.multipliedFullWidth(by: b)
            return product.high ^ product.low
        }

        @inline(always)
        func hash(_ key: FlowKey) -> UInt64 {
            let source = Self.fold(key.sourceLow ^ self.source, key.sourceHigh ^ high)
            let destination = Self.fold(key.destinationLow ^ self.destination, key.destinationHigh ^ high ^ final)
            return Self.fold(source ^ key.rest ^ final, destination ^ self.source)
        }
    }
}
