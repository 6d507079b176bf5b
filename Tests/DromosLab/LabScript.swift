import Foundation

/// tools/lab.sh, the one lab the demo, the soak, the benchmarks and these tests build: its path in the
/// checkout the tests were built from.
public enum LabScript {
    /// The checkout the tests were built from.
    public static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    public static let path = repository + "/tools/lab.sh"

    /// `tools/lab.sh up` for `lab`: its namespaces are named after the lab's stem and adopted by it, so
    /// that the lab's teardown (or a later run, after a crash) removes them. Returns the namespaces' prefix.
    public static func up(_ lab: NetworkLab, arguments: [String], dromos: String) async throws -> String {
        let directory = lab.filesDirectory()
        lab.adopt(namespaces: [], directory: directory)
        let outcome = try await LabCommand.outcome(["env", "LAB_NAME=\(lab.stem)", "LAB_DIR=\(directory.path)", "DROMOS=\(dromos)",
                                                    "bash", path, "up"] + arguments, timeout: 120)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/run/netns"))?.filter { $0.hasPrefix(lab.stem + "-") } ?? []
        lab.adopt(namespaces: names)
        guard outcome.status == 0 else {
            throw LabError(description: "tools/lab.sh up \(arguments.joined(separator: " ")) failed (\(outcome.status)): \(outcome.errors)")
        }
        return lab.stem
    }
}
