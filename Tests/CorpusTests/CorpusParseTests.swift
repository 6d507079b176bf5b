import CAllocationCounter
import DromosIO
import DromosWire
import Foundation
import Testing

/// Every frame of the tcpdump corpus (real traffic and crash reproducers for other parsers) goes
/// through the parser: whole, and cut at every length, with the heap watched.
@Suite(.enabled(if: Corpus.isPresent, Corpus.missingReason))
struct CorpusParseTests {
    @Test func parsesEveryFrameAndEveryTruncationWithoutAllocating() throws {
        var frames = 0
        var truncations = 0
        var allocations: UInt64 = 0
        var offsetsBeyondCapture: [String] = []
        var statuses: [ParseStatus: Int] = [:]
        var unreadable: [String] = []
        let guarded = GuardedBuffer(capacity: 262_144)
        // One uncounted pass first: the first parse to reach a code path may make the Swift runtime set up
        // type metadata or a conformance cache (once per process, on whichever thread gets there first,
        // which with tests in parallel is a race). That is the runtime's one-time work, not the parser's.
        for file in Corpus.files {
            guard let reader = try? PcapFileReader(path: file.path), (try? reader.requireEthernet()) != nil else { continue }
            try? reader.forEachFrame { frame in _ = FrameParser.parse(guarded.place(frame.bytes), wireLength: frame.wireLength) }
        }
        for file in Corpus.files {
            let reader: PcapFileReader
            do {
                reader = try PcapFileReader(path: file.path)
                try reader.requireEthernet()
            } catch {
                unreadable.append("\(error)")
                continue
            }
            do {
                try reader.forEachFrame { frame in
                    frames += 1
                    let whole = guarded.place(frame.bytes)
                    let before = dromos_thread_allocation_count()
                    let parsed = FrameParser.parse(whole, wireLength: frame.wireLength)
                    allocations += dromos_thread_allocation_count() - before
                    statuses[parsed.status, default: 0] += 1
                    // Every shorter capture of the same frame, as a ring slot or snaplen could cut it, each
                    // ending right at the guard page: one byte read past the cut would fault.
                    for length in 0..<min(frame.bytes.count, 160) {
                        let cut = guarded.place(UnsafeRawBufferPointer(rebasing: frame.bytes[0..<length]))
                        let partial = FrameParser.parse(cut, wireLength: frame.wireLength)
                        truncations += 1
                        if partial.status == .ok && partial.l3 != .none
                            && (partial.l3Offset > length || (partial.l3 != .arp && partial.l4Offset > length)) {
                            offsetsBeyondCapture.append("\(file.lastPathComponent)#\(frames) cut at \(length)")
                        }
                    }
                }
            } catch {
                unreadable.append("\(error)")
            }
        }
        let summary = statuses.sorted { $0.value > $1.value }.map { "\($0.key.name)=\($0.value)" }.joined(separator: " ")
        print("corpus: \(Corpus.files.count) files, \(frames) frames, \(truncations) truncations; \(summary)")
        #expect(Corpus.files.count == 477)
        #expect(frames > 8_000)
        #expect(allocations == 0)
        #expect(offsetsBeyondCapture.isEmpty, "\(offsetsBeyondCapture.prefix(20))")
        #expect(unreadable.isEmpty, "\(unreadable)")
        #expect(statuses[.ok, default: 0] > 8_000)
    }
}

/// Memory whose usable part ends at an inaccessible page. A frame copied to the very end of it cannot
/// be read past without a fault, which turns a silent over-read into a crashed test.
final class GuardedBuffer {
    private let base: UnsafeMutableRawPointer
    private let usable: Int
    private let page: Int

    init(capacity: Int) {
        page = Int(sysconf(Int32(_SC_PAGESIZE)))
        usable = (capacity + page - 1) / page * page
        guard let mapped = mmap(nil, usable + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
              mapped != MAP_FAILED,
              mprotect(mapped + usable, page, PROT_NONE) == 0 else {
            fatalError("cannot map a guarded buffer: errno \(errno)")
        }
        base = mapped
    }

    deinit {
        munmap(base, usable + page)
    }

    func place(_ bytes: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        precondition(bytes.count <= usable)
        let start = base + (usable - bytes.count)
        if let source = bytes.baseAddress { start.copyMemory(from: source, byteCount: bytes.count) }
        return UnsafeRawBufferPointer(start: start, count: bytes.count)
    }
}
