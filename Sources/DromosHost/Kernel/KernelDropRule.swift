import DromosBalancer
import DromosConfig
import DromosIO
import DromosSystem
public import DromosWire
import Glibc

/// AF_PACKET is a tap: the kernel still receives every VIP frame Dromos forwards, and would answer
/// (or route, or reject) it. An nftables netdev ingress rule in a table of our own drops those frames
/// after the tap has seen them (taps come before the ingress hook), and is removed on exit.
public struct KernelDropRule: Sendable {
    public static let tableName = "dromos"
    public let interface: String
    public let vips: [IPAddress]

    public init(interface: String, vips: [IPAddress]) {
        self.interface = interface
        var unique: [IPAddress] = []
        for vip in vips where !unique.contains(vip) { unique.append(vip) }
        self.vips = unique
    }

    /// The nft script: one table, one ingress chain on the interface, a drop per address family.
    public var script: String {
        let v4 = vips.filter { if case .v4 = $0 { return true } else { return false } }.map(\.description)
        let v6 = vips.filter { if case .v6 = $0 { return true } else { return false } }.map(\.description)
        var lines = ["table netdev \(Self.tableName) {",
                     "  chain ingress {",
                     "    type filter hook ingress device \"\(interface)\" priority -500; policy accept;"]
        if !v4.isEmpty { lines.append("    ip daddr { \(v4.joined(separator: ", ")) } drop") }
        if !v6.isEmpty { lines.append("    ip6 daddr { \(v6.joined(separator: ", ")) } drop") }
        lines += ["  }", "}"]
        return lines.joined(separator: "\n") + "\n"
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// The nft binary, or nil when it is not installed.
    public static func nftPath() -> String? {
        for directory in ["/usr/sbin", "/sbin", "/usr/bin", "/bin", "/usr/local/sbin"] {
            let path = directory + "/nft"
            if access(path, X_OK) == 0 { return path }
        }
        return nil
    }

    public static let missingNftFix =
        "nft (nftables) is not installed; dromos run needs it to make the kernel drop the VIP frames it forwards: apt-get install nftables"

    /// Replaces any table of ours left by a crashed run, then installs the rule.
    public func install() throws(Failure) {
        guard let nft = Self.nftPath() else { throw Failure(description: Self.missingNftFix) }
        _ = try? Self.run([nft, "delete", "table", "netdev", Self.tableName])
        try Self.run([nft, "-f", "-"], input: script)
    }

    /// Swaps the running table for this one in one nft transaction: no moment without a rule, and a
    /// failure leaves the old rule in place. (`add` first so that the `delete` has a table to delete.)
    public func replace() throws(Failure) {
        guard let nft = Self.nftPath() else { throw Failure(description: Self.missingNftFix) }
        try Self.run([nft, "-f", "-"], input: "add table netdev \(Self.tableName)\ndelete table netdev \(Self.tableName)\n" + script)
    }

    public func remove() throws(Failure) {
        guard let nft = Self.nftPath() else { throw Failure(description: Self.missingNftFix) }
        try Self.run([nft, "delete", "table", "netdev", Self.tableName])
    }

    /// The interface our table's ingress hook is on, nil when there is no table (in the calling thread's
    /// network namespace).
    public static func installedInterface() -> String? {
        guard let nft = nftPath(), let listing = try? run([nft, "list", "table", "netdev", tableName]) else { return nil }
        guard let range = listing.range(of: "device \"") else { return "" }
        return String(listing[range.upperBound...].prefix { $0 != "\"" })
    }

    /// Whether our table exists (in the calling thread's network namespace).
    public static func isInstalled() -> Bool {
        guard let nft = nftPath() else { return false }
        return (try? run([nft, "list", "table", "netdev", tableName])) != nil
    }

    /// Runs nft (no shell), feeding `input` on stdin; throws with its output when it fails.
    @discardableResult
    static func run(_ arguments: [String], input: String = "") throws(Failure) -> String {
        do {
            let result = try HostCommand.runBlocking(arguments, input: input, timeoutSeconds: 30)
            guard result.status == 0 else {
                throw Failure(description: "\(arguments.joined(separator: " ")) failed: \(result.output)")
            }
            return result.output
        } catch let failure as Failure {
            throw failure
        } catch {
            throw Failure(description: "\(arguments[0]): \(error)")
        }
    }
}
