import DromosBalancer
import DromosWire
import Glibc

/// Reads the configuration file with the system's own words for what went wrong ("No such file or
/// directory", "Permission denied"), which is what an operator searches for.
public enum ConfigFile {
    public struct ReadError: Error {
        public var reason: String
    }

    public static func read(_ path: String) throws(ReadError) -> String {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw ReadError(reason: "cannot be opened: \(systemError())") }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw ReadError(reason: "cannot be read: \(systemError())")
            }
            if count == 0 { break }
            bytes += chunk[0..<count]
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw ReadError(reason: "is not UTF-8 text")
        }
        return text
    }

    private static func systemError() -> String { String(cString: strerror(errno)) }
}
