import DromosConfig
import DromosControlPlane
import DromosDaemon
import DromosDatapath
import DromosHost
import DromosOffline
import DromosSystem
import Glibc
import Logging
import Testing

/// The daemon's log line: UTC timestamp, level, process, message, then the metadata sorted by key;
/// events below the level are not written.
@Suite struct LogHandlerTests {
    /// Everything written to a pipe by `body`'s logger at `level`.
    func lines(level: Logger.Level, _ body: (inout Logger) -> Void) -> [String] {
        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else { return ["pipe failed"] }
        var logger = Logger(label: "test") { StandardErrorLogHandler(label: $0, level: level, descriptor: ends[1]) }
        body(&logger)
        close(ends[1])
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4_096)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(ends[0], $0.baseAddress, $0.count) }
            if count <= 0 { break }
            bytes += chunk[0..<count]
        }
        close(ends[0])
        return String(decoding: bytes, as: UTF8.self).split(separator: "\n").map(String.init)
    }

    @Test func oneLinePerEventWithTimestampLevelAndMetadata() {
        let written = lines(level: .info) { logger in
            logger[metadataKey: "interface"] = "lb0"
            logger.debug("not at info")
            logger.info("running", metadata: ["workers": "2"])
            logger.error("reload rejected")
        }
        #expect(written.count == 2, "\(written)")
        let first = written.first ?? ""
        // 2026-11-25T04:18:24.123Z
        let stamp = first.prefix(24)
        #expect(stamp.count == 24 && stamp.hasSuffix("Z") && stamp.dropFirst(10).hasPrefix("T"), "\(first)")
        #expect(first.dropFirst(25).hasPrefix("info dromos[\(getpid())]: running interface=lb0 workers=2"), "\(first)")
        #expect(written.last?.contains("error dromos[\(getpid())]: reload rejected interface=lb0") == true)
    }

    @Test func theLevelIsTheLeastSevereWritten() {
        let written = lines(level: .warning) { logger in
            logger.info("quiet")
            logger.warning("loud")
        }
        #expect(written.count == 1 && written[0].hasSuffix("warning dromos[\(getpid())]: loud"), "\(written)")
    }
}
