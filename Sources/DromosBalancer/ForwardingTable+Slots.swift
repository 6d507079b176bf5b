public import DromosWire

/// A service as the packet path sees it: trivial fields only, so reading one never touches ARC.
@usableFromInline
struct ServiceSlot {
    @usableFromInline var vip: IPAddress
    @usableFromInline var transport: UInt8
    @usableFromInline var port: UInt16
    @usableFromInline var hasPort: Bool
    @usableFromInline var scheduler: SchedulerKind
    /// This service's backends are `backends[firstBackend ..< firstBackend + backendCount]`.
    @usableFromInline var firstBackend: Int32
    @usableFromInline var backendCount: Int32
    /// Backends that take new flows, as indices into `backends`: `usable[firstUsable ..< + usableCount]`.
    @usableFromInline var firstUsable: Int32
    @usableFromInline var usableCount: Int32
    /// The Maglev table (also used by `sh`): `maglev[maglevOffset ..< + maglevSize]`, empty when no
    /// backend takes new flows.
    @usableFromInline var maglevOffset: Int
    @usableFromInline var maglevSize: Int
    /// For wrr, as IPVS computes them over the usable backends.
    @usableFromInline var maxWeight: Int32
    @usableFromInline var weightGCD: Int32
    /// Dromos answers ARP/NDP for this VIP: set on every service of the VIP when any of them asks.
    @usableFromInline var announcesVIP: Bool
}

@usableFromInline
struct BackendSlot {
    @usableFromInline var address: IPAddress
    @usableFromInline var mac: MACAddress
    @usableFromInline var weight: Int32
    @usableFromInline var service: Int32
    /// Up, MAC known and weight above 0.
    @usableFromInline var takesNewFlows: Bool
    /// Up and MAC known: a draining backend still keeps the flows it has.
    @usableFromInline var keepsFlows: Bool
}

/// Open-addressing index from a hash to an entry number; keys are compared by the caller against the
/// slot arrays, so the index itself stores only `Int32`s (-1 = empty).
@usableFromInline
struct OpenIndex {
    @usableFromInline let slots: UnsafeMutableBufferPointer<Int32>
    @usableFromInline let mask: Int

    init(capacityFor count: Int) {
        var size = 8
        while size < count * 2 { size <<= 1 }
        slots = .allocate(capacity: size)
        slots.initialize(repeating: -1)
        mask = size - 1
    }

    func insert(_ value: Int32, hash: UInt64) {
        var position = Int(truncatingIfNeeded: hash) & mask
        while slots[position] >= 0 { position = (position &+ 1) & mask }
        slots[position] = value
    }

    func deallocate() { slots.deallocate() }
}

/// Mixing for the table's own indexes: local to one table, so it needs speed, not stability.
@inlinable
func indexHash(_ address: IPAddress, _ extra: UInt64) -> UInt64 {
    let (high, low) = address.words
    var hash = (high ^ 0x9e37_79b9_7f4a_7c15) &* 0xbf58_476d_1ce4_e5b9
    hash = (hash ^ low ^ (hash >> 31)) &* 0x94d0_49bb_1331_11eb
    hash = (hash ^ extra ^ (hash >> 29)) &* 0xbf58_476d_1ce4_e5b9
    return hash ^ (hash >> 32)
}

extension IPAddress {
    /// Both families in two words; IPv4 in the IPv4-mapped form, with the family kept apart by the
    /// enum case when keys are compared.
    @inlinable
    var words: (UInt64, UInt64) {
        switch self {
        case .v4(let address): return (0, 0xffff_0000_0000 | UInt64(address.rawValue))
        case .v6(let address): return (address.high, address.low)
        }
    }
}
