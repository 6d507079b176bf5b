import DromosLab
import Foundation
import Glibc
import Testing

/// Table swaps under live traffic: `dromos run` is sent SIGHUP many times, cycling through configs that
/// change weights, add and remove a third backend and add a second service port, while batches of
/// short connections and two long uploads run through the VIP. `TablePublisherTests` proves no worker sees a
/// torn table; this proves that nothing a swap leaves in place is disturbed on the wire.
@Suite(.serialized, .enabled(if: NetworkLab.isRoot, Comment(rawValue: NetworkLab.skipReason)))
final class TableSwapEndToEndTests: DaemonLabTest {
    let lab = NetworkLab()
    /// At least this many swaps, and more while the last batch of short connections still runs
    /// (bounded); a new batch starts whenever one ends before the minimum, so every swap meets traffic.
    static let minimumSwaps = 30
    static let maximumSwaps = 300
    static let batchConnections = 400
    static let maximumBatches = 20
    static let uploadBytes = 2 << 20
    static let uploadSeconds = 10.0

    /// s1 and s2 are in every config; s3 only in `wider`, so its flows are given up when it goes.
    static let configs: [(pool: [LabBackend], ports: [Int])] = [
        (pool: [LabBackend(index: 0, weight: 3), LabBackend(index: 1, weight: 1), LabBackend(index: 2, weight: 1)], ports: [80, 8080]),
        (pool: [LabBackend(index: 0, weight: 1), LabBackend(index: 1, weight: 2)], ports: [80]),
        (pool: [LabBackend(index: 0), LabBackend(index: 1)], ports: [80]),
    ]

    @Test(arguments: ["afpacket", "pcap"])
    func swapsUnderTrafficBreakNothingOnSurvivingBackends(io: String) async throws {
        let started = Date()
        let net = try await topology(backendCount: 3)
        try await prepare(net, for: io)
        let config = try writeConfig(pool: Self.configs[2].pool, scheduler: "wrr")
        defer { try? FileManager.default.removeItem(at: config) }
        let servers = try await net.backends.enumerated().asyncMap { index, backend in
            try await lab.start(backend, Services.nameServer(name: "s\(index + 1)", port: 80))
        }
        defer { servers.forEach { if $0.isRunning { $0.terminate() } } }
        let capture = Self.temporaryFile("pcap")
        defer { try? FileManager.default.removeItem(at: capture) }
        // SYNs only: which backend each connection was sent to, to tell a failure's cause.
        let tcpdump = try await startCapture(in: net.balancer, interface: "lb0", to: capture,
                                       filter: ["tcp[tcpflags] & tcp-syn != 0 and dst host \(Self.vip)"])
        defer { if tcpdump.isRunning { tcpdump.terminate() } }
        let daemon = try await lab.start(net.balancer, [Self.dromos, "run", "--config", config.path, "--workers", "2", "--io", io])
        defer { if daemon.isRunning { daemon.terminate() } }
        try await waitUntilRunning(daemon)

        // Both uploads start under the two-backend table, so they are established on survivors.
        let uploads = try await (0..<2).asyncMap { _ in
            try await lab.start(net.client, Services.pacedUpload(host: Self.vip, port: 80, size: Self.uploadBytes, seconds: Self.uploadSeconds))
        }
        defer { uploads.forEach { if $0.isRunning { $0.terminate() } } }
        try await Task.sleep(for: .milliseconds(200))
        let shortBatch = Services.shortConnections(host: Self.vip, port: 80, count: Self.batchConnections)
        var batches = [try await lab.start(net.client, shortBatch)]
        defer { batches.forEach { if $0.isRunning { $0.terminate() } } }

        var reloadsSeen = 0, swaps = 0
        while swaps < Self.minimumSwaps || (batches.last!.isRunning && swaps < Self.maximumSwaps) {
            if !batches.last!.isRunning && swaps < Self.minimumSwaps && batches.count < Self.maximumBatches {
                batches.append(try await lab.start(net.client, shortBatch))
            }
            let swap = swaps
            swaps += 1
            let next = Self.configs[swap % Self.configs.count]
            try writeConfig(to: config, pool: next.pool, scheduler: "wrr", ports: next.ports)
            daemon.signal(SIGHUP)
            if await waitForLog(daemon, "reloaded: table generation \(swap + 2),") { reloadsSeen += 1 }
            try await Task.sleep(for: .milliseconds(150))
        }
        let swapsEnded = Date()
        let shortOutputs = try await batches.asyncMap { try await $0.finish(timeout: 120) }
        let uploadAnswers = try await uploads.asyncMap { try await $0.finish(timeout: 60) }
        let stopped = await stop(daemon)
        tcpdump.terminate()
        await waitForExit(tcpdump)

        // Every reload was taken, in order, none rejected; the workers dropped nothing.
        #expect(reloadsSeen == swaps, "reloads confirmed in the log: \(reloadsSeen) of \(swaps)")
        #expect(stopped.log.components(separatedBy: "reloaded: table generation").count - 1 == swaps)
        #expect(!stopped.log.contains("reload rejected"), "\(stopped.log)")
        #expect(stopped.exited && stopped.status == 0, "\(stopped.log)")
        #expect(stopCount("dropped", in: stopped.log) == 0, "the workers dropped frames: \(stopped.log)")
        // Frames a port could not send or received cut short (logged once the daemon counts them).
        for lost in ["not sent", "received cut short"] {
            #expect(stopCount(lost, in: stopped.log) ?? 0 == 0, "\(lost): \(stopped.log)")
        }

        // The long uploads stayed on their backend through every swap and arrived whole.
        for answer in uploadAnswers {
            let fields = answer.split(separator: " ")
            #expect(fields.count == 3 && ["s1", "s2"].contains(fields[0]) && fields[1] == "\(Self.uploadBytes)"
                    && fields[2].hasPrefix("ok"), "upload across \(swaps) swaps: \(answer)")
        }

