extension FlowTable {
    /// Puts the entry at the head of its state's list. Its `lastSeen` is the newest of that list, which
    /// keeps every list ordered by `lastSeen` as long as the clock does not go back.
    func linkAsNewest(_ entry: Int32) {
        let index = Int(entry)
        let list = lists + Int(entries[index].state.rawValue)
        let formerNewest = list.pointee.newest
        entries[index].newer = Entry.none
        entries[index].older = formerNewest
        if formerNewest == Entry.none {
            list.pointee.oldest = entry
        } else {
            entries[Int(formerNewest)].newer = entry
        }
        list.pointee.newest = entry
        list.pointee.count &+= 1
    }

    func unlink(_ entry: Int32) {
        let index = Int(entry)
        let list = lists + Int(entries[index].state.rawValue)
        let newer = entries[index].newer
        let older = entries[index].older
        if newer == Entry.none {
            list.pointee.newest = older
        } else {
            entries[Int(newer)].older = older
        }
        if older == Entry.none {
            list.pointee.oldest = newer
        } else {
            entries[Int(older)].newer = newer
        }
        list.pointee.count &-= 1
    }

    /// Milliseconds until the entry expires; negative once it has. Idle exactly its timeout leaves 0:
    /// still alive.
    @inline(always)
    func timeLeft(_ entry: Int32, now: UInt64) -> Int64 {
        let stored = entries[Int(entry)]
        let idle = Int64(bitPattern: now &- stored.lastSeen)
        // Both terms stay below 2^62 (`FlowTimeouts.maximumMilliseconds`), so the difference cannot overflow.
        return Int64(bitPattern: timeouts.milliseconds(for: stored.state)) &- max(idle, 0)
    }

    /// The entry whose deadline comes first, and the time it has left. Only the lists' oldest entries can
    /// be it: within a list the timeout is the same and `lastSeen` falls toward the tail. Ties go to the
    /// earlier state in `FlowState`'s order. Returns entry -1 for an empty table.
    func entryNearestExpiry(now: UInt64) -> (entry: Int32, timeLeft: Int64) {
        var best = Entry.none
        var bestLeft = Int64.max
        for state in 0..<FlowState.classCount {
            let oldest = lists[state].oldest
            guard oldest != Entry.none else { continue }
            let left = timeLeft(oldest, now: now)
            if best == Entry.none || left < bestLeft {
                best = oldest
                bestLeft = left
            }
        }
        return (best, bestLeft)
    }
}
