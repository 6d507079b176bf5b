import DromosBalancer
import DromosConfig
import DromosIO
import DromosSystem
import DromosWire

extension BackendSetup {
    /// Adds what is missing and returns one line per step. On a failure part-way, what was done so far
    /// is still recorded, so `teardown` can undo it.
    public func setup(dryRun: Bool = false) throws(HostError) -> [String] {
        guard !vips.isEmpty else { throw HostError("--vip: give at least one VIP") }
        if !dryRun { try Self.requireRoot("dromos backend setup") }
        let netlink = try Self.openNetlink()
        let host = try Host.read(netlink)
        guard host.loopbackIsUp else {
            throw HostError("\(Self.loopback) is down, so a VIP on it would not be local; bring it up first: ip link set \(Self.loopback) up")
        }
        for vip in vips {
            if let other = host.elsewhere(vip).first {
                throw HostError(
                    "VIP \(vip) is also \(other), so the host would claim it on the wire; remove it there first: "
                        + "ip addr del \(other.address)/\(other.prefixLength) dev \(other.interfaceName)")
            }
        }
        var state = try BackendSetupState.load(statePath)
        var lines: [String] = []
        let verb = dryRun ? "would " : ""
        do throws(HostError) {
            for vip in vips {
                let text = vip.description
                if !state.vips.contains(text) { state.vips.append(text) }
                if let present = host.onLoopback(vip) {
                    lines.append("ok: \(present) already")
                    continue
                }
                let address = InterfaceAddress(
                    address: vip, prefixLength: InterfaceAddress.hostPrefixLength(vip),
                    interfaceIndex: host.loopbackIndex, interfaceName: Self.loopback)
                if !dryRun {
                    do {
                        try netlink.add(address, noDAD: true)
                    } catch {
                        throw HostError("cannot add \(address): \(error)")
                    }
                    state.addedAddresses.append(.init(address: text, prefixLength: address.prefixLength, interface: Self.loopback))
                }
                lines.append("\(verb)add \(address)\(vip.isIPv4 ? "" : " (nodad)")")
            }
            for (setting, rule) in settings(host) {
                let current = try setting.read()
                if rule.accepted.contains(current) {
                    lines.append("ok: \(setting) = \(current) already")
                    continue
                }
                if !dryRun {
                    try setting.write(rule.wanted)
                    if let index = state.changedSettings.firstIndex(where: { $0.setting == setting }) {
                        state.changedSettings[index].applied = rule.wanted
                    } else {
                        state.changedSettings.append(.init(setting: setting, original: current, applied: rule.wanted))
                    }
                }
                lines.append("\(verb)set \(setting) = \(rule.wanted) (was \(current))")
            }
        } catch {
            if !dryRun { try? state.save(statePath) }
            throw error
        }
        if !dryRun { try state.save(statePath) }
        return lines
    }

    /// Removes the addresses setup added for `vips` (all of them when `vips` is empty) and, once no VIP
    /// set up remains, restores every setting to its value before setup and removes the state file.
    public func teardown(dryRun: Bool = false) throws(HostError) -> [String] {
        if !dryRun { try Self.requireRoot("dromos backend teardown") }
        var state = try BackendSetupState.load(statePath)
        guard !state.isEmpty else { return ["nothing to undo: no state at \(statePath)"] }
        let netlink = try Self.openNetlink()
        let host = try Host.read(netlink)
        let targets = vips.isEmpty ? Set(state.vips) : Set(vips.map(\.description))
        let verb = dryRun ? "would " : ""
        var lines: [String] = []
        for added in state.addedAddresses where targets.contains(added.address) {
            guard let vip = try? IPAddress(parsing: added.address), let present = host.onLoopback(vip) else {
                lines.append("ok: \(added.address)/\(added.prefixLength) is already gone from \(added.interface)")
                continue
            }
            if !dryRun {
                do {
                    try netlink.delete(present)
                } catch {
                    throw HostError("cannot remove \(present): \(error)")
                }
            }
            lines.append("\(verb)remove \(present)")
        }
        for vip in state.vips where targets.contains(vip) && !state.addedAddresses.contains(where: { $0.address == vip }) {
            lines.append("keep \(vip) on \(Self.loopback): it was there before setup")
        }
        state.addedAddresses.removeAll { targets.contains($0.address) }
        state.vips.removeAll { targets.contains($0) }
        guard state.vips.isEmpty else {
            lines.append("keep the ARP settings: VIPs \(state.vips.joined(separator: ", ")) still set up")
            if !dryRun { try state.save(statePath) }
            return lines
        }
        for change in state.changedSettings {
            let current = (try? change.setting.read()) ?? "?"
            let since = current == change.applied ? "" : " (it was \(current), changed since setup)"
            if !dryRun { try change.setting.write(change.original) }
            lines.append("\(verb)restore \(change.setting) = \(change.original)\(since)")
        }
        if !dryRun { try BackendSetupState.remove(statePath) }
        return lines
    }
}
