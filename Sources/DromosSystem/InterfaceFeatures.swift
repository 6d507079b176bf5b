import CLinuxPacket
import Glibc

/// The offload features of an interface as the kernel reports them (SIOCETHTOOL: ETHTOOL_GSSET_INFO,
/// ETHTOOL_GSTRINGS and ETHTOOL_GFEATURES for the ETH_SS_FEATURES string set): the same names and
/// states `ethtool -k` prints, read without running it.
public struct InterfaceFeatures: Sendable, Equatable {
    /// Feature name (the kernel's, e.g. "rx-gro") → active.
    public let active: [String: Bool]

    public init(active: [String: Bool]) {
        self.active = active
    }

    /// GRO/LRO coalesce received frames into super-frames larger than the MTU. A port without a vnet
    /// header (libpcap) cannot resegment them on the way out, so they must be off.
    /// The value is the name `ethtool -K` takes to turn the feature off.
    public static let receiveCoalescing: [(feature: String, ethtoolName: String)] = [
        ("rx-gro", "gro"), ("rx-lro", "lro"), ("rx-gro-hw", "rx-gro-hw"), ("rx-gro-list", "rx-gro-list"),
    ]

    /// The `ethtool -K` names of the receive-coalescing features that are on.
    public var activeReceiveCoalescing: [String] {
        Self.receiveCoalescing.filter { active[$0.feature] == true }.map(\.ethtoolName)
    }

    /// Reads the features of `interface` in the calling thread's network namespace.
    public static func read(_ interface: String) throws(SystemCallError) -> InterfaceFeatures {
        let socket = try Syscall.call("socket(AF_INET, SOCK_DGRAM)") { Int(Glibc.socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)) }
        defer { close(Int32(socket)) }
        let descriptor = Int32(socket)

        // ethtool_sset_info: cmd, reserved, sset_mask (u64), then one u32 per set in the mask.
        var info = [UInt32](repeating: 0, count: 6)
        info[0] = UInt32(ETHTOOL_GSSET_INFO)
        info.withUnsafeMutableBytes { $0.storeBytes(of: UInt64(1) << UInt64(ETH_SS_FEATURES.rawValue), toByteOffset: 8, as: UInt64.self) }
        try ethtool(descriptor, interface, &info, "SIOCETHTOOL(ETHTOOL_GSSET_INFO)")
        let count = Int(info[4])
        guard count > 0, count <= 4_096 else { return InterfaceFeatures(active: [:]) }

        // ethtool_gstrings: cmd, string_set, len, then len × ETH_GSTRING_LEN bytes.
        let nameLength = Int(ETH_GSTRING_LEN)
        var strings = [UInt32](repeating: 0, count: 3 + (count * nameLength + 3) / 4)
        strings[0] = UInt32(ETHTOOL_GSTRINGS)
        strings[1] = UInt32(ETH_SS_FEATURES.rawValue)
        strings[2] = UInt32(count)
        try ethtool(descriptor, interface, &strings, "SIOCETHTOOL(ETHTOOL_GSTRINGS)")
        let names: [String] = strings.withUnsafeBytes { raw in
            (0..<count).map { index in
                let bytes = raw[(12 + index * nameLength)..<(12 + (index + 1) * nameLength)]
                return String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
            }
        }

        // ethtool_gfeatures: cmd, size (blocks), then per block available, requested, active, never_changed.
        let blocks = (count + 31) / 32
        var features = [UInt32](repeating: 0, count: 2 + blocks * 4)
        features[0] = UInt32(ETHTOOL_GFEATURES)
        features[1] = UInt32(blocks)
        try ethtool(descriptor, interface, &features, "SIOCETHTOOL(ETHTOOL_GFEATURES)")
        var active: [String: Bool] = [:]
        for (index, name) in names.enumerated() where !name.isEmpty {
            let word = features[2 + (index / 32) * 4 + 2]
            active[name] = word & (UInt32(1) << UInt32(index % 32)) != 0
        }
        return InterfaceFeatures(active: active)
    }

    /// One SIOCETHTOOL request: an ifreq naming the interface whose data points at `buffer`.
    private static func ethtool(_ descriptor: Int32, _ interface: String, _ buffer: inout [UInt32],
                                _ name: StaticString) throws(SystemCallError) {
        var request = ifreq()
        withUnsafeMutableBytes(of: &request.ifr_ifrn.ifrn_name) { field in
            for (offset, byte) in interface.utf8.prefix(field.count - 1).enumerated() { field[offset] = byte }
        }
        let result = buffer.withUnsafeMutableBytes { bytes in
            request.ifr_ifru.ifru_data = bytes.baseAddress?.assumingMemoryBound(to: CChar.self)
            return Result { () throws(SystemCallError) in
                try Syscall.call(name) { Int(ioctl(descriptor, UInt(SIOCETHTOOL), &request)) }
            }
        }
        _ = try result.get()
    }
}
