import DromosBalancer
import DromosWire

extension ForwardingTable {
    /// The table a running daemon builds once every backend's MAC is resolved and every backend is up:
    /// what `whatif` and `--fingerprint` compare. Without this a backend with no static MAC (resolved by
    /// ARP/NDP in a daemon, the usual case) would take no flows here, and every report would say nothing moves.
    static func resolved(generation: UInt32, services: [ServiceSpec]) throws -> ForwardingTable {
        // Locally administered, never sent anywhere: only "a MAC is known" matters to these reports.
        let standIn = MACAddress(0x02, 0, 0, 0, 0, 0x01)
        var states: [BackendKey: BackendState] = [:]
        for service in services {
            for backend in service.backends where backend.mac == nil {
                states[BackendKey(service: service.key, address: backend.address)] = BackendState(isUp: true, mac: standIn)
            }
        }
        return try ForwardingTable(generation: generation, services: services, states: states)
    }
}
