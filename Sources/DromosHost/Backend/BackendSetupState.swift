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
    public static func load(_ path: String) throws(HostError) -> BackendSetupState {
        guard Files.exists(path) else { return BackendSetupState() }
        let text: String
        do {
            text = try ConfigFile.read(path)
        } catch {
            throw HostError("state file \(path) \(error.reason)")
        }
        do {
            return try YAMLDecoder().decode(BackendSetupState.self, from: text)
        } catch {
            throw HostError("state file \(path) is not one dromos wrote (\(error)); remove it after checking what it holds")
        }
    }

    /// Writes to a temporary file and renames it over `path`, so a crash leaves the old state or the new.
    public func save(_ path: String) throws(HostError) {
        let text: String
        do {
            text = try YAMLEncoder().encode(self)
        } catch {
            throw HostError("cannot encode the state: \(error)")
        }
        do {
            try Files.writeAtomically(Array(text.utf8), to: path, mode: [.ownerReadWrite, .groupRead, .otherRead],
                                      directoryMode: [.ownerReadWriteExecute, .groupReadExecute, .otherReadExecute])
        } catch {
            throw HostError("cannot write the state file \(path): \(error.description)")
        }
    }

    public static func remove(_ path: String) throws(HostError) {
        do { try Files.remove(path) } catch {
            throw HostError("cannot remove the state file \(path): \(error.reason)")
        }
    }
}
