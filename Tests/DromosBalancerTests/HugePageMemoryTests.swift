import Testing
import DromosSystem

/// The flow table's entries and index: a mapping of their own, aligned to a huge page and advised for
/// transparent huge pages, so a million-flow table's lookups do not walk the page tables.
@Suite struct HugePageMemoryTests {
    @Test func aLargeTableIsAnAlignedMappingAdvisedForHugePages() throws {
        let hugePage = HugePageMemory.hugePageSize
        // Three huge pages and a bit: the mapping is rounded up to four.
        let capacity = (3 &* hugePage) / MemoryLayout<UInt64>.stride &+ 1
        let memory = HugePageMemory.allocate(UInt64.self, capacity: capacity)
        defer { HugePageMemory.deallocate(memory, capacity: capacity) }
        let address = UInt(bitPattern: memory)
        #expect(address % UInt(hugePage) == 0)
        memory.initialize(repeating: 7, count: capacity)
        #expect(memory[0] == 7 && memory[capacity - 1] == 7)

        let mapping = try #require(Self.mapping(containing: address), "no mapping holds \(address)")
        #expect(mapping.start <= address && mapping.end >= address &+ UInt(4 &* hugePage))
        if let mode = Self.transparentHugePagesMode, mode != "never" {
            #expect(mapping.flags.contains("hg"), "VmFlags \(mapping.flags) lack MADV_HUGEPAGE's hg (THP mode \(mode))")
        } else {
            print("not checking the advice: transparent huge pages are off or absent on this host")
        }
    }

    @Test func aSmallTableIsAPlainAllocation() {
        let memory = HugePageMemory.allocate(UInt64.self, capacity: 1_000)
        memory.initialize(repeating: 1, count: 1_000)
        #expect(memory[999] == 1)
        HugePageMemory.deallocate(memory, capacity: 1_000)
    }

    /// The selected mode in /sys/kernel/mm/transparent_hugepage/enabled ("always [madvise] never").
    static var transparentHugePagesMode: String? {
        guard let text = try? Files.readText("/sys/kernel/mm/transparent_hugepage/enabled"),
              let open = text.firstIndex(of: "["), let close = text.firstIndex(of: "]"), open < close else { return nil }
        return String(text[text.index(after: open)..<close])
    }

    /// The /proc/self/smaps entry whose range holds `address`: its bounds and VmFlags.
    static func mapping(containing address: UInt) -> (start: UInt, end: UInt, flags: [Substring])? {
        guard let text = try? Files.readText("/proc/self/smaps") else { return nil }
        var current: (start: UInt, end: UInt)?
        for line in text.split(separator: "\n") {
            if let range = line.split(separator: " ").first, range.contains("-"), !range.hasSuffix(":") {
                let bounds = range.split(separator: "-")
                if bounds.count == 2, let start = UInt(bounds[0], radix: 16), let end = UInt(bounds[1], radix: 16) {
                    current = start <= address && address < end ? (start, end) : nil
                    continue
                }
            }
            if let found = current, line.hasPrefix("VmFlags:") {
                return (found.start, found.end, line.dropFirst("VmFlags:".count).split(separator: " "))
            }
        }
        return nil
    }
}
