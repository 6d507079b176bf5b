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
        var statuses: [ParseStatus: Int] = [:]
        var unreadable: [String] = []
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
                    let before = dromos_thread_allocation_count()
                    let parsed = FrameParser.parse(frame.bytes, wireLength: frame.wireLength)
                    // Every shorter capture of the same frame, as a ring slot or snaplen could cut it.
                    let limit = min(frame.bytes.count, 160)
                    for length in 0..<limit {
                        let cut = UnsafeRawBufferPointer(rebasing: frame.bytes[0..<length])
                        let partial = FrameParser.parse(cut, wireLength: frame.wireLength)
                        precondition(partial.capturedLength == length)
                    }
                    allocations += dromos_thread_allocation_count() - before
                    truncations += limit
                    statuses[parsed.status, default: 0] += 1
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
        #expect(unreadable.isEmpty, "\(unreadable)")
        #expect(statuses[.ok, default: 0] > 8_000)
    }
}
