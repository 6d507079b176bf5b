public import DromosConfig
import DromosControlPlane
import DromosHost

/// `dromos cleanup`: what a daemon that died without its clean stop (SIGKILL, a crash) left behind, removed
/// so that the kernel answers the VIPs again and the next start finds nothing of it: the nftables table
/// and the control socket's file. For systemd's ExecStopPost, which runs after every stop; after a clean
/// stop there is nothing left and it says so. A daemon still answering on the socket is left alone.
public enum DaemonCleanup {
    public static func run(_ config: DromosConfig) throws(ControlError) -> [String] {
        var lines: [String] = []
        if (try? ControlClient(path: config.controlSocket)) != nil {
            throw ControlError("a dromos run answers on \(config.controlSocket): stop it first (cleanup is for what a stopped daemon left)")
        }
        try ControlSocketFile.removeStale(config.controlSocket)
        if let owner = KernelDropRule.installedInterface(), owner != config.interface {
            // The table's name is host-wide: one on another interface belongs to another daemon.
            lines.append("nftables table netdev \(KernelDropRule.tableName) is on \(owner.isEmpty ? "no interface" : owner), not "
                         + "\(config.interface): left alone")
        } else if KernelDropRule.installedInterface() != nil {
            do throws(KernelDropRule.Failure) {
                try KernelDropRule(interface: config.interface, vips: []).remove()
            } catch {
                throw ControlError("cannot remove nftables table netdev \(KernelDropRule.tableName): \(error.description)")
            }
            lines.append("removed nftables table netdev \(KernelDropRule.tableName) (the kernel answers the VIPs again)")
        } else {
            lines.append("no nftables table netdev \(KernelDropRule.tableName): nothing to remove")
        }
        return lines
    }
}