        // Short connections: all answered, except ones whose SYN went to s3 (removed by a later swap).
        var answers: [String: Int] = [:], failures: [String] = [], shortSeconds = 0.0
        for output in shortOutputs {
            let result = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any] ?? [:]
            answers.merge(result["answers"] as? [String: Int] ?? [:], uniquingKeysWith: +)
            failures += result["failures"] as? [String] ?? []
            shortSeconds += result["seconds"] as? Double ?? 0
        }
        let shortConnections = batches.count * Self.batchConnections
        let toS3 = try await captured(capture, "ether src \(Self.balancerMAC) and ether dst \(Self.backendMACs[2])", linkLevel: true)
        let portsToS3 = Set(toS3.compactMap { line in
            line.split(separator: " ").first { $0.hasPrefix("198.18.0.1.") }.flatMap { Int($0.split(separator: ".").last ?? "") }
        })
        let unexplained = failures.filter { failure in
            guard let port = failure.split(separator: " ").dropFirst(2).first.flatMap({ Int($0.dropLast()) }) else { return true }
            return !portsToS3.contains(port)
        }
        #expect(unexplained.isEmpty, "connections to surviving backends failed: \(unexplained.prefix(5))")
        #expect(answers.values.reduce(0, +) + failures.count == shortConnections, "\(answers), \(failures.count) failures")
        #expect((answers["s1"] ?? 0) > 0 && (answers["s2"] ?? 0) > 0 && (answers["s3"] ?? 0) > 0,
                "every pool took connections: \(answers)")
        print("table swap end-to-end: \(swaps) swaps in \(String(format: "%.1f", swapsEnded.timeIntervalSince(started))) s, "
              + "\(shortConnections) short connections in \(batches.count) batches, \(String(format: "%.1f", shortSeconds)) s: \(answers), "
              + "\(failures.count) failed (each sent to s3, which a later swap removed), "
              + "uploads \(uploadAnswers.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) })\n\(stopped.log)")
    }
}
