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

    public func read() throws(HostError) -> String {
        let text: String
        do {
            text = try ConfigFile.read(path)
        } catch {
            throw HostError("\(self): \(path) \(error.reason)")
        }
        return String(text.filter { !$0.isWhitespace })
    }

    public func write(_ value: String) throws(HostError) {
        do { try Files.overwrite(path, with: Array((value + "\n").utf8)) } catch {
            throw HostError("\(self): cannot write \(value) to \(path): \(error.reason)")
        }
    }
}
