import DromosLab
import Foundation
import Glibc
import Testing

/// What the systemd unit relies on: `READY=1` on NOTIFY_SOCKET once the daemon forwards (Type=notify),
/// and `dromos cleanup` (ExecStopPost) removing what a killed daemon left, but never under a live one.
@Suite(.serialized, .enabled(if: NetworkLab.isRoot, Comment(rawValue: NetworkLab.skipReason)))
final class ServiceUnitEndToEndTests: DaemonLabTest {
    let lab = NetworkLab()

    @Test func readinessIsNotifiedAndCleanupRemovesWhatAKilledDaemonLeft() async throws {
        let net = try await topology()
        let config = try writeConfig()
        defer { try? FileManager.default.removeItem(at: config) }
        let notifySocket = Self.temporaryFile("notify")
        defer { try? FileManager.default.removeItem(at: notifySocket) }
        // The service manager's end: a datagram socket, read until the daemon says it is ready.
        let manager = try await lab.start(net.balancer, [Services.python, "-c", """
            import socket, sys
            s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            s.bind(sys.argv[1])
            s.settimeout(120)
            print("listening", flush=True)
            while True:
                message = s.recv(4096).decode()
                print(message.replace("\\n", " | "), flush=True)
                if "READY=1" in message:
                    break
            """, notifySocket.path])
        #expect(await waitForText("listening", in: manager.output))
        let daemon = try await lab.start(net.balancer, ["env", "NOTIFY_SOCKET=\(notifySocket.path)", Self.dromos, "run",
                                                        "--config", config.path, "--workers", "1"])
        defer { if daemon.isRunning { daemon.terminate() } }
        try await waitUntilRunning(daemon)
        let notified = try await manager.finish(timeout: 60)
        #expect(notified.contains("READY=1") && notified.contains("STATUS=forwarding on lb0"), "\(notified)")

        let live = try await LabCommand.outcome(["ip", "netns", "exec", net.balancer, Self.dromos, "cleanup", "--config", config.path])
        #expect(live.status != 0 && live.output.contains("answers on"), "cleanup refuses under a live daemon: \(live.output) \(live.errors)")
        #expect(try await lab.exec(net.balancer, ["nft", "list", "tables"]).contains("netdev dromos"))

        daemon.signal(SIGKILL)
        #expect(await waitForExit(daemon))
        #expect(try await lab.exec(net.balancer, ["nft", "list", "tables"]).contains("netdev dromos"), "a killed daemon leaves its table")
        let cleaned = try await lab.exec(net.balancer, [Self.dromos, "cleanup", "--config", config.path])
        #expect(cleaned.contains("removed nftables table netdev dromos"), "\(cleaned)")
        #expect(!(try await lab.exec(net.balancer, ["nft", "list", "tables"]).contains("dromos")))
        #expect(!FileManager.default.fileExists(atPath: config.path + ".sock"), "the stale control socket is gone")
        let again = try await lab.exec(net.balancer, [Self.dromos, "cleanup", "--config", config.path])
        #expect(again.contains("nothing to remove"), "\(again)")
        print("service unit: notified \(notified.trimmingCharacters(in: .whitespacesAndNewlines)); cleanup after SIGKILL: \(cleaned)")
    }
}
