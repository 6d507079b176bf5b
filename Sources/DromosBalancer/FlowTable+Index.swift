import DromosWire

extension FlowTable {
    @inline(always)
    func homeSlot(ofHash hash: UInt64) -> Int {
        Int(truncatingIfNeeded: hash >> entryBits) & slotMask
    }

    @inline(always)
    func entryIndex(atSlot position: Int) -> Int32 {
        // An occupied slot holds entry + 1 in its low bits, and entries number at most 2^30.
        Int32(truncatingIfNeeded: slots[position] & entryMask) &- 1
    }

    /// The index slot holding `key`, or -1. Ends at the first empty slot, which exists because the
    /// index has at least twice as many slots as the table has entries.
    @inline(always)
    func slotPosition(of key: FlowKey, hash: UInt64) -> Int {
        let hashBits = hash & ~entryMask
        var position = homeSlot(ofHash: hash)
        while true {
            let slot = slots[position]
            if slot == 0 { return -1 }
            if slot & ~entryMask == hashBits, entries[Int(slot & entryMask) &- 1].key == key {
                return position
            }
            position = (position &+ 1) & slotMask
        }
    }

    /// The index slot of a live entry, found by its own key's probe sequence.
    func slotPosition(ofEntry entry: Int32) -> Int {
        let wanted = UInt64(entry) &+ 1
        var position = homeSlot(ofHash: hashKey.hash(entries[Int(entry)].key))
        while slots[position] & entryMask != wanted {
            assert(slots[position] != 0, "a live entry is missing from the index")
            position = (position &+ 1) & slotMask
        }
        return position
    }

    func insertIntoIndex(_ entry: Int32, hash: UInt64) {
        var position = homeSlot(ofHash: hash)
        while slots[position] != 0 {
            position = (position &+ 1) & slotMask
        }
        slots[position] = hash & ~entryMask | (UInt64(entry) &+ 1)
    }

    /// Backward-shift deletion: pulls later members of the probe run into the hole wherever that keeps
    /// them reachable from their home slot, so the index never needs tombstones and lookups never slow
    /// down with churn.
    func deleteSlot(_ position: Int) {
        var hole = position
        var next = position
        while true {
            next = (next &+ 1) & slotMask
            let slot = slots[next]
            if slot == 0 { break }
            let home = Int(truncatingIfNeeded: slot >> entryBits) & slotMask
            // The entry may fill the hole unless its home lies after the hole (cyclically, up to `next`).
            if (next &- home) & slotMask >= (next &- hole) & slotMask {
                slots[hole] = slot
                hole = next
            }
        }
        slots[hole] = 0
    }
}
