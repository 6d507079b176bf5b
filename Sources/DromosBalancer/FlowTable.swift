import DromosSystem
public import DromosWire

/// The flows one worker has pinned to backends. One worker thread owns a table: nothing in it is shared,
/// locked or atomic, and after `init` no operation allocates, retains or calls through a protocol.
///
/// Entries live in a preallocated array with a free list; an open-addressing index (linear probing,
/// backward-shift deletion, no tombstones) maps keys to them; each timeout class has an intrusive recency
/// list, so the oldest entry of each class — its list's tail — is exactly the next of that class to expire.
///
/// Time is the caller's monotonic clock in milliseconds, passed in. Timestamps are only ever subtracted
/// with wrapping arithmetic, so the clock's origin does not matter (one starting near `UInt64.max` works);
/// what must hold is that `now` never decreases for one table and no flow stays idle for 2^63 ms. Should a
/// `now` fall behind an entry's `lastSeen` anyway, that entry reads as idle for zero, not for ages.
public final class FlowTable {
    /// Entry indexes must fit an `Int32` handle with bits to spare for the index's slot encoding.
    public static let maximumCapacity = 1 << 30

    public let capacity: Int
    public let timeouts: FlowTimeouts

    let entries: UnsafeMutablePointer<Entry>
    /// Index slots: 0 is empty; otherwise the low `entryBits` hold entry + 1 and the bits above them are the
    /// key's hash, whose next bits are its home slot. Comparing those hash bits first keeps almost every
    /// probe off the entries, and the home slot is recomputed from the slot alone when deleting.
    let slots: UnsafeMutablePointer<UInt64>
    let slotMask: Int
    let entryBits: UInt64
    let entryMask: UInt64
    let lists: UnsafeMutablePointer<RecencyList>
    let counters: UnsafeMutablePointer<Counters>
    let hashKey: HashKey

    /// Preallocates and touches everything, so the first packets take no page faults either; the entries
    /// and the index in huge pages where the kernel offers them (`HugePageMemory`).
    public convenience init(capacity: Int, timeouts: FlowTimeouts) {
        var random = SystemRandomNumberGenerator()
        self.init(capacity: capacity, timeouts: timeouts, hashSeed: random.next())
    }

    /// A fixed seed makes probe runs reproducible for the package's tests; production draws a random one.
    package init(capacity: Int, timeouts: FlowTimeouts, hashSeed: UInt64) {
        precondition(capacity >= 1 && capacity <= Self.maximumCapacity,
                     "flow table capacity \(capacity) is outside 1...\(Self.maximumCapacity)")
        self.capacity = capacity
        self.timeouts = timeouts
        hashKey = HashKey(seed: hashSeed)

        // At least twice the capacity keeps the load factor at or below one half, where linear probing
        // averages under two probes for a hit; it also guarantees an empty slot that ends every probe.
        let slotBits = Int.bitWidth &- (2 &* capacity &- 1).leadingZeroBitCount
        let slotCount = 1 << slotBits
        slotMask = slotCount &- 1
        entryBits = UInt64(Int.bitWidth &- capacity.leadingZeroBitCount)
        entryMask = (1 << entryBits) &- 1
        slots = HugePageMemory.allocate(UInt64.self, capacity: slotCount)
        slots.initialize(repeating: 0, count: slotCount)

        entries = HugePageMemory.allocate(Entry.self, capacity: capacity)
        let zero = IPAddress.v4(IPv4Address(rawValue: 0))
        let unusedKey = FlowKey(source: zero, destination: zero, ipProtocol: 0)
        let unusedTarget = FlowTarget(backend: zero, backendIndex: -1, generation: 0)
        for index in 0..<capacity {
            let next = index + 1 < capacity ? Int32(index + 1) : Entry.none
            (entries + index).initialize(to: Entry(key: unusedKey, lastSeen: 0, newer: Entry.free, older: next,
                                                       target: unusedTarget, state: .udp))
        }
        lists = .allocate(capacity: FlowState.classCount)
        lists.initialize(repeating: RecencyList(), count: FlowState.classCount)
        counters = .allocate(capacity: 1)
        counters.initialize(to: Counters(freeHead: 0))
    }

