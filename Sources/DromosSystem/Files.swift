import Glibc
public import SystemPackage

/// Whole-file reads and durable writes for the daemon's own files (configuration, state, kernel
/// settings), on swift-system's `FileDescriptor`. Errors carry the system's own words ("No such file
/// or directory", "Permission denied"), which is what an operator searches for.
public enum Files {
    /// Why a file operation failed: what was attempted, on which path, and the system's reason.
    public struct Failure: Error, Equatable, Sendable, CustomStringConvertible {
        public var operation: String
        public var path: String
        public var errno: Errno
        /// The system's words alone ("No such file or directory").
        public var reason: String { errno.description }
        public var description: String { "cannot \(operation) \(path): \(reason)" }
        public var isMissing: Bool { errno == .noSuchFileOrDirectory }
    }

    /// Files larger than this are refused rather than read: nothing Dromos reads is near it.
    public static let readLimit = 64 << 20

    public static func read(_ path: String) throws(Failure) -> [UInt8] {
        let descriptor = try attempt("open", path) { try FileDescriptor.open(FilePath(path), .readOnly, options: .closeOnExec) }
        defer { try? descriptor.close() }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = try attempt("read", path) { try chunk.withUnsafeMutableBytes { try descriptor.read(into: $0) } }
            if count == 0 { return bytes }
            bytes += chunk[0..<count]
            if bytes.count > readLimit { throw Failure(operation: "read", path: path, errno: .fileTooLarge) }
        }
    }

    public static func readText(_ path: String) throws(Failure) -> String {
        String(decoding: try read(path), as: UTF8.self)
    }

    /// Writes `bytes` to an existing file in one write (a sysctl under /proc/sys takes its value so).
    public static func overwrite(_ path: String, with bytes: [UInt8]) throws(Failure) {
        let descriptor = try attempt("open", path) { try FileDescriptor.open(FilePath(path), .writeOnly, options: .closeOnExec) }
        defer { try? descriptor.close() }
        let written = try attempt("write", path) { try bytes.withUnsafeBytes { try descriptor.write($0) } }
        if written != bytes.count { throw Failure(operation: "write all of", path: path, errno: .ioError) }
    }

    /// Replaces `path` so that a crash leaves the old file or the new one, never a torn one: a temporary
    /// file beside it, written and fsynced, renamed over it, then the directory fsynced (the rename is
    /// durable only once the directory entry is). Missing directories are created with `directoryMode`.
    public static func writeAtomically(_ bytes: [UInt8], to path: String, mode: FilePermissions,
                                       directoryMode: FilePermissions) throws(Failure) {
        let directory = Self.directory(of: path)
        try makeDirectories(directory, mode: directoryMode)
        let temporary = path + ".tmp"
        do {
            let descriptor = try attempt("create", temporary) {
                try FileDescriptor.open(FilePath(temporary), .writeOnly, options: [.create, .truncate, .closeOnExec],
                                        permissions: mode)
            }
            defer { try? descriptor.close() }
            _ = try attempt("write", temporary) { try descriptor.writeAll(bytes) }
            try system("fsync", temporary) { fsync(descriptor.rawValue) }
        } catch {
            unlink(temporary)
            throw error
        }
        do { try system("rename \(temporary) to", path) { rename(temporary, path) } } catch {
            unlink(temporary)
            throw error
        }
        if let directoryDescriptor = try? FileDescriptor.open(FilePath(directory), .readOnly, options: [.directory, .closeOnExec]) {
            _ = fsync(directoryDescriptor.rawValue)
            try? directoryDescriptor.close()
        }
    }

    /// `mkdir -p`, `mode` for what it creates.
    public static func makeDirectories(_ directory: String, mode: FilePermissions) throws(Failure) {
        var prefix = directory.hasPrefix("/") ? "" : "."
        for component in directory.split(separator: "/") {
            prefix += "/" + component
            do { try system("create directory", prefix) { mkdir(prefix, mode.rawValue) } } catch {
                guard error.errno == .fileExists else { throw error }
            }
        }
    }

    /// Removes a file; false when there was none.
    @discardableResult
    public static func remove(_ path: String) throws(Failure) -> Bool {
        do { try system("remove", path) { unlink(path) } } catch {
            if error.isMissing { return false }
            throw error
        }
        return true
    }

    public static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    public static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    private static func attempt<T>(_ operation: String, _ path: String, _ body: () throws -> T) throws(Failure) -> T {
        do { return try body() } catch let error as Errno {
            throw Failure(operation: operation, path: path, errno: error)
        } catch {
            throw Failure(operation: operation, path: path, errno: .ioError)
        }
    }

    /// A libc call that returns -1 and sets errno, retried on EINTR.
    private static func system(_ operation: String, _ path: String, _ call: () -> Int32) throws(Failure) {
        while call() != 0 {
            let code = Glibc.errno
            if code == EINTR { continue }
            throw Failure(operation: operation, path: path, errno: Errno(rawValue: code))
        }
    }
}
