import CXDP
public import DromosWire
import Glibc
import Synchronization

/// Dromos's XDP program (Sources/CXDP/bpf/dromos_xdp.c, embedded at build time) attached to one
/// interface: frames to a VIP go to the AF_XDP socket of their queue, the rest to the kernel. Native
/// (driver) mode where the driver has it (veth does), else generic (SKB) mode; `mode` says which.
/// Detached by `detach()` or when the attachment goes away. Safe to use from several threads (the control
/// plane updates the VIP maps while workers run): its own state is behind a lock, the maps are the kernel's.
public final class XDPAttachment: @unchecked Sendable {
    public enum Mode: String, Sendable {
        case native
        case generic
    }

    /// The VIP maps' value (the program's VIP_FORWARD).
    static let forward: UInt8 = 1

    public let interfaceIndex: Int32
    public let mode: Mode
    /// The kernel's id of the attached program: what `dromos cleanup` compares with the interface's
    /// program when it cannot read programs' names (that takes CAP_SYS_ADMIN, which the unit does not give).
    public let programID: UInt32
    /// The program while attached, and what the VIP maps hold (a replacement deletes only what went).
    private let state: Mutex<(program: OpaquePointer?, installed: Set<IPAddress>)>
    let socketsMap: Int32
    private let vips4Map: Int32
    private let vips6Map: Int32
    private let countsMap: Int32

    public init(interfaceIndex: Int32, allowNative: Bool = true) throws(XDPError) {
        self.interfaceIndex = interfaceIndex
        var image = XDPProgramImage.bytes
        var options = bpf_object_open_opts()
        Self.zero(&options)
        options.sz = MemoryLayout<bpf_object_open_opts>.size
        let object = image.withUnsafeMutableBytes { bytes in bpf_object__open_mem(bytes.baseAddress, bytes.count, &options) }
        guard let object, libbpf_get_error(UnsafeRawPointer(object)) == 0 else {
            throw XDPError(step: "opening the XDP program", reason: Self.text(-Int32(errno)))
        }
        guard let program = xdp_program__from_bpf_obj(object, "xdp"), libxdp_get_error(UnsafeRawPointer(program)) == 0 else {
            throw XDPError(step: "loading the XDP program", reason: "libxdp refused the object")
        }
        var attached: Mode? = nil
        var failures: [String] = []
        for candidate in allowNative ? [Mode.native, .generic] : [.generic] {
            let result = xdp_program__attach(program, interfaceIndex, candidate == .native ? XDP_MODE_NATIVE : XDP_MODE_SKB, 0)
            if result == 0 {
                attached = candidate
                break
            }
            failures.append("\(candidate.rawValue) mode: \(Self.text(result))")
        }
        guard let attached else {
            xdp_program__close(program)
            throw XDPError(step: "attaching the XDP program to interface #\(interfaceIndex)", reason: failures.joined(separator: "; ")
                           + " (another XDP program attached already? `ip link show` says; on veth native mode needs the peer's MTU at most 3506)")
        }
        mode = attached
        programID = xdp_program__id(program)
        let bpfObject = xdp_program__bpf_obj(program)
        socketsMap = bpf_object__find_map_fd_by_name(bpfObject, "dromos_xsks")
        vips4Map = bpf_object__find_map_fd_by_name(bpfObject, "dromos_vips4")
        vips6Map = bpf_object__find_map_fd_by_name(bpfObject, "dromos_vips6")
        countsMap = bpf_object__find_map_fd_by_name(bpfObject, "dromos_counts")
        guard socketsMap >= 0, vips4Map >= 0, vips6Map >= 0, countsMap >= 0 else {
            _ = Self.detach(program, from: interfaceIndex, mode: attached)
            xdp_program__close(program)
            throw XDPError(step: "finding the XDP program's maps", reason: "the embedded program lacks one (a build problem)")
        }
        state = Mutex((program, []))
    }

    deinit { _ = detach() }

