import Glibc

/// Memory for the large tables the packet path reads at random (the flow table's entries and index).
///
/// Backed by transparent huge pages where the kernel offers them (`MADV_HUGEPAGE`, which the default
/// `madvise` mode of /sys/kernel/mm/transparent_hugepage/enabled requires): a million-flow table spans
/// about 26,000 small pages, far more than the TLB holds, so nearly every lookup also walked the page
/// tables; in 2 MiB pages it is about 50. Measured by timing 100,000 decisions at a time over the
/// Decide benchmark's fixture: 4,096 hot flows in a 1M table 37 -> 33 ns at best, a million flows
/// scattered 530-590 -> 440-490 ns (the benchmark's own figures moved within their noise).
public enum HugePageMemory {
    public static let hugePageSize = 2 << 20

    /// Uninitialized memory for `capacity` values of `T`; free it with `deallocate(_:capacity:)`.
    ///
    /// From at least one huge page on, the memory is a private anonymous mapping of its own, rounded up
    /// to whole huge pages and aligned to one, advised before anything touches it, so the first touch
    /// faults in huge pages. Not from `malloc`: an aligned `malloc` may hand out heap memory that was
    /// touched already, and the advice would then stay on heap that `free` gives to other allocations.
    /// The advice is best effort, its failure ignored: a kernel without transparent huge pages refuses
    /// it, and the memory works the same in small pages.
    public static func allocate<T>(_ type: T.Type, capacity: Int) -> UnsafeMutablePointer<T> {
        let byteCount = MemoryLayout<T>.stride &* capacity
        guard byteCount >= hugePageSize else { return .allocate(capacity: capacity) }
        let length = mappedLength(byteCount)
        // One huge page more than needed, so that an aligned run of `length` bytes lies inside; the
        // ends around it are given back.
        let mapping = mmap(nil, length &+ hugePageSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        guard let mapping, mapping != MAP_FAILED else {
            // What `allocate` does when memory runs out; this is start-up, never the packet path.
            fatalError("cannot map \(length) bytes for a table: \(String(cString: strerror(errno)))")
        }
        let start = UInt(bitPattern: mapping)
        let aligned = (start &+ UInt(hugePageSize) &- 1) & ~(UInt(hugePageSize) &- 1)
        let head = Int(aligned &- start)
        if head > 0 { munmap(mapping, head) }
        let memory = UnsafeMutableRawPointer(bitPattern: aligned)!
        munmap(memory + length, hugePageSize &- head)  // never empty: `head` is below one huge page
        _ = try? Syscall.call("madvise") { Int(madvise(memory, length, MADV_HUGEPAGE)) }
        return memory.bindMemory(to: T.self, capacity: capacity)
    }

    /// Frees what `allocate(_:capacity:)` returned for the same type and capacity.
    public static func deallocate<T>(_ pointer: UnsafeMutablePointer<T>, capacity: Int) {
        let byteCount = MemoryLayout<T>.stride &* capacity
        guard byteCount >= hugePageSize else { return pointer.deallocate() }
        munmap(pointer, mappedLength(byteCount))
    }

    static func mappedLength(_ byteCount: Int) -> Int {
        (byteCount &+ hugePageSize &- 1) & ~(hugePageSize &- 1)
    }
}
