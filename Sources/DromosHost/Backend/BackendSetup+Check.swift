import DromosBalancer
import DromosConfig
import DromosIO
import DromosSystem
import DromosWire

/// One condition `dromos backend check` tests, and how to fix it when it does not hold.
public struct BackendCondition: Equatable, Sendable {
    public var holds: Bool
    public var statement: String
    public var fix: String?

    public var line: String {
        holds ? "ok    \(statement)" : "FAIL  \(statement)" + (fix.map { "\n      fix: \($0)" } ?? "")
    }
}

extension BackendSetup {
    /// Reads the host; changes nothing, needs no root.
    public func check() throws(HostError) -> [BackendCondition] {
        guard !vips.isEmpty else { throw HostError("--vip: give at least one VIP") }
        let host = try Host.read(try Self.openNetlink())
        let setupHint = "dromos backend setup " + vips.map { "--vip \($0)" }.joined(separator: " ")
        var conditions = [BackendCondition(
            holds: host.loopbackIsUp, statement: "\(Self.loopback) is up (an address on a down lo is not local)",
            fix: "ip link set \(Self.loopback) up")]
        for vip in vips {
            let length = InterfaceAddress.hostPrefixLength(vip)
            let present = host.onLoopback(vip)
            conditions.append(BackendCondition(
                holds: present != nil, statement: "VIP \(vip) is on \(Self.loopback)" + (present.map { " (/\($0.prefixLength))" } ?? ""),
                fix: "\(setupHint)  (or: ip addr add \(vip)/\(length) dev \(Self.loopback)\(vip.isIPv4 ? "" : " nodad"))"))
            if let present, !vip.isIPv4 {
                let usable = present.flags & (InterfaceAddress.tentative | InterfaceAddress.dadFailed) == 0
                conditions.append(BackendCondition(
                    holds: usable, statement: "VIP \(vip) on \(Self.loopback) is usable (not tentative, DAD did not fail)",
                    fix: "ip addr del \(vip)/\(present.prefixLength) dev \(Self.loopback) && ip addr add \(vip)/128 dev \(Self.loopback) nodad"))
            }
            let others = host.elsewhere(vip)
            conditions.append(BackendCondition(
                holds: others.isEmpty,
                statement: "VIP \(vip) is on no other interface (the host answers \(vip.isIPv4 ? "ARP" : "neighbor solicitations") there)"
                    + (others.isEmpty ? "" : ": " + others.map(\.description).joined(separator: ", ")),
                fix: others.map { "ip addr del \($0.address)/\($0.prefixLength) dev \($0.interfaceName)" }.joined(separator: "; ")))
        }
        for (setting, rule) in settings(host) {
            let current: String
            do {
                current = try setting.read()
            } catch {
                conditions.append(BackendCondition(holds: false, statement: "\(setting) is readable: \(error)", fix: nil))
                continue
            }
            let accepted = rule.accepted.sorted().joined(separator: " or ")
            conditions.append(BackendCondition(
                holds: rule.accepted.contains(current),
                statement: "\(setting) = \(current), want \(accepted) (\(rule.why))",
                fix: "\(setupHint)  (or: sysctl -w \(setting)=\(rule.wanted))"))
        }
        return conditions
    }
}
