import DromosLab
import Foundation
import Testing

/// Two instances behind one ECMP router are interchangeable only if they pick the same backend for
/// every flow: two `dromos` processes, the same pool written in another order (backends and services),
/// print the same lookup-table digest and the same choices for 100,000 flows per service.
@Suite struct InstanceIdentityTests {
    static var dromos: String {
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: executable).deletingLastPathComponent().appendingPathComponent("dromos").path
    }

    static let backends = [
        "{ address: 198.18.0.11, weight: 2 }", "{ address: 198.18.0.12 }", "{ address: 198.18.0.13, weight: 3 }",
        "{ address: 198.18.0.14 }", "{ address: 198.18.0.15, weight: 0 }",
    ]

    static func config(services: [(String, String, [String])]) -> String {
        "interface: lb0\nservices:\n" + services.map { name, scheduler, backends in
            """
              - name: \(name)
                vip: 203.0.113.10
                port: \(name == "web" ? 80 : 443)
                protocol: tcp
                scheduler: \(scheduler)
                backends:
            \(backends.map { "      - \($0)" }.joined(separator: "\n"))
            """
        }.joined(separator: "\n") + "\n"
    }

    func fingerprint(_ text: String) async throws -> String {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("dromos-identity-\(UUID().uuidString).yaml")
        defer { try? FileManager.default.removeItem(at: file) }
        try text.write(to: file, atomically: true, encoding: .utf8)
        return try await LabCommand.run([Self.dromos, "check-config", "--fingerprint", "--flows", "100000", file.path])
    }

    @Test func twoProcessesWithThePoolInAnotherOrderPickTheSameBackends() async throws {
        let written = Self.config(services: [("web", "maglev", Self.backends), ("tls", "sh", Self.backends)])
        let reordered = Self.config(services: [("tls", "sh", Self.backends.reversed()), ("web", "maglev", [3, 0, 4, 1, 2].map { Self.backends[$0] })])
        let one = try await fingerprint(written)
        let other = try await fingerprint(reordered)
        #expect(one == other, "\(one)\n\(other)")
        let lines = one.split(separator: "\n")
        #expect(lines.count == 2 && lines.allSatisfy { $0.contains("table 65537 slots") && $0.contains("100000 flows") }, "\(one)")
        // The drained backend gets no new flow; the others roughly their weights' share (2:1:3:1 of 7).
        #expect(!one.contains("198.18.0.15 "), "\(one)")
        print("instance identity: \(lines.first ?? "")")

        // The digests do see a difference: one weight changed.
        let changed = try await fingerprint(written.replacingOccurrences(of: "198.18.0.14 }", with: "198.18.0.14, weight: 2 }"))
        #expect(changed.split(separator: "\n").allSatisfy { !lines.contains($0) }, "\(changed)")
    }
}
