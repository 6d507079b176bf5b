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

    /// Uninitialized memory for `capacity` values of `T`; free it with `deallocate()`. Allocations of at
    /// least one huge page are aligned to one and advised before anything touches them, so the first
    /// touch faults in huge pages. The advice is best effort, its failure ignored: a kernel without
    /// transparent huge pages refuses it, and the memory works the same in small pages. Freed with
    /// `deallocate()` like any allocation (the runtime frees aligned and plain memory alike on Linux).
    public static func allocate<T>(_ type: T.Type, capacity: Int) -> UnsafeMutablePointer<T> {
        let byteCount = MemoryLayout<T>.stride &* capacity
        guard byteCount >= hugePageSize else { return .allocate(capacity: capacity) }
        let memory = UnsafeMutableRawPointer.allocate(byteCount: byteCount, alignment: max(hugePageSize, MemoryLayout<T>.alignment))
        _ = try? Syscall.call("madvise") { Int(madvise(memory, byteCount, MADV_HUGEPAGE)) }
        return memory.bindMemory(to: T.self, capacity: capacity)
    }
}
