public import DromosWire

/// A service as the packet path sees it: trivial fields only, so reading one never touches ARC.
@usableFromInline
struct ServiceSlot {
    /// The VIP's words as `FlowKey` stores a destination, so the packet path compares a frame's key
    /// without building an `IPAddress`.
    @usableFromInline var vipHigh: UInt64
    @usableFromInline var vipLow: UInt64
    @usableFromInline var vipIsIPv6: Bool
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

    init(vip: IPAddress, transport: UInt8, port: UInt16, hasPort: Bool, scheduler: SchedulerKind, firstBackend: Int32,
         backendCount: Int32, firstUsable: Int32, usableCount: Int32, maglevOffset: Int, maglevSize: Int,
         maxWeight: Int32, weightGCD: Int32, announcesVIP: Bool) {
        (vipHigh, vipLow, vipIsIPv6) = vip.flowKeyWords
        self.transport = transport
        self.port = port
        self.hasPort = hasPort
        self.scheduler = scheduler
        self.firstBackend = firstBackend
        self.backendCount = backendCount
        self.firstUsable = firstUsable
        self.usableCount = usableCount
        self.maglevOffset = maglevOffset
        self.maglevSize = maglevSize
        self.maxWeight = maxWeight
        self.weightGCD = weightGCD
        self.announcesVIP = announcesVIP
    }

    @inlinable
    var vip: IPAddress { IPAddress(flowKeyHigh: vipHigh, low: vipLow, isIPv6: vipIsIPv6) }
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
    return indexHash(high: high, low: low, extra)
}

/// The same over `IPAddress.words`.
@inlinable @inline(__always)
func indexHash(high: UInt64, low: UInt64, _ extra: UInt64) -> UInt64 {
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
