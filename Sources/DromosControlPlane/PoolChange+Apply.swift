import DromosBalancer
import DromosConfig
import DromosWire

extension PoolChange {
    /// Applies the change to `pool`; refuses what names something absent or duplicates something present.
    /// Pool-wide rules (unique names and keys, backend fields) are checked by the caller afterwards.
    func apply(to pool: inout RuntimePool) throws(ControlError) {
        switch self {
        case .reload:
            return
        case .addService(let service):
            if pool.services.contains(where: { $0.name == service.name }) {
                throw ControlError("service \"\(service.name)\" exists already")
            }
            if let other = pool.services.first(where: { $0.key == service.key }) {
                throw ControlError("service \"\(other.name)\" takes \(service.key) already")
            }
            pool.services.append(service)
        case .removeService(let name):
            pool.services.remove(at: try pool.serviceIndex(name))
            pool.forgetDrainsOfRemovedBackends()
        case .addBackend(let name, let backend):
            let service = try pool.serviceIndex(name)
            if pool.services[service].backends.contains(where: { $0.address == backend.address }) {
                throw ControlError("service \"\(name)\" has backend \(backend.address) already")
            }
            pool.services[service].backends.append(backend)
        case .removeBackend(let name, let address):
            let service = try pool.serviceIndex(name)
            let backend = try pool.backendIndex(service: service, address: address)
            guard pool.services[service].backends.count > 1 else {
                throw ControlError("\(address) is the last backend of service \"\(name)\"; a service needs one "
                                   + "(remove the service instead: service remove \(name))")
            }
            pool.services[service].backends.remove(at: backend)
            pool.forgetDrainsOfRemovedBackends()
        case .setWeight(let name, let address, let weight):
            let service = try pool.serviceIndex(name)
            let backend = try pool.backendIndex(service: service, address: address)
            pool.services[service].backends[backend].weight = weight
        case .drain(let name, let address):
            let service = try pool.serviceIndex(name)
            _ = try pool.backendIndex(service: service, address: address)
            let member = RuntimePool.Member(service: name, address: address)
            guard !pool.drained.contains(member) else { throw ControlError("\(address) of service \"\(name)\" is draining already") }
            pool.drained.insert(member)
        case .undrain(let name, let address):
            let service = try pool.serviceIndex(name)
            let backend = try pool.backendIndex(service: service, address: address)
            let member = RuntimePool.Member(service: name, address: address)
            guard pool.drained.remove(member) != nil else {
                let weight = pool.services[service].backends[backend].weight
                let hint = weight == 0 ? " (its configured weight is 0: give it one with backend weight)" : ""
                throw ControlError("\(address) of service \"\(name)\" is not draining\(hint)")
            }
        case .force(let name, let address, let state):
            let service = try pool.serviceIndex(name)
            _ = try pool.backendIndex(service: service, address: address)
            let member = RuntimePool.Member(service: name, address: address)
            let current = pool.forced[member]
            guard current != state else {
                throw ControlError(state.map { "\(address) of service \"\(name)\" is forced \($0.rawValue) already" }
                                   ?? "\(address) of service \"\(name)\" is not forced: its health checks decide already")
            }
            pool.forced[member] = state
        }
    }
}
