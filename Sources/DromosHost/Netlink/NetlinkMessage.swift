import DromosBalancer
import DromosConfig
import DromosIO
import DromosSystem
import DromosWire

/// Numbers from `linux/netlink.h`, `linux/rtnetlink.h`, `linux/if_addr.h` and `linux/neighbour.h`: kernel
/// ABI, stable, and not all exported by Glibc's module.
enum Netlink {
    static let headerLength = 16
    static let done: UInt16 = 3
    static let error: UInt16 = 2

    static let request: UInt16 = 0x1
    static let multi: UInt16 = 0x2
    static let acknowledge: UInt16 = 0x4
    static let dump: UInt16 = 0x300
    static let replace: UInt16 = 0x100
    static let exclusive: UInt16 = 0x200
    static let create: UInt16 = 0x400

    static let newLink: UInt16 = 16
    static let getLink: UInt16 = 18
    static let newAddress: UInt16 = 20
    static let deleteAddress: UInt16 = 21
    static let getAddress: UInt16 = 22
    static let newNeighbor: UInt16 = 28
    static let getNeighbor: UInt16 = 30

    /// Attribute types carry two flag bits above the type proper.
    static let attributeTypeMask: UInt16 = 0x3fff

    static func aligned(_ length: Int) -> Int { (length + 3) & ~3 }
}

/// One request: the netlink header's type and flags, the family's fixed header (`ifaddrmsg`, `ndmsg`)
/// and attributes. Netlink is in host byte order.
struct NetlinkRequest {
    var type: UInt16
    var flags: UInt16
    var fixedHeader: [UInt8]
    var attributes: [(type: UInt16, value: [UInt8])] = []

    func bytes(sequence: UInt32) -> [UInt8] {
        var body = fixedHeader
        body += [UInt8](repeating: 0, count: Netlink.aligned(body.count) - body.count)
        for attribute in attributes {
            body += hostBytes(UInt16(4 + attribute.value.count)) + hostBytes(attribute.type) + attribute.value
            body += [UInt8](repeating: 0, count: Netlink.aligned(body.count) - body.count)
        }
        let length = UInt32(Netlink.headerLength + body.count)
        return hostBytes(length) + hostBytes(type) + hostBytes(flags) + hostBytes(sequence) + hostBytes(UInt32(0)) + body
    }
}

/// A message from the kernel: its type and the payload after the netlink header.
struct NetlinkMessage {
    var type: UInt16
    var payload: [UInt8]

    /// The attributes after a fixed header of `fixedLength` bytes, by type; a malformed attribute ends
    /// the list rather than reading past the payload.
    func attributes(after fixedLength: Int) -> [UInt16: [UInt8]] {
        var result: [UInt16: [UInt8]] = [:]
        var offset = Netlink.aligned(fixedLength)
        while offset + 4 <= payload.count {
            let length = Int(payload.hostInteger(at: offset, as: UInt16.self))
            let type = payload.hostInteger(at: offset + 2, as: UInt16.self) & Netlink.attributeTypeMask
            guard length >= 4, offset + length <= payload.count else { break }
            result[type] = Array(payload[(offset + 4)..<(offset + length)])
            offset += Netlink.aligned(length)
        }
        return result
    }

    /// Splits one datagram into its messages; a header that claims more than the datagram holds ends it.
    static func split(_ datagram: ArraySlice<UInt8>) -> [NetlinkMessage] {
        let bytes = Array(datagram)
        var messages: [NetlinkMessage] = []
        var offset = 0
        while offset + Netlink.headerLength <= bytes.count {
            let length = Int(bytes.hostInteger(at: offset, as: UInt32.self))
            guard length >= Netlink.headerLength, offset + length <= bytes.count else { break }
            let type = bytes.hostInteger(at: offset + 4, as: UInt16.self)
            messages.append(NetlinkMessage(type: type, payload: Array(bytes[(offset + Netlink.headerLength)..<(offset + length)])))
            offset += Netlink.aligned(length)
        }
        return messages
    }

    /// The sequence number of the message at `offset` of a datagram.
    static func sequence(of datagram: ArraySlice<UInt8>) -> UInt32? {
        guard datagram.count >= Netlink.headerLength else { return nil }
        return Array(datagram).hostInteger(at: 8, as: UInt32.self)
    }
}

func hostBytes<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
    withUnsafeBytes(of: value) { Array($0) }
}

extension Array where Element == UInt8 {
    /// The caller has checked that `offset + size` lies inside the array.
    func hostInteger<T: FixedWidthInteger>(at offset: Int, as type: T.Type) -> T {
        withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: T.self) }
    }
}
