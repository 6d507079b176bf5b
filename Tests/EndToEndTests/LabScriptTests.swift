import DromosLab
import Foundation
import Testing

/// tools/lab.sh as the demo and the soak run it (servers on, backends prepared by `dromos backend
/// setup`, both families): every backend answers HTTP, TCP echo and UDP echo with its name, holds the
/// VIPs on lo and does not answer ARP for them; `status` says so, `down` removes it all.
@Suite(.serialized, .enabled(if: NetworkLab.isRoot, Comment(rawValue: NetworkLab.skipReason)))
final class LabScriptTests: DaemonLabTest {
    let lab = NetworkLab()

    static let probe = """
    import socket, sys, urllib.request
    host = sys.argv[1]
    http = urllib.request.urlopen('http://%s/' % host, timeout=10).read().decode().strip()
    tcp = socket.create_connection((host, 7), timeout=10)
    tcp.sendall(b'WHO\\n')
    who = tcp.recv(64).decode().strip()
    tcp.sendall(b'ping')
    echo = tcp.recv(64).decode()
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.settimeout(10)
    udp.sendto(b'datagram', (host, 7))
    print(http, who, echo, udp.recvfrom(64)[0].decode())
    """

    @Test func theDemosLabServesOnEveryBackendAndGoesAwayWhole() async throws {
        let name = try await LabScript.up(lab, arguments: ["2"], dromos: Self.dromos)
        for index in 0..<2 {
            let answer = try await lab.exec("\(name)-client", [Services.python, "-c", Self.probe, DaemonLabAddresses.backendAddress(index)])
            #expect(answer.trimmingCharacters(in: .whitespacesAndNewlines) == "s\(index + 1) s\(index + 1) ping datagram", "\(answer)")
            let addresses = try await lab.exec("\(name)-s\(index + 1)", ["ip", "addr", "show", "lo"])
            #expect(addresses.contains("\(Self.vip)/32") && addresses.contains("\(Self.vip6)/128"), "\(addresses)")
            let ignore = try await lab.exec("\(name)-s\(index + 1)", ["sysctl", "-n", "net.ipv4.conf.s0.arp_ignore"])
            #expect(ignore.trimmingCharacters(in: .whitespacesAndNewlines) == "1", "dromos backend setup suppressed ARP for the VIP")
        }
        let environment = ["env", "LAB_NAME=\(name)", "LAB_DIR=\(lab.filesDirectory().path)", "bash", LabScript.path]
        let status = try await LabCommand.run(environment + ["status"])
        #expect(status.contains("lab: up (5 namespaces") && status.components(separatedBy: "(serving)").count == 3, "\(status)")
        #expect(try await LabCommand.run(environment + ["down"]).contains("lab: down"))
        let left = try await LabCommand.run(["ip", "netns", "list"])
        #expect(!left.contains(name), "\(left)")
        #expect(!FileManager.default.fileExists(atPath: lab.filesDirectory().path))
    }
}
