import ArgumentParser
import DromosConfig
import DromosControlPlane
import DromosDaemon
import DromosHost
import DromosOffline

struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the balancer over a capture and write the forwarded frames, rewritten.",
        discussion: """
            Frames are decided as dromos run would decide them, with time taken from the capture. Only \
            forwarded frames are written; a summary per verdict, reason and backend goes to standard output.
            """)

    @Option(help: "The configuration to decide by.")
    var config: String

    @Option(help: "The capture to replay (pcap or pcapng, Ethernet).")
    var input: String

    @Option(help: "Where to write the forwarded frames (pcap).")
    var output: String

    func run() throws {
        try reportingFailure("dromos replay") {
            let loaded = try ConfigLoader.load(path: config)
            let summary = try Replayer.replay(config: loaded, input: input, output: output)
            print(summary.text)
        }
    }
}
