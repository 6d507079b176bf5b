/// Direct routing changes only the Ethernet addresses: the IP datagram reaches the backend untouched.
public enum MACRewrite {
    /// Writes both MACs in place; false (and nothing written) for a frame too short to hold them.
    @inlinable
    public static func apply(to frame: UnsafeMutableRawBufferPointer, destination: MACAddress, source: MACAddress) -> Bool {
        guard frame.count >= 12, let base = frame.baseAddress else { return false }
        store(destination, at: base)
        store(source, at: base + 6)
        return true
    }

    @inlinable
    static func store(_ mac: MACAddress, at pointer: UnsafeMutableRawPointer) {
        pointer.storeBytes(of: UInt16(truncatingIfNeeded: mac.rawValue >> 32).bigEndian, as: UInt16.self)
        pointer.storeBytes(of: UInt32(truncatingIfNeeded: mac.rawValue).bigEndian, toByteOffset: 2, as: UInt32.self)
    }
}
