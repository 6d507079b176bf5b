import CXDP
import Glibc

extension XDPAttachment {
    /// The program's name in the kernel (its function's, cut to 15 bytes): how a stale one is told apart.
    public static let programName = "dromos_xdp"

    /// Detaches Dromos's program from the interface when a daemon that died without its clean stop left
    /// it there (`dromos cleanup`); a program of anyone else stays. Returns what was detached, or nil.
    /// `recordedProgramID`: the id the daemon wrote down when it attached. The interface's program is
    /// Dromos's when its id is that one (the kernel does not reuse ids while it runs), else when its name
    /// is `programName`; reading the name needs CAP_SYS_ADMIN, the id does not.
    public static func detachStale(interfaceIndex: Int32, recordedProgramID: UInt32?) throws(XDPError) -> String? {
        var query = bpf_xdp_query_opts()
        zero(&query)
        // Up to the end of the last field: no padding for libbpf to check.
        query.sz = MemoryLayout<bpf_xdp_query_opts>.offset(of: \.attach_mode)! + MemoryLayout<UInt8>.size
        let queried = bpf_xdp_query(interfaceIndex, 0, &query)
        guard queried == 0 else { throw XDPError(step: "asking which XDP program the interface has", reason: text(queried)) }
        let attachedID = query.attach_mode == UInt8(XDP_ATTACHED_SKB) ? query.skb_prog_id : query.drv_prog_id
        guard attachedID != 0 else { return nil }
        if let recordedProgramID, recordedProgramID == attachedID {
            let flags = query.attach_mode == UInt8(XDP_ATTACHED_SKB) ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE
            let result = bpf_xdp_detach(interfaceIndex, UInt32(flags), nil)
            guard result == 0 else { throw XDPError(step: "detaching the stale XDP program", reason: text(result)) }
            return "\(programName) (id \(attachedID), as the daemon recorded it)"
        }
        guard let attached = xdp_multiprog__get_from_ifindex(interfaceIndex) else { return nil }
        let failure = libxdp_get_error(UnsafeRawPointer(attached))
        guard failure == 0 else {
            // Without CAP_SYS_ADMIN the kernel will not hand out a program it did not create here.
            throw XDPError(step: "reading the name of XDP program id \(attachedID) on the interface",
                           reason: text(Int32(failure)) + (failure == -EPERM ? " (the daemon's record of its program is gone; "
                                                           + "as root with CAP_SYS_ADMIN cleanup can tell it by name)" : ""))
        }
        defer { xdp_multiprog__close(attached) }
        guard let main = xdp_multiprog__main_prog(attached), let name = xdp_program__name(main),
              String(cString: name) == programName else { return nil }
        let result = xdp_multiprog__detach(attached)
        guard result == 0 else { throw XDPError(step: "detaching the stale XDP program", reason: text(result)) }
        return "\(programName) (\(xdp_multiprog__is_legacy(attached) ? "attached alone" : "in libxdp's dispatcher"))"
    }
}
