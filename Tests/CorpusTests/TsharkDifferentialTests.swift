import DromosLab
import Foundation
import Testing

/// The parser's flows against Wireshark's dissectors on every comparable frame of the corpus
/// (`tools/tshark_diff.py` does the comparison). Each disagreement must fall into a class accepted
/// below, with the reason; anything else fails.
@Suite(.enabled(if: Corpus.isPresent, Corpus.missingReason), .enabled(if: Tshark.isInstalled, Tshark.missingReason))
struct TsharkDifferentialTests {
    /// Disagreements we accept, each a rule about the frame and why it is right.
    static let acceptedClasses: [(name: String, why: String, matches: @Sendable (Disagreement) -> Bool)] = [
        ("ip-length-beyond-frame",
         """
         The IPv4 total length or IPv6 payload length claims more bytes than the frame carried on the wire. \
         Dromos refuses such a frame as malformed (forwarding it would hand the backend a datagram that \
         lies about its length); tshark flags it (ip.bogus_ip_length, ipv6.plen_exceeds_framing) and \
         dissects what is there.
         """,
         { $0.ourParse == "ipv4-total-length-exceeds-frame" && $0.tsharkNotes.contains("ip.bogus_ip_length")
             || $0.ourParse == "ipv6-payload-exceeds-frame" && $0.tsharkNotes.contains("ipv6.plen_exceeds_framing") }),
        ("transport-header-cut-by-capture",
         """
         The capture kept only the first bytes of the TCP or UDP header (caplen below the wire length). \
         tshark shows the ports of the partial header; Dromos reads a transport header only when it was \
         captured whole, and such a frame is never forwarded anyway.
         """,
         { ($0.ourParse == "truncated-tcp" || $0.ourParse == "truncated-udp")
             && $0.tsharkNotes.contains("_ws.short") && $0.capturedLength < $0.wireLength }),
    ]

    struct Disagreement: CustomStringConvertible, Sendable {
        var file: String
        var frame: Int
        var ourParse: String
        var tsharkNotes: [String]
        var capturedLength: Int
        var wireLength: Int
        var raw: String

        var description: String { "\(file)#\(frame): \(raw)" }
    }

    @Test func flowsAgreeWithTshark() async throws {
        let dromos = Corpus.productsDirectory.appendingPathComponent("dromos").path
        #expect(FileManager.default.isExecutableFile(atPath: dromos), "no dromos binary at \(dromos)")
        let script = Corpus.repositoryRoot.appendingPathComponent("tools/tshark_diff.py").path
        // tshark over 477 captures on two cores: minutes, not seconds, on a loaded machine.
        let output = try await LabCommand.run(["python3", script, "--dromos", dromos, "--jobs", "2", "--json", Corpus.directory.path],
                                              timeout: 900)
        var disagreements: [Disagreement] = []
        var summary: [String: Any] = [:]
        for line in output.split(separator: "\n") {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            if let found = object["summary"] as? [String: Any] {
                summary = found
                continue
            }
            let ours = object["ours"] as? [String: Any]
            let tshark = object["tshark"] as? [String: Any]
            disagreements.append(Disagreement(
                file: object["file"] as? String ?? "?", frame: object["frame"] as? Int ?? 0,
                ourParse: ours?["parse"] as? String ?? "(no line)", tsharkNotes: tshark?["notes"] as? [String] ?? [],
                capturedLength: tshark?["caplen"] as? Int ?? 0, wireLength: tshark?["wirelen"] as? Int ?? 0,
                raw: String(line)))
        }
        let compared = summary["compared"] as? Int ?? 0
        let agreed = summary["agreed"] as? Int ?? 0
        var perClass: [String: Int] = [:]
        var unexplained: [Disagreement] = []
        for disagreement in disagreements {
            if let accepted = Self.acceptedClasses.first(where: { $0.matches(disagreement) }) {
                perClass[accepted.name, default: 0] += 1
            } else {
                unexplained.append(disagreement)
            }
        }
        print("tshark differential: \(compared) frames compared, \(agreed) agree, \(disagreements.count) disagree "
            + "(accepted: \(perClass.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")))")
        #expect(unexplained.isEmpty, "disagreements no accepted class explains:\n\(unexplained.map(\.description).joined(separator: "\n"))")
        #expect((summary["failed"] as? [Any])?.isEmpty ?? false, "files that failed: \(summary["failed"] ?? "?")")
        // The corpus is fixed: fewer comparable frames means the tool or the parser lost ground.
        #expect(compared >= 2_900)
        #expect(agreed + disagreements.count == compared)
    }
}

enum Tshark {
    static var isInstalled: Bool {
        ["/usr/bin/tshark", "/usr/local/bin/tshark"].contains { FileManager.default.isExecutableFile(atPath: $0) }
    }

    static let missingReason: Comment = "tshark is not installed (apt-get install tshark; tools/setup.sh does it)"
}
