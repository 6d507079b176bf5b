import ArgumentParser
import DromosConfig
import DromosControlPlane
import DromosDaemon
import DromosHost
import DromosOffline

struct CheckConfig: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Validate a configuration file and print what it means, every default filled in.",
        discussion: "Every problem is printed to standard error, one per line, and the exit status is 1.")

    @Argument(help: "The YAML configuration file.")
    var file: String

    @Flag(help: "Print the result as one JSON object.")
    var json = false

    @Flag(help: ArgumentHelp(
        "Print, per service, digests of its lookup table and of the backends picked for --flows synthetic flows.",
        discussion: "Instances behind one ECMP router must print the same lines: a flow the router moves between them then keeps its backend."))
    var fingerprint = false

    @Option(help: "Synthetic flows per service for --fingerprint.")
    var flows = 100_000

    func validate() throws {
        guard flows > 0 && flows <= 10_000_000 else { throw ValidationError("--flows must be from 1 to 10000000, got \(flows)") }
        if fingerprint && json { throw ValidationError("--fingerprint prints text only; leave out --json") }
    }

    func run() throws {
        let config: DromosConfig
        do {
            config = try ConfigLoader.load(path: file)
        } catch {
            error.lines.forEach(printError)
            throw ExitCode.failure
        }
        if fingerprint {
            try reportingFailure("dromos check-config") {
                for service in try TableFingerprint.compute(config, flowsPerService: flows) { print(service.text) }
            }
            return
        }
        print(json ? ConfigSummary.json(config) : ConfigSummary.text(config), terminator: "")
    }
}
