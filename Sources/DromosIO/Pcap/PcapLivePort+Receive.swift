import CPcap
import DromosSystem
import DromosWire

/// Where the pcap_dispatch callback leaves one frame, passed through its `user` pointer: it lives on
/// the stack of `receive`. The callback only copies; the body runs in `receive` (see there why).
struct PcapFrameSlot {
    let scratch: UnsafeMutableRawPointer
    let capacity: Int
    /// Bytes copied into `scratch`, or -1: no frame, or one cut by the snapshot length.
    var captured = -1
    var length = 0
    var seconds = 0
    var fraction = 0
    var truncated: UInt64 = 0

    /// One frame: copied out of libpcap's read-only ring (the slot goes back to the kernel when the
    /// callback returns) into the port's scratch buffer.
    static func copy(_ user: UnsafeMutablePointer<UInt8>?, _ header: UnsafePointer<pcap_pkthdr>?,
                     _ data: UnsafePointer<UInt8>?) {
        guard let user, let header, let data else { return }
        let slot = UnsafeMutableRawPointer(user).assumingMemoryBound(to: PcapFrameSlot.self)
        let captured = Int(header.pointee.caplen)
        let length = Int(header.pointee.len)
        guard captured == length, captured <= slot.pointee.capacity else {
            // Cut by the snapshot length: never handed over, so never forwarded short.
            slot.pointee.truncated &+= 1
            return
        }
        slot.pointee.scratch.copyMemory(from: data, byteCount: captured)
        slot.pointee.captured = captured
        slot.pointee.length = length
        slot.pointee.seconds = Int(header.pointee.ts.tv_sec)
        slot.pointee.fraction = Int(header.pointee.ts.tv_usec)
    }
}

extension PcapLivePort {
    /// Hands up to `budget` frames to `body` and returns how many it handed over (0 when none was
    /// ready: then `waitForFrames`). Each frame is a copy in the port's scratch buffer, valid until
    /// the body returns; it may be rewritten in place and passed to `transmit` of any port. No
    /// allocation, and no system call while the ring has frames. `body` must not call `receive` on
    /// the same port.
    ///
    /// One non-blocking pcap_dispatch per frame (count 1), the body called between them: calling a
    /// Swift closure from inside the C callback of one batched dispatch needs the closure in memory
    /// behind the `user` pointer, i.e. `withoutActuallyEscaping`, which costs a heap allocation per
    /// call in debug builds (measured: one per `receive`). The per-frame work of libpcap's mmap read
    /// is the same either way (check the slot, call back, hand the slot back); the ring is read
    /// without a system call, and only a dispatch that finds it empty polls it (timeout 0).
    public func receive(budget: Int, _ body: (inout ReceivedFrame) -> Void) -> Int {
        let handle = self.handle
        var slot = PcapFrameSlot(scratch: scratch, capacity: configuration.snapshotLength)
        var handed = 0
        var bytes: UInt64 = 0
        var attempts = 0
        while attempts < budget {
            attempts &+= 1
            slot.captured = -1
            let result = withUnsafeMutablePointer(to: &slot) { pointer in
                pcap_dispatch(handle, 1, { user, header, data in PcapFrameSlot.copy(user, header, data) },
                              UnsafeMutableRawPointer(pointer).assumingMemoryBound(to: UInt8.self))
            }
            if result <= 0 {
                if result < 0 && result != PCAP_ERROR_BREAK { recordReceiveError() }
                break
            }
            guard slot.captured >= 0 else { continue }
            handed &+= 1
            bytes &+= UInt64(slot.captured)
            var frame = ReceivedFrame(
                bytes: UnsafeMutableRawBufferPointer(start: slot.scratch, count: slot.captured), wireLength: slot.length,
                offload: .none,
                timestampNanoseconds: Int64(slot.seconds) &* 1_000_000_000 &+ Int64(slot.fraction) &* nanosecondsPerTick,
                // PCAP_D_IN leaves only received frames; libpcap does not say which kind (host, broadcast…).
                packetType: 0)
            body(&frame)
        }
        rx.received &+= UInt64(handed)
        rx.receivedBytes &+= bytes
        rx.truncated &+= slot.truncated
        return handed
    }
}
