import DromosSystem

/// Reads the configuration file with the system's own words for what went wrong ("No such file or
/// directory", "Permission denied"), which is what an operator searches for.
public enum ConfigFile {
    public struct ReadError: Error {
        public var reason: String
        /// The file is not there (a state file that was never written, say).
        public var isMissing = false
    }

    public static func read(_ path: String) throws(ReadError) -> String {
        let bytes: [UInt8]
        do { bytes = try Files.read(path) } catch {
            let step = error.operation == "open" ? "opened" : "read"
            throw ReadError(reason: "cannot be \(step): \(error.reason)", isMissing: error.isMissing)
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw ReadError(reason: "is not UTF-8 text")
        }
        return text
    }
}
