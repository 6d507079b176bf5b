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

extension NetworkLab {
    /// Client c0 (198.18.0.1) ↔ f0 forwarder f1 ↔ s0 server (198.18.0.2): the namespaces a bridged upload
    /// crosses. `offloads: false` turns segmentation and checksum offloads and GRO off on every link, for
    /// ports without a vnet header.
    func uploadTopology(offloads: Bool) async throws -> (client: String, forwarder: String, server: String) {
        let client = try await namespace("c")
        let forwarder = try await namespace("f")
        let server = try await namespace("s")
        try await veth("c0", in: client, "f0", in: forwarder)
        try await veth("f1", in: forwarder, "s0", in: server)
        if !offloads {
            for (namespace, interface) in [(client, "c0"), (forwarder, "f0"), (forwarder, "f1"), (server, "s0")] {
                try await exec(namespace, ["ethtool", "-K", interface, "tx", "off", "tso", "off", "gso", "off", "gro", "off"])
            }
        }
        try await exec(client, ["ip", "addr", "add", "198.18.0.1/24", "dev", "c0"])
        try await exec(server, ["ip", "addr", "add", "198.18.0.2/24", "dev", "s0"])
        return (client, forwarder, server)
    }
}
