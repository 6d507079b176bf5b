package import DromosWire

/// Views into the table's structure for the package's tests: they walk everything, so never call them on
/// the packet path.
extension FlowTable {
    package var slotCount: Int { slotMask &+ 1 }

    package func homeSlot(of key: FlowKey) -> Int {
        homeSlot(ofHash: hashKey.hash(key))
    }

    /// The longest distance from an entry's home slot to where it sits.
    package func longestProbeDistance() -> Int {
        var longest = 0
        for position in 0..<slotCount where slots[position] != 0 {
            let home = Int(truncatingIfNeeded: slots[position] >> entryBits) & slotMask
            longest = max(longest, (position &- home) & slotMask)
        }
        return longest
    }

    /// The first broken invariant, or nil: every entry is indexed once under its hash and reachable from its
    /// home slot; the lists link both ways, hold only their state and fall in `lastSeen`; the free list
    /// holds the rest.
    package func brokenInvariant() -> String? {
        var indexed = 0
        for position in 0..<slotCount where slots[position] != 0 {
            indexed += 1
            let entry = Int(slots[position] & entryMask) - 1
            guard entry >= 0, entry < capacity, entries[entry].newer != Entry.free else {
                return "slot \(position) names entry \(entry), which is not live"
            }
            let hash = hashKey.hash(entries[entry].key)
            guard hash & ~entryMask == slots[position] & ~entryMask else {
                return "slot \(position) holds hash bits that are not entry \(entry)'s"
            }
            var probe = homeSlot(ofHash: hash)
            while probe != position {
                guard slots[probe] != 0 else {
                    return "entry \(entry) at slot \(position) is cut off from its home by an empty slot"
                }
                probe = (probe + 1) & slotMask
            }
            guard slotPosition(of: entries[entry].key, hash: hash) == position else {
                return "entry \(entry)'s key is found at another slot"
            }
        }
        guard indexed == count else { return "\(indexed) slots in use for \(count) entries" }

        var listed = 0
        for state in FlowState.allCases {
            let list = lists[Int(state.rawValue)]
            var entry = list.newest
            var newer = Entry.none
            var walked = 0
            while entry != Entry.none {
                let stored = entries[Int(entry)]
                guard stored.state == state else { return "entry \(entry) in the \(state) list is \(stored.state)" }
                guard stored.newer == newer else { return "entry \(entry) links back to \(stored.newer), not \(newer)" }
                if newer != Entry.none, Int64(bitPattern: entries[Int(newer)].lastSeen &- stored.lastSeen) < 0 {
                    return "the \(state) list is out of lastSeen order at entry \(entry)"
                }
                walked += 1
                guard walked <= capacity else { return "the \(state) list loops" }
                newer = entry
                entry = stored.older
            }
            guard newer == list.oldest else { return "the \(state) list ends at \(newer), not at \(list.oldest)" }
            guard walked == list.count else { return "the \(state) list holds \(walked), counted \(list.count)" }
            listed += walked
        }
        guard listed == count else { return "\(listed) entries listed for a count of \(count)" }

        var free = 0
        var entry = counters.pointee.freeHead
        while entry != Entry.none {
            guard entries[Int(entry)].newer == Entry.free else { return "free list reaches live entry \(entry)" }
            free += 1
            guard free <= capacity else { return "the free list loops" }
            entry = entries[Int(entry)].older
        }
        guard free + count == capacity else { return "\(free) free and \(count) live entries in \(capacity)" }
        return nil
    }
}
