import DromosDatapath
import DromosIO
import DromosSystem
import DromosLab
import DromosWire
import Foundation

/// Small rings so that many sockets fit; 2 KiB slots hold every test frame. Many small blocks: a V3
/// block retires after 1 ms however few frames it holds, so the number of blocks, not bytes, is what
/// absorbs a consumer's pause.
func testConfiguration(_ interface: String, version: AFPacketConfiguration.RingVersion = .v3,
                       transmit: AFPacketConfiguration.TransmitMode = .ring) -> AFPacketConfiguration {
    var configuration = AFPacketConfiguration(interface: interface)
    configuration.version = version
    configuration.blockSize = 1 << 16
    configuration.blockCount = 32
    configuration.frameSize = 2_048
    configuration.transmitBlockCount = 16
    configuration.transmitMode = transmit
    return configuration
}

/// Frames from `Generator` (by source MAC 02:dd:00:00:00:01), whatever else the link carries. Byte by
/// byte: zip/allSatisfy allocate in debug builds, and the allocation test runs this per frame.
func isGenerated(_ bytes: UnsafeMutableRawBufferPointer) -> Bool {
    bytes.count >= 14 && bytes[6] == 0x02 && bytes[7] == 0xdd && bytes[8] == 0 && bytes[9] == 0 && bytes[10] == 0 && bytes[11] == 1
}

extension PacketPort {
    /// Forwards generated frames until the first batch went through (or `seconds` passed), so that
    /// one-time runtime work is done before an allocation count starts. Returns the frames forwarded.
    func warmUpForwarding(seconds: Double = 20) -> Int {
        var frames = 0
        let deadline = monotonicNanoseconds() + Int64(seconds * 1e9)
        while frames == 0 && monotonicNanoseconds() < deadline {
            _ = receive(budget: 64) { frame in
                guard isGenerated(frame.bytes) else { return }
                frames += 1
                transmit(frame)
            }
            flush()
            _ = try? waitForFrames(timeoutMilliseconds: 5)
        }
        // The loops after this read the kernel's figures and rewrite MACs too: their first calls may set
        // up runtime metadata (once per process, on whichever thread gets there first), so make them here.
        refreshKernelStatistics()
        _ = MACRewrite.apply(to: UnsafeMutableRawBufferPointer(start: nil, count: 0), destination: .broadcast, source: .broadcast)
        return frames
    }

    /// Receives until `count` generated frames arrived or `seconds` passed; `body` sees only those.
    @discardableResult
    func collect(_ count: Int, seconds: Double, _ body: (inout ReceivedFrame) -> Void = { _ in }) -> (frames: Int, bytes: Int) {
        var frames = 0
        var bytes = 0
        let deadline = monotonicNanoseconds() + Int64(seconds * 1e9)
        while frames < count && monotonicNanoseconds() < deadline {
            let handled = receive(budget: 64) { frame in
                guard isGenerated(frame.bytes) else { return }
                frames += 1
                bytes += frame.bytes.count
                body(&frame)
            }
            if handled == 0 { _ = try? waitForFrames(timeoutMilliseconds: 5) }
        }
        return (frames, bytes)
    }
}

/// A generated-looking Ethernet/IPv4/UDP frame built in Swift, `sequence` in the payload.
func udpFrame(size: Int, sequence: Int, sourcePort: UInt16 = 10000) -> [UInt8] {
    var frame = Generator.destinationMAC + Generator.sourceMAC + [0x08, 0x00]
    let udpLength = size - 14 - 20
    frame += [0x45, 0, UInt8((20 + udpLength) >> 8), UInt8((20 + udpLength) & 0xff), 0, 0, 0, 0, 64, 17, 0, 0,
              198, 18, 0, 1, 198, 18, 0, 2]
    frame += [UInt8(sourcePort >> 8), UInt8(sourcePort & 0xff), 0x4e, 0x20, UInt8(udpLength >> 8), UInt8(udpLength & 0xff), 0, 0]
    frame += (0..<(udpLength - 8)).map { UInt8(truncatingIfNeeded: $0 &+ sequence) }
    return frame
}

/// Verifies a TCP or UDP checksum over IPv4 or IPv6 from scratch (pseudo-header + segment), independent
/// of the port's code: true when the sum over everything, checksum included, is 0xffff.
func transportChecksumIsValid(_ bytes: UnsafeRawBufferPointer) -> Bool? {
    let parsed = FrameParser.parse(bytes)
    guard parsed.status == .ok, parsed.ipProtocol == 6 || parsed.ipProtocol == 17, parsed.fragment == .none else { return nil }
    let segment = Array(bytes[parsed.l4Offset..<parsed.l3End])
    var words: [UInt32] = []
    func add(_ data: [UInt8]) {
        var index = 0
        while index + 1 < data.count { words.append(UInt32(data[index]) << 8 | UInt32(data[index + 1])); index += 2 }
        if index < data.count { words.append(UInt32(data[index]) << 8) }
    }
    let l3 = Array(bytes[parsed.l3Offset..<parsed.l3End])
    if parsed.l3 == .ipv4 {
        add(Array(l3[12..<20]))
    } else {
        add(Array(l3[8..<40]))
    }
    words.append(UInt32(parsed.ipProtocol))
    words.append(UInt32(segment.count >> 16))
    words.append(UInt32(segment.count & 0xffff))
    add(segment)
    var sum = words.reduce(UInt64(0)) { $0 + UInt64($1) }
    while sum > 0xffff { sum = (sum & 0xffff) + (sum >> 16) }
    return sum == 0xffff
}
