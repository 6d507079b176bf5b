import CLinuxPacket
import DromosSystem
import DromosWire

/// RX counters kept beside the ring state (not in the port's statistics) so that a `transmit` from
/// inside a `receive` body never writes the same struct the receive loop holds.
struct ReceiveCounters {
    var received: UInt64 = 0
    var receivedBytes: UInt64 = 0
    var truncated: UInt64 = 0
    var vlanReinserted: UInt64 = 0
    var partialChecksum: UInt64 = 0
    var superFrames: UInt64 = 0
    var checksumsCompleted: UInt64 = 0

    func add(to statistics: inout AFPacketStatistics) {
        statistics.received = received
        statistics.receivedBytes = receivedBytes
        statistics.truncated = truncated
        statistics.vlanReinserted = vlanReinserted
        statistics.partialChecksum = partialChecksum
        statistics.superFrames = superFrames
        statistics.checksumsCompleted = checksumsCompleted
    }
}

/// The RX ring's consumer state. V3: the block being read, the next frame in it and how many are
/// left; V2: the next slot.
struct ReceiveRing {
    let base: UnsafeMutableRawPointer
    let geometry: RingGeometry
    let version: AFPacketConfiguration.RingVersion
    let completeChecksums: Bool
    /// Where the kernel's frame header plus sockaddr_ll end; the VLAN tag must go after this.
    let headerLength: Int
    /// Where sll_pkttype sits in a frame: sockaddr_ll follows the aligned tpacket header.
    let packetTypeOffset: Int
    var index = 0
    var framesLeftInBlock = 0
    var cursor: UnsafeMutableRawPointer? = nil
    var counters = ReceiveCounters()

    init(base: UnsafeMutableRawPointer, geometry: RingGeometry, version: AFPacketConfiguration.RingVersion, completeChecksums: Bool) {
        self.base = base
        self.geometry = geometry
        self.version = version
        self.completeChecksums = completeChecksums
        headerLength = Int(version == .v3 ? dromos_tpacket3_hdrlen() : dromos_tpacket2_hdrlen())
        packetTypeOffset = headerLength - MemoryLayout<sockaddr_ll>.size + MemoryLayout<sockaddr_ll>.offset(of: \sockaddr_ll.sll_pkttype)!
    }

    mutating func receive(budget: Int, _ body: (inout ReceivedFrame) -> Void) -> Int {
        version == .v3 ? receiveV3(budget: budget, body) : receiveV2(budget: budget, body)
    }

    /// Walks retired blocks frame by frame; a block goes back to the kernel once all its frames were
    /// handed over, so a budget can end in the middle of a block and the next call resumes there.
    mutating func receiveV3(budget: Int, _ body: (inout ReceivedFrame) -> Void) -> Int {
        var handled = 0
        while handled < budget {
            if framesLeftInBlock == 0 {
                let block = base + index &* geometry.blockSize
                guard dromos_load_acquire_u32(dromos_block_status_word(block)) & UInt32(TP_STATUS_USER) != 0 else { break }
                let header = block.load(as: tpacket_block_desc.self).hdr.bh1
                framesLeftInBlock = Int(header.num_pkts)
                cursor = block + Int(header.offset_to_first_pkt)
                if framesLeftInBlock == 0 {
                    releaseBlock(block)
                    continue
                }
            }
            guard let frame = cursor else { break }
            let header = frame.load(as: tpacket3_hdr.self)
            deliver(frame, status: header.tp_status, length: header.tp_len, snapLength: header.tp_snaplen,
                    macOffset: header.tp_mac, vlanTCI: UInt16(truncatingIfNeeded: header.hv1.tp_vlan_tci), vlanTPID: header.hv1.tp_vlan_tpid,
                    seconds: header.tp_sec, nanoseconds: header.tp_nsec, body)
            handled &+= 1
            framesLeftInBlock &-= 1
            if framesLeftInBlock == 0 {
                releaseBlock(base + index &* geometry.blockSize)
            } else {
                cursor = frame + Int(header.tp_next_offset)
            }
        }
        return handled
    }

    @inline(__always)
    mutating func releaseBlock(_ block: UnsafeMutableRawPointer) {
        dromos_store_release_u32(dromos_block_status_word(block), UInt32(TP_STATUS_KERNEL))
        cursor = nil
        index = index &+ 1 == geometry.blockCount ? 0 : index &+ 1
    }

