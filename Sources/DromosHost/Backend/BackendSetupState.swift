import Yams
import DromosBalancer
import DromosConfig
import DromosIO
import DromosSystem
import DromosWire
import Glibc

/// What `dromos backend setup` did, so that `teardown` undoes exactly that: the addresses it added (not
/// those that were there before) and each setting's value before its first change.
public struct BackendSetupState: Codable, Equatable, Sendable {
    public struct AddedAddress: Codable, Equatable, Sendable {
        public var address: String
        public var prefixLength: Int
        public var interface: String
    }

    public struct ChangedSetting: Codable, Equatable, Sendable {
        public var setting: KernelSetting
        public var original: String
        public var applied: String
    }

    /// Every VIP setup was asked for, added or found in place.
    public var vips: [String] = []
    public var addedAddresses: [AddedAddress] = []
    public var changedSettings: [ChangedSetting] = []

    public init() {}

    public var isEmpty: Bool { vips.isEmpty && addedAddresses.isEmpty && changedSettings.isEmpty }

    /// The state at `path`; an empty state when there is no file (setup never ran or teardown finished).
    public static func load(_ path: String) throws(BackendSetupError) -> BackendSetupState {
        guard access(path, F_OK) == 0 else { return BackendSetupState() }
        let text: String
        do {
            text = try ConfigFile.read(path)
        } catch {
            throw BackendSetupError("state file \(path) \(error.reason)")
        }
        do {
            return try YAMLDecoder().decode(BackendSetupState.self, from: text)
        } catch {
            throw BackendSetupError("state file \(path) is not one dromos wrote (\(error)); remove it after checking what it holds")
        }
    }

    /// Writes to a temporary file and renames it over `path`, so a crash leaves the old state or the new.
    public func save(_ path: String) throws(BackendSetupError) {
        let text: String
        do {
            text = try YAMLEncoder().encode(self)
        } catch {
            throw BackendSetupError("cannot encode the state: \(error)")
        }
        try Self.makeParentDirectory(of: path)
        let temporary = path + ".tmp"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw BackendSetupError("cannot create \(temporary): \(KernelSetting.systemError())") }
        var content = text
        let written = content.withUTF8 { Glibc.write(descriptor, $0.baseAddress, $0.count) }
        let synced = fsync(descriptor) == 0
        close(descriptor)
        guard written == text.utf8.count, synced, rename(temporary, path) == 0 else {
            let reason = KernelSetting.systemError()
            unlink(temporary)
            throw BackendSetupError("cannot write the state file \(path): \(reason)")
        }
    }

    public static func remove(_ path: String) throws(BackendSetupError) {
        guard unlink(path) == 0 || errno == ENOENT else {
            throw BackendSetupError("cannot remove the state file \(path): \(KernelSetting.systemError())")
        }
    }

    private static func makeParentDirectory(of path: String) throws(BackendSetupError) {
        var directories: [String] = []
        var parent = path
        while let slash = parent.lastIndex(of: "/"), slash != parent.startIndex {
            parent = String(parent[..<slash])
            directories.append(parent)
        }
        for directory in directories.reversed() where access(directory, F_OK) != 0 {
            guard mkdir(directory, 0o755) == 0 || errno == EEXIST else {
                throw BackendSetupError("cannot create \(directory) for the state file: \(KernelSetting.systemError())")
            }
        }
    }
}
