import CLinuxPacket
import DromosSystem
import DromosWire
import Glibc

struct TransmitCounters {
    var transmitted: UInt64 = 0
    var transmittedBytes: UInt64 = 0
    var calls: UInt64 = 0
    var ringFull: UInt64 = 0
    var queueFull: UInt64 = 0
    var tooLarge: UInt64 = 0

    func add(to statistics: inout AFPacketStatistics) {
        statistics.transmitted = transmitted
        statistics.transmittedBytes = transmittedBytes
        statistics.transmitCalls = calls
        statistics.transmitRingFull = ringFull
        statistics.transmitQueueFull = queueFull
        statistics.transmitTooLarge = tooLarge
    }
}

/// The TX side: a mapped TX ring, or a preallocated batch of messages for sendmmsg. Either way a frame
/// is copied behind a virtio_net_hdr (PACKET_VNET_HDR is on for the whole socket).
struct TransmitPath {
    let mode: AFPacketConfiguration.TransmitMode
    let version: AFPacketConfiguration.RingVersion
    let batchSize: Int
    // TX ring
    let ring: UnsafeMutableRawPointer
    let geometry: RingGeometry
    /// Where frame data starts in a slot: tp_hdrlen - sizeof(sockaddr_ll), what tpacket_snd reads.
    let dataOffset: Int
    let lengthOffset: Int
    var index = 0
    /// A send() returned "queue full": frames are still marked SEND_REQUEST and need another kick.
    var needsKick = false
    // sendmmsg
    let buffers: UnsafeMutableRawPointer?
    let messages: UnsafeMutablePointer<dromos_mmsghdr>?
    let vectors: UnsafeMutablePointer<iovec>?
    /// Bytes available for the vnet header plus the frame, per slot or buffer.
    let capacity: Int
    var pending = 0
    var counters = TransmitCounters()
    var lastError: SystemCallError? = nil

    init(configuration: AFPacketConfiguration, ring: UnsafeMutableRawPointer, geometry: RingGeometry) {
        mode = configuration.transmitMode
        version = configuration.version
        batchSize = configuration.transmitBatch
        self.ring = ring
        self.geometry = geometry
        if version == .v3 {
            dataOffset = Int(dromos_tpacket_align(UInt32(MemoryLayout<tpacket3_hdr>.size)))
            lengthOffset = MemoryLayout<tpacket3_hdr>.offset(of: \tpacket3_hdr.tp_len)!
        } else {
            dataOffset = Int(dromos_tpacket_align(UInt32(MemoryLayout<tpacket2_hdr>.size)))
            lengthOffset = MemoryLayout<tpacket2_hdr>.offset(of: \tpacket2_hdr.tp_len)!
        }
        if mode == .sendmmsg {
            capacity = configuration.frameSize
            let buffers = UnsafeMutableRawPointer.allocate(byteCount: batchSize * capacity, alignment: 64)
            let messages = UnsafeMutablePointer<dromos_mmsghdr>.allocate(capacity: batchSize)
            let vectors = UnsafeMutablePointer<iovec>.allocate(capacity: batchSize)
            for slot in 0..<batchSize {
                (vectors + slot).initialize(to: iovec(iov_base: buffers + slot * capacity, iov_len: 0))
                var message = dromos_mmsghdr()
                // The socket is bound, so no address: the frame goes out of the bound interface.
                message.msg_hdr.msg_iov = vectors + slot
                message.msg_hdr.msg_iovlen = 1
                (messages + slot).initialize(to: message)
            }
            self.buffers = buffers
            self.messages = messages
            self.vectors = vectors
        } else {
            capacity = configuration.frameSize - dataOffset
            buffers = nil
            messages = nil
            vectors = nil
        }
    }

    func deallocate() {
        buffers?.deallocate()
        messages?.deallocate()
        vectors?.deallocate()
    }

    @inline(__always)
    func statusWord(_ slot: UnsafeMutableRawPointer) -> UnsafeMutablePointer<UInt32> {
        version == .v3 ? dromos_v3_status_word(slot) : dromos_v2_status_word(slot)
    }

    /// Timestamp flags may be set on a slot the kernel has finished with; they do not mean "busy".
    static let timestampBits = UInt32(TP_STATUS_TS_SOFTWARE) | UInt32(TP_STATUS_TS_SYS_HARDWARE) | UInt32(TP_STATUS_TS_RAW_HARDWARE)