    /// Takes the program off the interface; the kernel passes every frame to its stack again. Nil, or why
    /// the program stays. Through the program's own descriptor and only if it is still the one attached
    /// (XDP_FLAGS_REPLACE): libxdp's detach looks the program up by id, which takes CAP_SYS_ADMIN, and
    /// without it would leave the program attached under the unit's capabilities.
    @discardableResult
    public func detach() -> String? {
        state.withLock { state -> String? in
            guard let program = state.program else { return nil }
            let result = Self.detach(program, from: interfaceIndex, mode: mode)
            xdp_program__close(program)
            state.program = nil
            return result == 0 ? nil : Self.text(result)
        }
    }

    private static func detach(_ program: OpaquePointer, from interfaceIndex: Int32, mode: Mode) -> Int32 {
        var options = bpf_xdp_attach_opts()
        zero(&options)
        // Up to the end of the last field: no padding for libbpf to check.
        options.sz = MemoryLayout<bpf_xdp_attach_opts>.offset(of: \.old_prog_fd)! + MemoryLayout<Int32>.size
        options.old_prog_fd = xdp_program__fd(program)
        let flags = UInt32(XDP_FLAGS_REPLACE) | UInt32(mode == .native ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE)
        return bpf_xdp_detach(interfaceIndex, flags, &options)
    }

    /// Makes the VIP maps hold exactly `vips`: new ones first, then the ones that went, so that a VIP
    /// staying is never missing for a moment.
    public func replaceVIPs(_ vips: [IPAddress]) throws(XDPError) {
        try state.withLock { (state: inout (program: OpaquePointer?, installed: Set<IPAddress>)) throws(XDPError) in
            for vip in vips {
                var flags = Self.forward
                let result = withKey(vip) { key, map in bpf_map_update_elem(map, key, &flags, UInt64(BPF_ANY)) }
                guard result == 0 else { throw XDPError(step: "adding VIP \(vip) to the XDP program's map", reason: Self.text(result)) }
            }
            let wanted = Set(vips)
            for gone in state.installed.subtracting(wanted) {
                _ = withKey(gone) { key, map in bpf_map_delete_elem(map, key) }
            }
            state.installed = wanted
        }
    }

    /// Frames the program sent to the sockets and passed to the kernel since it was loaded, over all CPUs.
    public func counts() -> (redirected: UInt64, passed: UInt64) {
        let cpus = Int(libbpf_num_possible_cpus())
        guard cpus > 0 else { return (0, 0) }
        var values = [UInt64](repeating: 0, count: cpus)
        func sum(_ index: UInt32) -> UInt64 {
            var key = index
            guard bpf_map_lookup_elem(countsMap, &key, &values) == 0 else { return 0 }
            return values.reduce(0, &+)
        }
        return (sum(0), sum(1))
    }

    private func withKey(_ address: IPAddress, _ body: (UnsafeRawPointer, Int32) -> Int32) -> Int32 {
        switch address {
        case .v4(let v4):
            var key = v4.rawValue.bigEndian
            return withUnsafeBytes(of: &key) { body($0.baseAddress!, vips4Map) }
        case .v6(let v6):
            var key = (v6.high.bigEndian, v6.low.bigEndian)
            return withUnsafeBytes(of: &key) { body($0.baseAddress!, vips6Map) }
        }
    }

    /// Every byte of `options` zero, padding included, in place: libbpf refuses an options struct whose
    /// bytes past its last field are not zero, and Swift neither zeroes padding nor keeps it in a copy
    /// (zeroing a copy and returning it left the padding as the stack had it).
    static func zero<Options>(_ options: inout Options) {
        withUnsafeMutableBytes(of: &options) { _ = $0.initializeMemory(as: UInt8.self, repeating: 0) }
    }

    static func text(_ code: Int32) -> String {
        let number = code < 0 ? -code : code
        return "\(String(cString: strerror(number))) (errno \(number))"
    }
}
