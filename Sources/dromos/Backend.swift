import ArgumentParser
import DromosConfig
import DromosControlPlane
import DromosDaemon
import DromosHost
import DromosOffline
import DromosWire

struct Backend: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Prepare a real server for direct routing: VIP on lo, ARP for it suppressed.",
        discussion: """
            setup adds each VIP to lo (/32, or /128 without DAD) and sets arp_ignore=1 and arp_announce=2 on \
            all and on each interface with an IPv4 address; it records what it changed in a state file. check \
            reports each condition with its fix (exit 1 if any fails). teardown removes what setup added and \
            restores what it changed. All three may be run again safely.
            """,
        subcommands: [BackendSetupCommand.self, BackendCheckCommand.self, BackendTeardownCommand.self])
}

struct BackendOptions: ParsableArguments {
    @Option(name: .customLong("vip"), help: "A VIP this server serves (repeat for more).")
    var vipTexts: [String] = []

    @Option(name: .customLong("interface"), help: "An interface to set the ARP rules on (repeat; default: every interface with an IPv4 address).")
    var interfaces: [String] = []

    @Option(help: "Where setup records what it changed.")
    var state: String = BackendSetup.defaultStatePath

    func backendSetup() throws -> BackendSetup {
        var vips: [IPAddress] = []
        for text in vipTexts {
            do {
                vips.append(try IPAddress(parsing: text))
            } catch {
                throw ValidationError("--vip \(text): \(error)")
            }
        }
        return BackendSetup(vips: vips, interfaces: interfaces.isEmpty ? nil : interfaces, statePath: state)
    }
}

struct BackendSetupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "setup", abstract: "Add the VIPs to lo and suppress ARP for them.")
    @OptionGroup var options: BackendOptions
    @Flag(help: "Print what would change; change nothing.") var dryRun = false

    func run() throws {
        let setup = try options.backendSetup()
        try reportingFailure("backend setup") { try setup.setup(dryRun: dryRun).forEach { print($0) } }
    }
}

struct BackendCheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "check", abstract: "Report each condition direct routing needs, with its fix.")
    @OptionGroup var options: BackendOptions

    func run() throws {
        let setup = try options.backendSetup()
        var failed = false
        try reportingFailure("backend check") {
            let conditions = try setup.check()
            conditions.forEach { print($0.line) }
            failed = conditions.contains { !$0.holds }
        }
        if failed { throw ExitCode.failure }
    }
}

struct BackendTeardownCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "teardown", abstract: "Undo what setup did (for the given VIPs, or all).")
    @OptionGroup var options: BackendOptions
    @Flag(help: "Print what would change; change nothing.") var dryRun = false

    func run() throws {
        let setup = try options.backendSetup()
        try reportingFailure("backend teardown") { try setup.teardown(dryRun: dryRun).forEach { print($0) } }
    }
}
