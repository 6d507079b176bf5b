import ArgumentParser
import DromosConfig
import DromosControlPlane
import DromosDaemon
import DromosHost
import DromosOffline

struct Explain: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print what Dromos does with every frame of a capture, one JSON object per line.",
        discussion: "Without --config nothing is Dromos's: every frame passes with reason no-service.")

    @Option(help: "The configuration to decide by (as for dromos run).")
    var config: String?

    @Argument(help: "A pcap or pcapng file with Ethernet frames.")
    var capture: String

    func run() throws {
        try reportingFailure("dromos explain") {
            if let config {
                let loaded = try ConfigLoader.load(path: config)
                try Explainer.explain(capture: capture, config: loaded) { print($0.jsonLine) }
            } else {
                try Explainer.explain(capture: capture) { print($0.jsonLine) }
            }
        }
    }
}
