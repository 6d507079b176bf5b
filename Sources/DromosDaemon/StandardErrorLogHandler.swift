import DromosBalancer
import DromosConfig
import DromosControlPlane
import DromosDatapath
import DromosHost
import DromosIO
import DromosSystem
import DromosWire
import Glibc
public import Logging

/// The daemon's swift-log handler: one line per event on standard error, written with a single
/// write(2) so lines from several threads never interleave:
/// `2026-11-25T04:18:24.123Z info dromos[4242]: message key=value …`. Never used per packet.
public struct StandardErrorLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    /// Where lines go: standard error (2) for the daemon, a pipe or file in tests.
    let descriptor: Int32

    public init(label: String, level: Logger.Level = .info, descriptor: Int32 = 2) {
        logLevel = level
        self.descriptor = descriptor
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        var line = "\(Self.timestamp()) \(event.level) dromos[\(getpid())]: \(event.message)"
        for key in merged.keys.sorted() { line += " \(key)=\(merged[key]!)" }
        line += "\n"
        line.withUTF8 { bytes in _ = write(descriptor, bytes.baseAddress, bytes.count) }
    }

    /// UTC with milliseconds, ISO 8601.
    static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var parts = tm()
        var seconds = now.tv_sec
        gmtime_r(&seconds, &parts)
        var stamp = [CChar](repeating: 0, count: 32)
        let length = strftime(&stamp, stamp.count, "%Y-%m-%dT%H:%M:%S", &parts)
        let prefix = String(decoding: stamp.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let fraction = String(Int(now.tv_nsec / 1_000_000) + 1_000).dropFirst()
        return "\(prefix).\(fraction)Z"
    }
}
