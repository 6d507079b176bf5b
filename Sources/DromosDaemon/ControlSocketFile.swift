import DromosConfig
import DromosControlPlane
import DromosDatapath
import DromosSystem
import Glibc

/// The control socket's file: its directory, what was there before, and who may open it.
enum ControlSocketFile {
    static func makeDirectory(_ directory: String) throws(ControlError) {
        do { try Files.makeDirectories(directory, mode: [.ownerReadWriteExecute, .groupReadExecute, .otherReadExecute]) } catch {
            throw ControlError("control socket: cannot create directory \(error.path): \(error.reason)")
        }
    }

    /// A socket file nobody answers on is left over from a daemon that died; anything else is not ours.
    static func removeStale(_ path: String) throws(ControlError) {
        var status = stat()
        guard (try? Syscall.call("lstat", { Int(lstat(path, &status)) })) != nil else { return }
        guard status.st_mode & S_IFMT == S_IFSOCK else {
            throw ControlError("control socket \(path) exists and is not a socket; not touching it")
        }
        if (try? ControlClient(path: path)) != nil {
            throw ControlError("control socket \(path): another daemon answers there; stop it first")
        }
        remove(path)
    }

    /// 0600, or 0660 and the group's. Until this runs the socket has the umask's mode; with any usual
    /// umask that leaves others without write permission, which connect() needs, and SO_PEERCRED is
    /// checked anyway.
    static func restrictAccess(_ path: String, group: (name: String, id: gid_t)?) throws(ControlError) {
        if let group {
            do { _ = try Syscall.call("chown") { Int(chown(path, uid_t.max, group.id)) } } catch {
                throw ControlError("control socket \(path): cannot give it to group \(group.name): \(failureText(error))")
            }
        }
        do { _ = try Syscall.call("chmod") { Int(chmod(path, group == nil ? 0o600 : 0o660)) } } catch {
            throw ControlError("control socket \(path): \(failureText(error))")
        }
    }

    /// Nothing to report if it is already gone.
    static func remove(_ path: String) {
        unlink(path)
    }
}
