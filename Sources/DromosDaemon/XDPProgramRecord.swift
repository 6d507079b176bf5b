import DromosSystem

/// The id of the XDP program a running daemon attached, in a file beside its control socket (the
/// unit's runtime directory, kept across restarts): `dromos cleanup` tells a stale program of a killed
/// daemon by it, since reading program names takes CAP_SYS_ADMIN, which the unit does not give.
enum XDPProgramRecord {
    static func path(controlSocket: String) -> String { controlSocket + ".xdp" }

    static func write(_ programID: UInt32, controlSocket: String) throws(Files.Failure) {
        try Files.writeAtomically(Array("\(programID)\n".utf8), to: path(controlSocket: controlSocket), mode: [.ownerReadWrite],
                                  directoryMode: [.ownerReadWriteExecute])
    }

    static func read(controlSocket: String) -> UInt32? {
        guard let text = try? Files.readText(path(controlSocket: controlSocket)) else { return nil }
        return UInt32(text.filter { !$0.isWhitespace })
    }

    static func remove(controlSocket: String) { _ = try? Files.remove(path(controlSocket: controlSocket)) }
}