    /// One slot per frame, each with its own status word: nothing waits for a block to fill.
    mutating func receiveV2(budget: Int, _ body: (inout ReceivedFrame) -> Void) -> Int {
        var handled = 0
        let frameCount = geometry.frameCount
        while handled < budget {
            let frame = geometry.frame(index, in: base)
            let status = dromos_v2_status_word(frame)
            guard dromos_load_acquire_u32(status) & UInt32(TP_STATUS_USER) != 0 else { break }
            let header = frame.load(as: tpacket2_hdr.self)
            deliver(frame, status: header.tp_status, length: header.tp_len, snapLength: header.tp_snaplen,
                    macOffset: header.tp_mac, vlanTCI: header.tp_vlan_tci, vlanTPID: header.tp_vlan_tpid,
                    seconds: header.tp_sec, nanoseconds: header.tp_nsec, body)
            dromos_store_release_u32(status, UInt32(TP_STATUS_KERNEL))
            index = index &+ 1 == frameCount ? 0 : index &+ 1
            handled &+= 1
        }
        return handled
    }

    /// Turns one ring frame into the wire frame and hands it to `body`.
    @inline(__always)
    mutating func deliver(_ frame: UnsafeMutableRawPointer, status: UInt32, length: UInt32, snapLength: UInt32,
                          macOffset: UInt16, vlanTCI: UInt16, vlanTPID: UInt16, seconds: UInt32, nanoseconds: UInt32,
                          _ body: (inout ReceivedFrame) -> Void) {
        // A frame larger than the slot holds only a prefix (TP_STATUS_COPY with a copy threshold,
        // otherwise just snaplen < len): forwarding it would send a cut frame, so it is counted only.
        guard snapLength >= length, status & UInt32(TP_STATUS_COPY) == 0 else {
            counters.truncated &+= 1
            return
        }
        // Read before the VLAN tag goes in (it is written past sockaddr_ll anyway, see below).
        let packetType = frame.load(fromByteOffset: packetTypeOffset, as: UInt8.self)
        var start = frame + Int(macOffset)
        var count = Int(snapLength)
        // PACKET_VNET_HDR: the kernel wrote virtio_net_hdr right before the frame. Read it first:
        // the VLAN tag below goes into the same bytes.
        var offload = PacketOffload(readingFrom: start - PacketOffload.wireSize)
        if status & UInt32(TP_STATUS_VLAN_VALID) != 0 {
            // Room for the tag: tpacket_rcv puts the frame at netoff - maclen, where netoff is at least
            // TPACKET_ALIGN(header length + max(maclen, 16)) + the vnet header (10), so tp_mac is at least
            // header length + 10 (+ 2 more when maclen < 16). The 4 bytes before tp_mac are therefore
            // inside this frame's own area, past its tpacket header and sockaddr_ll, which we have read.
            // The check costs one compare and keeps the proof honest if the kernel ever changes.
            guard Int(macOffset) &- 4 >= headerLength else {
                counters.truncated &+= 1
                return
            }
            let tpid: UInt16 = status & UInt32(TP_STATUS_VLAN_TPID_VALID) != 0 ? vlanTPID : 0x8100
            // Move both MACs 4 bytes towards the headroom and write TPID and TCI behind them.
            (start - 4).copyMemory(from: start, byteCount: 12)
            start -= 4
            (start + 12).storeBytes(of: tpid.bigEndian, as: UInt16.self)
            (start + 14).storeBytes(of: vlanTCI.bigEndian, as: UInt16.self)
            count &+= 4
            // The kernel's offsets counted from the untagged frame.
            if offload.needsChecksum { offload.checksumStart &+= 4 }
            if offload.isSegmented { offload.headerLength &+= 4 }
            counters.vlanReinserted &+= 1
        }
        let bytes = UnsafeMutableRawBufferPointer(start: start, count: count)
        if offload.needsChecksum {
            counters.partialChecksum &+= 1
            if offload.isSegmented {
                counters.superFrames &+= 1
            } else if completeChecksums,
                      PartialChecksum.complete(bytes, start: Int(offload.checksumStart), offset: Int(offload.checksumOffset)) {
                offload.flags &= ~UInt8(VIRTIO_NET_HDR_F_NEEDS_CSUM)
                counters.checksumsCompleted &+= 1
            }
        } else if offload.isSegmented {
            counters.superFrames &+= 1
        }
        counters.received &+= 1
        counters.receivedBytes &+= UInt64(count)
        var received = ReceivedFrame(bytes: bytes, wireLength: count, offload: offload,
                                     timestampNanoseconds: Int64(seconds) &* 1_000_000_000 &+ Int64(nanoseconds),
                                     packetType: packetType)
        body(&received)
    }
}

extension AFPacketPort {
    /// Hands up to `budget` ready frames to `body`, in ring order, and returns how many it handed
    /// over (0 when none was ready: then `waitForFrames`). No allocation, no system call. `body` must
    /// not call `receive` on the same port.
    public func receive(budget: Int, _ body: (inout ReceivedFrame) -> Void) -> Int {
        rx.receive(budget: budget, body)
    }
}
