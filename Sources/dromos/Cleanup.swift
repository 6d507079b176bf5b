import ArgumentParser
import DromosConfig
import DromosDaemon

struct Cleanup: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Remove what a dromos run that did not stop cleanly left behind (root).",
        discussion: """
            Removes the nftables table 'netdev dromos' (so the kernel answers the VIPs again) and a control \
            socket file nobody answers on. Refuses while a daemon answers on the config's control socket. \
            Safe to run after a clean stop (there is then nothing to remove): the systemd unit runs it as \
            ExecStopPost.
            """)

    @Option(help: "The configuration the daemon ran with.") var config = "/etc/dromos/dromos.yaml"

    func run() throws {
        let loaded: DromosConfig
        do { loaded = try ConfigLoader.load(path: config) } catch {
            print("cleanup: cannot read \(config), so cleanup cannot tell what is ours: \(error.lines.joined(separator: "; "))")
            print("cleanup: by hand: nft delete table netdev dromos (and remove the control socket file)")
            throw ExitCode(1)
        }
        do {
            for line in try DaemonCleanup.run(loaded) { print("cleanup: \(line)") }
        } catch {
            print("cleanup: \(error.message)")
            throw ExitCode(1)
        }
    }
}