    deinit {
        entries.deinitialize(count: capacity)
        HugePageMemory.deallocate(entries, capacity: capacity)
        slots.deinitialize(count: slotMask &+ 1)
        HugePageMemory.deallocate(slots, capacity: slotMask &+ 1)
        lists.deinitialize(count: FlowState.classCount)
        lists.deallocate()
        counters.deinitialize(count: 1)
        counters.deallocate()
    }

    public var count: Int { counters.pointee.count }
    public var insertions: UInt64 { counters.pointee.insertions }
    /// Live flows pushed out because the table was full: a sign that it is too small.
    public var evictions: UInt64 { counters.pointee.evictions }
    /// Flows removed after idling past their timeout, by `lookup`, `expireOne`, or `insert` when the
    /// entry it had to free was already expired.
    public var expirations: UInt64 { counters.pointee.expirations }

    public func count(in state: FlowState) -> Int { lists[Int(state.rawValue)].count }

    /// The bytes this table holds for its whole life: entries, index and list heads.
    public var reservedBytes: Int {
        capacity &* MemoryLayout<Entry>.stride &+ (slotMask &+ 1) &* MemoryLayout<UInt64>.stride
            &+ FlowState.classCount &* MemoryLayout<RecencyList>.stride &+ MemoryLayout<Counters>.stride
    }

    /// Finds `key`'s live entry. An entry idle past its timeout is removed on the way and returned as
    /// `.expired`, so the caller can release what it held (a least-connections count, say).
    public func lookup(_ key: FlowKey, now: UInt64) -> FlowLookup {
        find(key, now: now)
    }

    /// `lookup`, for the balancer's full path to inline: a hit is a hash, a probe and a timestamp check.
    @inline(always)
    func find(_ key: FlowKey, now: UInt64) -> FlowLookup {
        let position = slotPosition(of: key, hash: hashKey.hash(key))
        guard position >= 0 else { return .missing }
        let entry = entryIndex(atSlot: position)
        guard timeLeft(entry, now: now) >= 0 else { return .expired(removeExpired(entry, atSlot: position)) }
        return .found(FlowHandle(index: entry))
    }

    /// `find` without its side effect: the live entry for `key`, or nil (an expired one stays).
    @inline(always)
    func peek(_ key: FlowKey, now: UInt64) -> FlowHandle? {
        let position = slotPosition(of: key, hash: hashKey.hash(key))
        guard position >= 0 else { return nil }
        let entry = entryIndex(atSlot: position)
        guard timeLeft(entry, now: now) >= 0 else { return nil }
        return FlowHandle(index: entry)
    }

    @inline(never)
    func removeExpired(_ entry: Int32, atSlot position: Int) -> FlowRecord {
        let expired = record(at: entry)
        removeEntry(entry, atSlot: position)
        counters.pointee.expirations &+= 1
        return expired
    }

    public func target(_ handle: FlowHandle) -> FlowTarget { target(at: handle) }

    public func setTarget(_ handle: FlowHandle, _ target: FlowTarget) { setTarget(at: handle, target) }

    public func state(_ handle: FlowHandle) -> FlowState { state(at: handle) }

    public func record(_ handle: FlowHandle) -> FlowRecord {
        record(at: Int32(checked(handle)))
    }

    /// Records a packet of the flow: it is now the newest of its class, and TCP flags may move it to
    /// another class (`FlowState.after(tcpFlags:)`). Non-TCP flows ignore the flags.
    public func touch(_ handle: FlowHandle, tcpFlags: UInt8, now: UInt64) { touch(at: handle, tcpFlags: tcpFlags, now: now) }

    // The packet path's accessors, which the balancer's decision inlines (an inlined public method
    // would have to be inlinable, and with it everything it touches).

    @inline(always)
    func target(at handle: FlowHandle) -> FlowTarget {
        entries[checked(handle)].target
    }

    @inline(always)
    func setTarget(at handle: FlowHandle, _ target: FlowTarget) {
        entries[checked(handle)].target = target
    }

    @inline(always)
    func state(at handle: FlowHandle) -> FlowState {
        entries[checked(handle)].state
    }

