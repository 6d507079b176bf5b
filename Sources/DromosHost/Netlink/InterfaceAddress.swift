import DromosBalancer
import DromosConfig
import DromosIO
public import DromosSystem
public import DromosWire
import Glibc

/// An address of an interface as the kernel's address table holds it.
public struct InterfaceAddress: Hashable, Sendable, CustomStringConvertible {
    public static let temporary: UInt32 = 0x01
    public static let noDAD: UInt32 = 0x02
    public static let dadFailed: UInt32 = 0x08
    public static let deprecated: UInt32 = 0x20
    public static let tentative: UInt32 = 0x40

    public var address: IPAddress
    public var prefixLength: Int
    public var interfaceIndex: Int32
    public var interfaceName: String
    /// IFA_F_* bits (the 32-bit IFA_FLAGS attribute when present).
    public var flags: UInt32

    public init(address: IPAddress, prefixLength: Int, interfaceIndex: Int32, interfaceName: String, flags: UInt32 = 0) {
        self.address = address
        self.prefixLength = prefixLength
        self.interfaceIndex = interfaceIndex
        self.interfaceName = interfaceName
        self.flags = flags
    }

    public var description: String { "\(address)/\(prefixLength) on \(interfaceName)" }

    /// A host route's length: /32 or /128.
    public static func hostPrefixLength(_ address: IPAddress) -> Int { address.isIPv4 ? 32 : 128 }
}

extension RouteNetlink {
    private static let addressAttribute: UInt16 = 1
    private static let localAttribute: UInt16 = 2
    private static let flagsAttribute: UInt16 = 8

    /// Every address of every interface (RTM_GETADDR dump).
    public func addresses() throws(SystemCallError) -> [InterfaceAddress] {
        let request = NetlinkRequest(
            type: Netlink.getAddress, flags: Netlink.request | Netlink.dump, fixedHeader: [UInt8](repeating: 0, count: 8))
        let replies = try transact(request, operation: "RTM_GETADDR")
        var names: [Int32: String] = [:]
        return replies.compactMap { message -> InterfaceAddress? in
            guard message.type == Netlink.newAddress, message.payload.count >= 8 else { return nil }
            let family = Int32(message.payload[0])
            let index = message.payload.hostInteger(at: 4, as: Int32.self)
            let attributes = message.attributes(after: 8)
            // IFA_LOCAL is the address itself; IFA_ADDRESS is the peer on a point-to-point link.
            guard let raw = attributes[Self.localAttribute] ?? attributes[Self.addressAttribute],
                  let address = Self.address(raw, family: family) else { return nil }
            var flags = UInt32(message.payload[2])
            if let wide = attributes[Self.flagsAttribute], wide.count == 4 { flags = wide.hostInteger(at: 0, as: UInt32.self) }
            if names[index] == nil { names[index] = Self.interfaceName(index) }
            return InterfaceAddress(
                address: address, prefixLength: Int(message.payload[1]), interfaceIndex: index,
                interfaceName: names[index] ?? "#\(index)", flags: flags)
        }
    }

    /// Adds `address` with `prefixLength` to the interface (RTM_NEWADDR, failing if it exists).
    /// `noDAD` skips IPv6 duplicate address detection, so the address is usable at once.
    public func add(_ address: InterfaceAddress, noDAD: Bool) throws(SystemCallError) {
        let flags = noDAD && !address.address.isIPv4 ? InterfaceAddress.noDAD : 0
        _ = try transact(
            Self.addressRequest(address, type: Netlink.newAddress, flags: Netlink.create | Netlink.exclusive, addressFlags: flags),
            operation: "RTM_NEWADDR \(address)")
    }

    public func delete(_ address: InterfaceAddress) throws(SystemCallError) {
        _ = try transact(Self.addressRequest(address, type: Netlink.deleteAddress, flags: 0, addressFlags: 0), operation: "RTM_DELADDR \(address)")
    }

    private static func addressRequest(_ address: InterfaceAddress, type: UInt16, flags: UInt16, addressFlags: UInt32) -> NetlinkRequest {
        let family = UInt8(address.address.isIPv4 ? AF_INET : AF_INET6)
        // struct ifaddrmsg: family, prefix length, flags, scope (universe), interface index.
        let header = [family, UInt8(address.prefixLength), UInt8(truncatingIfNeeded: addressFlags), 0] + hostBytes(address.interfaceIndex)
        let raw = bytes(of: address.address)
        return NetlinkRequest(
            type: type, flags: Netlink.request | Netlink.acknowledge | flags, fixedHeader: header,
            attributes: [(localAttribute, raw), (addressAttribute, raw), (flagsAttribute, hostBytes(addressFlags))])
    }

    static func bytes(of address: IPAddress) -> [UInt8] {
        switch address {
        case .v4(let v4): return withUnsafeBytes(of: v4.rawValue.bigEndian) { Array($0) }
        case .v6(let v6): return withUnsafeBytes(of: v6.high.bigEndian) { Array($0) } + withUnsafeBytes(of: v6.low.bigEndian) { Array($0) }
        }
    }

    static func address(_ raw: [UInt8], family: Int32) -> IPAddress? {
        if family == AF_INET && raw.count == 4 {
            return .v4(IPv4Address(rawValue: UInt32(bigEndian: raw.hostInteger(at: 0, as: UInt32.self))))
        }
        if family == AF_INET6 && raw.count == 16 {
            return .v6(IPv6Address(
                high: UInt64(bigEndian: raw.hostInteger(at: 0, as: UInt64.self)),
                low: UInt64(bigEndian: raw.hostInteger(at: 8, as: UInt64.self))))
        }
        return nil
    }

    /// `if_indextoname` asks the current thread's namespace, as the socket does.
    static func interfaceName(_ index: Int32) -> String? {
        var name = [CChar](repeating: 0, count: Int(IF_NAMESIZE) + 1)
        guard if_indextoname(UInt32(bitPattern: index), &name) != nil else { return nil }
        return String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The index of a named interface in the current namespace.
    public static func interfaceIndex(_ name: String) -> Int32? {
        let index = if_nametoindex(name)
        return index == 0 ? nil : Int32(bitPattern: index)
    }
}
