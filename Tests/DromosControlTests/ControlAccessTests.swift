import DromosConfig
import DromosControlPlane
import DromosDaemon
import DromosDatapath
import DromosHost
import DromosOffline
import DromosSystem
import DromosLab
import Foundation
import Glibc
import Testing

/// Who may use the control socket, and how many at once.
@Suite(.serialized)
final class ControlAccessTests {
    let lab: ControlLab

    init() throws {
        lab = try ControlLab()
    }

    func mode(_ path: String) -> mode_t {
        var status = stat()
        return lstat(path, &status) == 0 ? status.st_mode & 0o7777 : 0
    }

    /// Runs a Python one-liner as uid/gid 65534 (nobody) that sends `status` and prints what it got.
    func askAsNobody(gid: gid_t = 65534, groups: String = "--clear-groups") async throws -> String {
        let script = """
            import socket, sys
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(sys.argv[1])
            except OSError as e:
                print("connect:", e.strerror); sys.exit(0)
            s.sendall(b'{"command": "status"}\\n')
            print(s.makefile().readline().strip())
            """
        return try await LabCommand.outcome(["/usr/bin/setpriv", "--reuid=65534", "--regid=\(gid)", groups,
                                             "/usr/bin/python3", "-c", script, lab.socketPath]).output
    }

    @Test(.enabled(if: geteuid() == 0, "needs root to run a client as another user"))
    func theSocketIsOwnerOnlyAndOtherUsersAreRefused() async throws {
        try lab.start()
        #expect(mode(lab.socketPath) == 0o600)
        #expect(try lab.ask(#"{"command": "status"}"#).isOK, "root is let in")
        // The directories above a temporary dir are 0700; open them so that only the socket decides.
        chmod(lab.directory.path, 0o755)
        let denied = try await askAsNobody()
        #expect(denied.contains("connect: Permission denied"), "\(denied)")
        // Even with the file opened up, SO_PEERCRED keeps another uid out.
        chmod(lab.socketPath, 0o666)
        let refused = try await askAsNobody()
        #expect(refused.contains("permission denied: uid 65534 is not root"), "\(refused)")
        #expect(lab.logLines.withLock { $0.contains { $0.contains("refused a connection from uid 65534") } })
    }

    @Test(.enabled(if: geteuid() == 0, "needs root to run a client as another user"))
    func aGroupWidensTheSocketToItsMembers() async throws {
        let group = "nogroup"
        guard let entry = getgrnam(group) else { Issue.record("no group \(group) on this host"); return }
        let gid = entry.pointee.gr_gid
        try lab.writeConfig(group: group)
        try lab.start(group: group)
        #expect(mode(lab.socketPath) == 0o660)
        var status = stat()
        lstat(lab.socketPath, &status)
        #expect(status.st_gid == gid)
        chmod(lab.directory.path, 0o755)
        // A supplementary member (its primary group is another), then someone in neither.
        let member = try await askAsNobody(gid: 54_321, groups: "--groups=\(gid)")
        #expect(member.contains("\"ok\": true"), "\(member)")
        let outsider = try await askAsNobody(gid: 54_321, groups: "--clear-groups")
        #expect(outsider.contains("connect: Permission denied") || outsider.contains("permission denied"), "\(outsider)")
    }

    @Test func anUnknownGroupIsRefusedAtStart() throws {
        #expect { try lab.start(group: "no-such-group-dromos") } throws: { "\($0)".contains("there is no group \"no-such-group-dromos\"") }
    }

    @Test func clientsBeyondTheLimitAreTurnedAwayAndIdleOnesDropped() throws {
        var limits = ControlServer.Limits()
        limits.clients = 2
        limits.idleMilliseconds = 400
        try lab.start(limits: limits)
        let first = try lab.client(), second = try lab.client()
        #expect(try first.request(#"{"command": "status"}"#).isOK)
        #expect(try second.request(#"{"command": "status"}"#).isOK)
        let third = try lab.client()
        let refusal = try JSONReader.parse(try #require(try third.receiveLine()))
        #expect(refusal.errorText.contains("too many control clients (2 connected)"), "\(refusal)")
        #expect(try third.receiveLine() == nil, "and closed")
        // Silent clients are told and dropped; then there is room again.
        let idle = try JSONReader.parse(try #require(try first.receiveLine(timeoutMilliseconds: 30_000)))
        #expect(idle.errorText.contains("idle for"), "\(idle)")
        #expect(try first.receiveLine(timeoutMilliseconds: 30_000) == nil)
        #expect(try lab.ask(#"{"command": "status"}"#).isOK)
    }

    @Test func aStaleSocketIsReplacedAndALiveOneIsNot() throws {
        try lab.start()
        // A second server on the same path while the first answers: refused.
        let plane = lab.plane!
        let service = ControlService(plane: plane, datapath: DatapathReader(workerCount: 0, counters: { .init() }, ask: { _ in [] }),
                                     interface: "lo", log: { _ in })
        #expect { _ = try ControlServer(path: lab.socketPath, access: .init(), service: service, log: { _ in }) } throws: {
            "\($0)".contains("another daemon answers there")
        }
        // A socket file left by a dead daemon: replaced.
        lab.stop()
        let stale = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(lab.socketPath.utf8)) }
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(stale, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        close(stale)
        #expect(FileManager.default.fileExists(atPath: lab.socketPath))
        try lab.start()
        #expect(try lab.ask(#"{"command": "status"}"#).isOK)
        // Not a socket: left alone.
        lab.stop()
        try "precious".write(toFile: lab.socketPath, atomically: true, encoding: .utf8)
        #expect { try lab.start() } throws: { "\($0)".contains("exists and is not a socket") }
        #expect(try String(contentsOfFile: lab.socketPath, encoding: .utf8) == "precious")
    }
}
