import DromosBalancer
import DromosConfig
import DromosIO
import DromosSystem
import DromosWire
import Glibc

/// One per-interface setting under /proc/sys/net (what `sysctl` reads and writes), in the network
/// namespace of the calling thread.
public struct KernelSetting: Hashable, Sendable, Codable, CustomStringConvertible {
    /// `ipv4` or `ipv6`.
    public var family: String
    /// An interface name, or `all`.
    public var interface: String
    public var name: String

    public init(family: String = "ipv4", interface: String, name: String) {
        self.family = family
        self.interface = interface
        self.name = name
    }

    public var path: String { "/proc/sys/net/\(family)/conf/\(interface)/\(name)" }

    /// The `sysctl` key: a dot inside an interface name (a VLAN, `eth0.100`) is written as `/`.
    public var description: String {
        "net.\(family).conf.\(interface.replacing(".", with: "/")).\(name)"
    }

    public func read() throws(BackendSetupError) -> String {
        let text: String
        do {
            text = try ConfigFile.read(path)
        } catch {
            throw BackendSetupError("\(self): \(path) \(error.reason)")
        }
        return String(text.filter { !$0.isWhitespace })
    }

    public func write(_ value: String) throws(BackendSetupError) {
        let descriptor = open(path, O_WRONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw BackendSetupError("\(self): cannot open \(path) for writing: \(Self.systemError())") }
        defer { close(descriptor) }
        var line = value + "\n"
        let written = line.withUTF8 { bytes in Glibc.write(descriptor, bytes.baseAddress, bytes.count) }
        guard written == line.utf8.count else {
            throw BackendSetupError("\(self): cannot write \(value) to \(path): \(Self.systemError())")
        }
    }

    static func systemError() -> String { String(cString: strerror(errno)) }
}

public struct BackendSetupError: Error, Equatable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
