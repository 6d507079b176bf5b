import DromosDatapath
import DromosIO
import DromosSystem
import DromosLab
import Foundation

/// What a bridged TCP upload saw: the byte counts each end reported and the bridge's frame counts.
struct BridgedUpload {
    var clientSent: String
    var serverReceived: String
    var report: PortBridge.Report
}

extension NamespaceEntry {
    /// Uploads `size` bytes from `client` to the server at 198.18.0.2:5001 in `server` while
    /// `PortBridge` forwards between the two ports, until the client ends (at most 90 s). Run on a lab
    /// thread that has entered the forwarder's namespace; the caller checks its ports' statistics.
    func uploadThroughBridge<First: PacketPort, Second: PacketPort>(
        client: String, server: String, size: Int, _ first: First, _ second: Second
    ) throws -> BridgedUpload {
        let serverCommand = try start(server, [Generator.python, "-c", Generator.server, "198.18.0.2", "5001"])
        let clientCommand = try start(client, [Generator.python, "-c", Generator.client, "198.18.0.2", "5001", String(size)])
        let deadline = monotonicNanoseconds() + 90_000_000_000
        var rounds = 0
        let report = PortBridge.run(first, second) {
            rounds += 1
            guard rounds % 256 == 0 else { return false }
            return !clientCommand.isRunning || monotonicNanoseconds() > deadline
        }
        return BridgedUpload(
            clientSent: try finish(clientCommand, timeout: 5).trimmingCharacters(in: .whitespacesAndNewlines),
            serverReceived: try finish(serverCommand, timeout: 5).trimmingCharacters(in: .whitespacesAndNewlines),
            report: report)
    }
}
