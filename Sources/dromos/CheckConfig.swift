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

    func run() throws {
        let config: DromosConfig
        do {
            config = try ConfigLoader.load(path: file)
        } catch {
            error.lines.forEach(printError)
            throw ExitCode.failure
        }
        print(json ? ConfigSummary.json(config) : ConfigSummary.text(config), terminator: "")
    }
}