    @inline(always)
    func touch(at handle: FlowHandle, tcpFlags: UInt8, now: UInt64) {
        let entry = handle.index
        let index = checked(handle)
        let old = entries[index].state
        let new = old.after(tcpFlags: tcpFlags)
        if new == old {
            // A flow already seen at `now` is among its list's newest, so the list stays in `lastSeen` order
            // without moving it. A batch shares one `now`, which spares a burst the relinking and its misses.
            guard entries[index].lastSeen != now else { return }
            entries[index].lastSeen = now
            guard lists[Int(old.rawValue)].newest != entry else { return }
            unlink(entry)
        } else {
            entries[index].lastSeen = now
            unlink(entry)
            entries[index].state = new
        }
        linkAsNewest(entry)
    }

    /// Adds a flow that is not in the table; the caller has just had `.missing` or `.expired` from
    /// `lookup`. A duplicate key is caught only by an assertion in debug builds: release builds would keep
    /// both entries, and lookups would find one of them. When the table is full, the entry closest to its
    /// deadline is removed first and returned.
    public func insert(_ key: FlowKey, target: FlowTarget, tcpFlags: UInt8, now: UInt64)
        -> (handle: FlowHandle, evicted: FlowRecord?)
    {
        let hash = hashKey.hash(key)
        assert(slotPosition(of: key, hash: hash) < 0, "insert of a flow already in the table")
        var evicted: FlowRecord? = nil
        if counters.pointee.count == capacity {
            let (victim, left) = entryNearestExpiry(now: now)
            evicted = record(at: victim)
            removeEntry(victim, atSlot: slotPosition(ofEntry: victim))
            if left < 0 {
                counters.pointee.expirations &+= 1
            } else {
                counters.pointee.evictions &+= 1
            }
        }
        let entry = counters.pointee.freeHead
        let index = Int(entry)
        counters.pointee.freeHead = entries[index].older
        entries[index].key = key
        entries[index].target = target
        entries[index].state = FlowState.initial(ipProtocol: key.ipProtocol, tcpFlags: tcpFlags)
        entries[index].lastSeen = now
        linkAsNewest(entry)
        insertIntoIndex(entry, hash: hash)
        counters.pointee.count &+= 1
        counters.pointee.insertions &+= 1
        return (FlowHandle(index: entry), evicted)
    }

    public func remove(_ handle: FlowHandle) -> FlowRecord {
        let entry = Int32(checked(handle))
        let removed = record(at: entry)
        removeEntry(entry, atSlot: slotPosition(ofEntry: entry))
        return removed
    }

    /// Removes the entry most overdue, if any is past its timeout. One call does a bounded amount of
    /// work, so a worker can loop with a budget between batches.
    public func expireOne(now: UInt64) -> FlowRecord? {
        guard counters.pointee.count > 0 else { return nil }
        let (entry, left) = entryNearestExpiry(now: now)
        guard left < 0 else { return nil }
        let expired = record(at: entry)
        removeEntry(entry, atSlot: slotPosition(ofEntry: entry))
        counters.pointee.expirations &+= 1
        return expired
    }

    /// Visits every entry, newest first within each class, until `body` returns false. For the control
    /// plane's sampling, not the packet path; `body` must not change the table.
    public func forEachRecord(_ body: (FlowRecord) throws -> Bool) rethrows {
        for state in FlowState.allCases {
            var entry = lists[Int(state.rawValue)].newest
            while entry != Entry.none {
                guard try body(record(at: entry)) else { return }
                entry = entries[Int(entry)].older
            }
        }
    }

    func record(at entry: Int32) -> FlowRecord {
        let stored = entries[Int(entry)]
        return FlowRecord(key: stored.key, target: stored.target, state: stored.state,
                          lastSeen: stored.lastSeen)
    }

    /// The entry's index; debug builds also catch a handle whose entry was freed.
    @inline(always)
    private func checked(_ handle: FlowHandle) -> Int {
        let index = Int(handle.index)
        assert(index >= 0 && index < capacity && entries[index].newer != Entry.free, "stale FlowHandle")
        return index
    }

    /// Unhooks an entry from the index and its list and frees it; `position` is its index slot.
    private func removeEntry(_ entry: Int32, atSlot position: Int) {
        deleteSlot(position)
        unlink(entry)
        let index = Int(entry)
        entries[index].newer = Entry.free
        entries[index].older = counters.pointee.freeHead
        counters.pointee.freeHead = entry
        counters.pointee.count &-= 1
    }
}
