import Foundation

/// Where the shared capture corpus and the repository's tools live, found from this file's path so the
/// tests work from any working directory.
enum Corpus {
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static let directory = repositoryRoot.deletingLastPathComponent()
        .appendingPathComponent("shared/corpus/tcpdump")

    static var isPresent: Bool {
        FileManager.default.fileExists(atPath: directory.path)
    }

    static let missingReason: Comment = "the corpus is not at \(directory.path): clone the repository beside shared/"

    static var files: [URL] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { $0.hasSuffix(".pcap") || $0.hasSuffix(".pcapng") || $0.hasSuffix(".cap") }
            .sorted()
            .map { directory.appendingPathComponent($0) }
    }

    /// The directory of the running test binary; SwiftPM puts the `dromos` executable beside it.
    static var productsDirectory: URL {
        URL(fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0])
            .deletingLastPathComponent()
    }
}

import Testing
