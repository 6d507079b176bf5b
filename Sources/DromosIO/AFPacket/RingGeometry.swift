import CLinuxPacket
import DromosSystem
import DromosWire

/// Where blocks and frames sit in a mapped ring. Frames never span blocks, so frame `i` is in block
/// `i / framesPerBlock`.
struct RingGeometry {
    let blockSize: Int
    let blockCount: Int
    let frameSize: Int

    var framesPerBlock: Int { blockSize / frameSize }
    var frameCount: Int { framesPerBlock * blockCount }
    var byteCount: Int { blockSize * blockCount }

    @inline(__always)
    func frame(_ index: Int, in base: UnsafeMutableRawPointer) -> UnsafeMutableRawPointer {
        let (block, slot) = index.quotientAndRemainder(dividingBy: framesPerBlock)
        return base + (block &* blockSize &+ slot &* frameSize)
    }

    func validate(_ name: String, pageSize: Int) throws(AFPacketError) {
        guard blockCount > 0, blockSize > 0, blockSize % pageSize == 0 else {
            throw .invalidConfiguration("\(name): block size \(blockSize) must be a positive multiple of the page size \(pageSize), block count \(blockCount) positive")
        }
        guard frameSize >= 128, frameSize % Int(TPACKET_ALIGNMENT) == 0, frameSize <= blockSize else {
            throw .invalidConfiguration("\(name): frame size \(frameSize) must be a multiple of \(TPACKET_ALIGNMENT), at least 128 and at most the block size \(blockSize)")
        }
    }

    var request: tpacket_req {
        tpacket_req(tp_block_size: UInt32(blockSize), tp_block_nr: UInt32(blockCount),
                    tp_frame_size: UInt32(frameSize), tp_frame_nr: UInt32(frameCount))
    }

    func request3(retireTimeoutMilliseconds: Int) -> tpacket_req3 {
        tpacket_req3(tp_block_size: UInt32(blockSize), tp_block_nr: UInt32(blockCount),
                     tp_frame_size: UInt32(frameSize), tp_frame_nr: UInt32(frameCount),
                     tp_retire_blk_tov: UInt32(retireTimeoutMilliseconds), tp_sizeof_priv: 0, tp_feature_req_word: 0)
    }
}
