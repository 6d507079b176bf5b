import CXDP
import Glibc
import Synchronization

/// libbpf and libxdp print to standard error unless told otherwise; the daemon's log is where their
/// lines belong (with the daemon's time stamps and levels). Their callbacks are C functions without a
/// context, hence one process-wide sink.
public enum XDPLibraryLog {
    /// `line` without its newline; `isWarning`: libbpf's or libxdp's warning level (else info; debug lines
    /// are dropped).
    public typealias Sink = @Sendable (_ line: String, _ isWarning: Bool) -> Void

    private static let sink = Mutex<Sink?>(nil)

    public static func route(to handler: @escaping Sink) {
        sink.withLock { $0 = handler }
        _ = libbpf_set_print { level, format, arguments in
            XDPLibraryLog.forward("libbpf", level.rawValue, format, arguments)
        }
        _ = libxdp_set_print { level, format, arguments in
            XDPLibraryLog.forward("libxdp", level.rawValue, format, arguments)
        }
    }

    /// Both libraries number their levels warning 0, info 1, debug 2.
    private static func forward(_ library: String, _ level: UInt32, _ format: UnsafePointer<CChar>?,
                                _ arguments: CVaListPointer?) -> Int32 {
        guard level < 2, let format, let arguments, let handler = sink.withLock({ $0 }) else { return 0 }
        var buffer = [CChar](repeating: 0, count: 512)
        let count = vsnprintf(&buffer, buffer.count, format, arguments)
        guard count > 0 else { return 0 }
        var line = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        while line.last == "\n" { line.removeLast() }
        // libxdp names itself in its lines already; libbpf does too.
        handler(line.hasPrefix(library) ? line : "\(library): \(line)", level == 0)
        return count
    }
}
