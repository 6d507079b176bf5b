public import DromosBalancer
public import DromosConfig
import DromosIO
import DromosWire
/// What a replay did: the worker's counters after the last frame, and how many frames it wrote.
public struct ReplaySummary: Sendable {
    public var frames: Int
    public var written: Int
    public var statistics: WorkerStatistics

    /// A plain-text report: frames per verdict and reason, then per backend.
    public var text: String {
        var lines = ["\(frames) frames read, \(written) forwarded frames written"]
        lines.append("")
        lines.append(pad(["verdict", "reason", "frames"], [8, 32, 10]))
        for decision in statistics.decisions.sorted(by: { ($0.verdict.rawValue, $0.reason) < ($1.verdict.rawValue, $1.reason) }) {
            lines.append(pad([decision.verdict.name, decision.reason, String(decision.frames)], [8, 32, 10]))
        }
        lines.append("")
        lines.append(pad(["service", "backend", "frames", "bytes", "new flows", "active flows"], [16, 40, 10, 12, 10, 12]))
        for backend in statistics.backends {
            lines.append(pad([backend.service, backend.address.description, String(backend.packets), String(backend.bytes),
                              String(backend.newFlows), String(backend.activeFlows)], [16, 40, 10, 12, 10, 12]))
        }
        lines.append("")
        lines.append("flow table: \(statistics.activeFlows) active, \(statistics.flowInsertions) created, "
            + "\(statistics.flowEvictions) evicted, \(statistics.flowExpirations) expired")
        return lines.joined(separator: "\n")
    }

    private func pad(_ cells: [String], _ widths: [Int]) -> String {
        zip(cells, widths).map { cell, width in
            cell.count >= width ? cell + " " : cell + String(repeating: " ", count: width - cell.count)
        }.joined().trimmingTrailingSpaces()
    }
}

extension String {
    fileprivate func trimmingTrailingSpaces() -> String {
        var text = self
        while text.last == " " { text.removeLast() }
        return text
    }
}

/// `dromos replay`: the pipeline over a capture, writing exactly the forwarded frames, rewritten.
public enum Replayer {
    public static func replay(config: DromosConfig, input: String, output: String) throws -> ReplaySummary {
        let pipeline = try OfflinePipeline(config: config)
        let writer = try PcapFileWriter(path: output)
        var frames = 0
        var written = 0
        try pipeline.run(capture: input) { frame in
            frames += 1
            guard frame.decision.verdict == .forward else { return }
            writer.write(frame.bytes, wireLength: frame.wireLength, timestampNanoseconds: frame.timestampNanoseconds)
            written += 1
        }
        try writer.flush()
        return ReplaySummary(frames: frames, written: written, statistics: pipeline.worker.statistics())
    }
}
