/// The Ethernet header of a frame Dromos writes itself: addresses and the VLAN tags a reply must carry
/// back (a request that came in on VLAN 100 is answered on VLAN 100).
public struct EthernetFraming: Hashable, Sendable {
    public var destination: MACAddress
    public var source: MACAddress
    public var vlanCount: Int
    public var outerVLAN: VLANTag
    public var innerVLAN: VLANTag

    public init(destination: MACAddress, source: MACAddress) {
        self.destination = destination
        self.source = source
        vlanCount = 0
        outerVLAN = VLANTag(tpid: 0, tci: 0)
        innerVLAN = VLANTag(tpid: 0, tci: 0)
    }

    /// Back to the frame's sender, from `source`, on the frame's VLANs.
    public init(replyingTo parsed: ParsedFrame, from source: MACAddress) {
        self.init(destination: parsed.sourceMAC, source: source)
        vlanCount = min(max(parsed.vlanCount, 0), FrameParser.maxVLANTags)
        outerVLAN = parsed.outerVLAN
        innerVLAN = parsed.innerVLAN
    }

    /// The header's length including the EtherType.
    @inlinable
    public var length: Int { 14 &+ 4 &* vlanCount }

    /// Writes the header ending in `etherType`; the caller has checked that `length` bytes fit.
    @usableFromInline
    func write(etherType: UInt16, to base: UnsafeMutableRawPointer) {
        MACRewrite.store(destination, at: base)
        MACRewrite.store(source, at: base + 6)
        var offset = 12
        if vlanCount > 0 { offset = Self.store(outerVLAN, at: base, offset) }
        if vlanCount > 1 { offset = Self.store(innerVLAN, at: base, offset) }
        base.storeBytes(of: etherType.bigEndian, toByteOffset: offset, as: UInt16.self)
    }

    private static func store(_ tag: VLANTag, at base: UnsafeMutableRawPointer, _ offset: Int) -> Int {
        base.storeBytes(of: tag.tpid.bigEndian, toByteOffset: offset, as: UInt16.self)
        base.storeBytes(of: tag.tci.bigEndian, toByteOffset: offset &+ 2, as: UInt16.self)
        return offset &+ 4
    }
}
