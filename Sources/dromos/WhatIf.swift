import ArgumentParser
import DromosConfig
import DromosControlPlane
import DromosDaemon
import DromosHost
import DromosOffline

struct WhatIf: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "whatif",
        abstract: "Show how many flows a configuration change would move, beside the fewest possible.")

    @Option(help: "The configuration in force.")
    var config: String

    @Option(name: .customLong("new-config"), help: "The configuration about to be applied.")
    var newConfig: String

    @Option(help: "Synthetic flows per service (ignored with --input).")
    var flows: Int = 100_000

    @Option(help: "Take the flows from this capture instead of making them up.")
    var input: String?

    @Flag(help: "One JSON object per service instead of text.")
    var json = false

    func validate() throws {
        guard flows > 0 && flows <= 10_000_000 else {
            throw ValidationError("--flows must be from 1 to 10000000, got \(flows)")
        }
    }

    func run() throws {
        try reportingFailure("dromos whatif") {
            let old = try ConfigLoader.load(path: config)
            let new = try ConfigLoader.load(path: newConfig)
            let report = if let input {
                try DisruptionAnalysis.compare(old: old, new: new, capture: input)
            } else {
                try DisruptionAnalysis.compare(old: old, new: new, flowsPerService: flows)
            }
            print(json ? report.jsonLines.joined(separator: "\n") : report.text)
        }
    }
}
