import CXDP

extension XDPAttachment {
    /// The program's name in the kernel (its function's, cut to 15 bytes): how a stale one is told apart.
    public static let programName = "dromos_xdp"

    /// Detaches Dromos's program from the interface when a daemon that died without its clean stop left
    /// it there (`dromos cleanup`); a program of anyone else stays. Returns what was detached, or nil.
    public static func detachStale(interfaceIndex: Int32) throws(XDPError) -> String? {
        guard let attached = xdp_multiprog__get_from_ifindex(interfaceIndex),
              libxdp_get_error(UnsafeRawPointer(attached)) == 0 else { return nil }
        defer { xdp_multiprog__close(attached) }
        guard let main = xdp_multiprog__main_prog(attached), let name = xdp_program__name(main),
              String(cString: name) == programName else { return nil }
        let result = xdp_multiprog__detach(attached)
        guard result == 0 else { throw XDPError(step: "detaching the stale XDP program", reason: text(result)) }
        return "\(programName) (\(xdp_multiprog__is_legacy(attached) ? "attached alone" : "in libxdp's dispatcher"))"
    }
}
