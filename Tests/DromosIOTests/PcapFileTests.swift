import Foundation
import Testing
import DromosDatapath
import DromosIO
import DromosSystem

/// Each test gets its own directory of capture files, removed when the test ends.
@Suite final class PcapFileTests {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("dromos-io-\(UUID().uuidString)")

    init() throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(at: directory)
    }

    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    func readAll(_ path: String) throws -> [(bytes: [UInt8], wireLength: Int, nanoseconds: Int64)] {
        let reader = try PcapFileReader(path: path)
        var frames: [(bytes: [UInt8], wireLength: Int, nanoseconds: Int64)] = []
        try reader.forEachFrame { frame in
            frames.append((Array(frame.bytes), frame.wireLength, frame.timestampNanoseconds))
        }
        return frames
    }

    @Test func writesAndReadsFramesBackExactly() throws {
        let file = path("round-trip.pcap")
        let frames: [[UInt8]] = [Array(0..<64), Array(repeating: 0xab, count: 1514), [0x01]]
        do {
            let writer = try PcapFileWriter(path: file)
            for (index, frame) in frames.enumerated() {
                frame.withUnsafeBytes { writer.write($0, timestampNanoseconds: 1_700_000_000_123_456_789 + Int64(index)) }
            }
            // A frame captured with a snaplen: 54 bytes kept of 1514.
            frames[1].prefix(54).withUnsafeBytes { writer.write($0, wireLength: 1514) }
            try writer.flush()
        }
        let read = try readAll(file)
        #expect(read.count == 4)
        #expect(read.prefix(3).map(\.bytes) == frames)
        #expect(read[0].nanoseconds == 1_700_000_000_123_456_789)
        #expect(read[2].nanoseconds == 1_700_000_000_123_456_791)
        #expect(read[3].bytes.count == 54)
        #expect(read[3].wireLength == 1514)
        #expect(try PcapFileReader(path: file).linkType == PcapFileReader.ethernetLinkType)
        try PcapFileReader(path: file).requireEthernet()
    }

    @Test func readsPcapng() throws {
        // One section, one Ethernet interface, one enhanced packet block holding 14 bytes.
        let pcapng: [UInt8] = [
            0x0a, 0x0d, 0x0d, 0x0a, 28, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0,
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 28, 0, 0, 0,
            1, 0, 0, 0, 20, 0, 0, 0, 1, 0, 0, 0, 0, 0, 4, 0, 20, 0, 0, 0,
            6, 0, 0, 0, 48, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 14, 0, 0, 0, 60, 0, 0, 0,
            2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00, 0, 0, 48, 0, 0, 0,
        ]
        let file = path("one.pcapng")
        try Data(pcapng).write(to: URL(fileURLWithPath: file))
        let read = try readAll(file)
        #expect(read.count == 1)
        #expect(read[0].bytes == [2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00])
        #expect(read[0].wireLength == 60)
    }

    @Test func refusesOtherLinkTypesWithTheFix() throws {
        let file = path("any.pcap")
        do {
            let writer = try PcapFileWriter(path: file, linkType: 113)
            [UInt8](repeating: 0, count: 16).withUnsafeBytes { writer.write($0) }
        }
        let error = #expect(throws: CaptureError.self) { try PcapFileReader(path: file).requireEthernet() }
        #expect(error?.reason.contains("LINUX_SLL") == true)
        #expect(error?.reason.contains("is not Ethernet") == true)
        #expect(error?.reason.contains("not -i any") == true)
    }

    @Test func deliversEveryWholeFrameOfACutFileThenFails() throws {
        let file = path("cut.pcap")
        do {
            let writer = try PcapFileWriter(path: file)
            for length in [60, 70, 80] {
                [UInt8](repeating: 7, count: length).withUnsafeBytes { writer.write($0) }
            }
        }
        var data = try Data(contentsOf: URL(fileURLWithPath: file))
        data.removeLast(10)
        try data.write(to: URL(fileURLWithPath: file))
        var lengths: [Int] = []
        let error = #expect(throws: CaptureError.self) {
            try PcapFileReader(path: file).forEachFrame { lengths.append($0.bytes.count) }
        }
        #expect(lengths == [60, 70])
        #expect(error?.path == file)
        #expect(error?.reason.contains("truncated") == true)
    }

    @Test func namesTheFileWhenItCannotBeRead() throws {
        let missing = path("missing.pcap")
        let error = #expect(throws: CaptureError.self) { try PcapFileReader(path: missing) }
        #expect(error?.description.hasPrefix(missing + ": ") == true)

        let notACapture = path("text.pcap")
        try Data("hello, world, this is not a capture".utf8).write(to: URL(fileURLWithPath: notACapture))
        #expect(throws: CaptureError.self) { try PcapFileReader(path: notACapture) }
    }

    @Test func stopsWhenTheBodyThrows() throws {
        struct Stop: Error {}
        let file = path("stop.pcap")
        do {
            let writer = try PcapFileWriter(path: file)
            for _ in 0..<5 { [UInt8](repeating: 1, count: 60).withUnsafeBytes { writer.write($0) } }
        }
        var seen = 0
        #expect(throws: Stop.self) {
            try PcapFileReader(path: file).forEachFrame { _ in
                seen += 1
                if seen == 2 { throw Stop() }
            }
        }
        #expect(seen == 2)
    }
}
