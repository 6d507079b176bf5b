import ArgumentParser
import DromosConfig
import DromosControlPlane
import DromosDaemon
import DromosHost
import DromosOffline

struct Ctl: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Talk to a running daemon over its control socket.",
        discussion: """
            Each command sends one JSON request (see docs/control-protocol.md) and prints the answer as a table, \
            or as the daemon's JSON line with --json. A refused request prints the daemon's reason to standard \
            error and exits 1. Changes are in effect (published to the workers and written to the state file) \
            when the command returns.

            --socket, --config and --json go before or after the subcommand, at any depth: \
            'dromos ctl --socket PATH status' is 'dromos ctl status --socket PATH'. Given in both places (or \
            twice in one), the last on the line wins: the one after the subcommand.
            """,
        subcommands: [CtlStatus.self, CtlServices.self, CtlBackends.self, CtlStats.self, CtlFlows.self, CtlService.self,
                      CtlBackend.self, CtlReload.self, CtlVIP.self, CtlAdvertise.self])

    /// Declared here so that the options may precede the subcommand: a parent command reads its options
    /// anywhere on the line (after the subcommand's name too, the last occurrence winning), and every
    /// subcommand's `CtlOptions` group takes this parsed value instead of parsing its own.
    @OptionGroup var options: CtlOptions
}

/// A `dromos ctl` subcommand: one request of the control protocol, its fields taken from the arguments.
protocol ControlRequestCommand: ParsableCommand {
    /// The request's `command` (docs/control-protocol.md).
    static var request: String { get }
    /// The same group as `Ctl`'s, holding `Ctl`'s values; declared again so that the subcommand's help lists it.
    var options: CtlOptions { get }
    /// The request's fields besides `command`.
    func fields() throws -> [(String, JSONValue)]
}

extension ControlRequestCommand {
    func fields() throws -> [(String, JSONValue)] { [] }

    func run() throws { try options.send(Self.request, try fields()) }
}