    mutating func transmit(_ frame: UnsafeRawBufferPointer, offload: PacketOffload, socket: Int32) -> Bool {
        let total = frame.count &+ PacketOffload.wireSize
        guard total <= capacity, let source = frame.baseAddress else {
            counters.tooLarge &+= 1
            return false
        }
        var offload = offload
        if !offload.isSegmented {
            // hdr_len is how much the kernel copies into the skb's linear part; the rest it attaches
            // as page fragments (ring pages for the TX ring, fresh pages for sendmmsg), which the
            // receiving stack must pull into the head again. A whole frame up front is cheaper: measured
            // 1,478 → 1,038 CPU ns per forwarded 64-byte frame (docs/ARCHITECTURE.md).
            offload.headerLength = UInt16(truncatingIfNeeded: frame.count)
        }
        switch mode {
        case .ring:
            let slot = geometry.frame(index, in: ring)
            let status = statusWord(slot)
            if dromos_load_acquire_u32(status) & ~Self.timestampBits != UInt32(TP_STATUS_AVAILABLE) {
                // Full: push what is queued (on veth and most NICs slots come back during the call).
                flush(socket: socket)
                guard dromos_load_acquire_u32(status) & ~Self.timestampBits == UInt32(TP_STATUS_AVAILABLE) else {
                    counters.ringFull &+= 1
                    return false
                }
            }
            let data = slot + dataOffset
            offload.write(to: data)
            (data + PacketOffload.wireSize).copyMemory(from: source, byteCount: frame.count)
            (slot + lengthOffset).storeBytes(of: UInt32(total), as: UInt32.self)
            if version == .v3 {
                // Fixed-size frames only: the kernel rejects a V3 TX frame with a next offset.
                slot.storeBytes(of: UInt32(0), as: UInt32.self)
            }
            dromos_store_release_u32(status, UInt32(TP_STATUS_SEND_REQUEST))
            index = index &+ 1 == geometry.frameCount ? 0 : index &+ 1
            counters.transmitted &+= 1
            counters.transmittedBytes &+= UInt64(frame.count)
            pending &+= 1
        case .sendmmsg:
            let buffer = buffers! + pending &* capacity
            offload.write(to: buffer)
            (buffer + PacketOffload.wireSize).copyMemory(from: source, byteCount: frame.count)
            vectors![pending].iov_len = total
            pending &+= 1
        }
        if pending >= batchSize { flush(socket: socket) }
        return true
    }

    mutating func flush(socket: Int32) {
        switch mode {
        case .ring:
            guard pending > 0 || needsKick else { return }
            pending = 0
            counters.calls &+= 1
            do throws(SystemCallError) {
                // One call sends every frame marked SEND_REQUEST; MSG_DONTWAIT so the loop never blocks.
                let sent = try Syscall.callNonBlocking("send") { Int(send(socket, nil, 0, Int32(MSG_DONTWAIT))) }
                needsKick = sent == nil
            } catch {
                lastError = error
                needsKick = false
            }
        case .sendmmsg:
            var sent = 0
            // Bounded: each round sends at least one message or gives up on the rest.
            while sent < pending {
                counters.calls &+= 1
                do throws(SystemCallError) {
                    let count = try Syscall.callNonBlocking("sendmmsg") {
                        Int(dromos_sendmmsg(socket, messages! + sent, UInt32(pending &- sent), Int32(MSG_DONTWAIT)))
                    }
                    guard let count, count > 0 else {
                        counters.queueFull &+= UInt64(pending &- sent)
                        break
                    }
                    for message in sent..<(sent &+ count) {
                        counters.transmittedBytes &+= UInt64(vectors![message].iov_len &- PacketOffload.wireSize)
                    }
                    counters.transmitted &+= UInt64(count)
                    sent &+= count
                } catch {
                    // The first message was refused (e.g. malformed offload): skip it, keep the rest.
                    lastError = error
                    sent &+= 1
                }
            }
            pending = 0
        }
    }
}

extension AFPacketPort {
    /// Queues a copy of `frame` (after its vnet header carrying `offload`) and sends the queue when a
    /// batch is full. False when the frame could not be queued (ring full, too large): counted in the
    /// statistics, never silent. A `ReceivedFrame` may be passed from inside a `receive` body.
    @discardableResult
    public func transmit(_ frame: UnsafeRawBufferPointer, offload: PacketOffload = .none) -> Bool {
        tx.transmit(frame, offload: offload, socket: descriptor.rawValue)
    }

    @discardableResult
    public func transmit(_ frame: ReceivedFrame) -> Bool {
        tx.transmit(UnsafeRawBufferPointer(frame.bytes), offload: frame.offload, socket: descriptor.rawValue)
    }

    /// Sends what is queued: call at the end of each batch. Errors other than "queue full" are kept
    /// in `lastTransmitError` and counted by the kernel.
    public func flush() {
        tx.flush(socket: descriptor.rawValue)
    }
}
