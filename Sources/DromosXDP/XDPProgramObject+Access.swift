/// The XDP program's ELF object, compiled at build time (Plugins/XDPProgram).
public enum XDPProgramImage {
    public static var bytes: [UInt8] { xdpProgramObject }
}
