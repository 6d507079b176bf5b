public import DromosWire

/// An immutable snapshot of every service with its scheduler tables, built off the packet path.
///
/// Workers hold one reference per batch and read it without locks: nothing here changes after `init`,
/// which is why it may cross threads. The packet path reads only the trivial slot arrays (no ARC, no
/// existentials); the Swift arrays are for the control plane and reports.
public final class ForwardingTable: @unchecked Sendable {
    /// Hashes must agree between balancers that share a VIP, so the seed is fixed.
    public static let flowHashSeed: UInt64 = 0x4452_4f4d_4f53_0001
    public static let sourceHashSeed: UInt64 = 0x4452_4f4d_4f53_0002

    public let generation: UInt32
    public let services: [ServiceSpec]
    /// Every service's backends, in the order of `services`, each service's sorted by address.
    public let backends: [(service: Int, spec: BackendSpec, state: BackendState)]

    /// The packet path's view: a worker copies it at adoption and never touches the class again
    /// until the next batch boundary.
    public let view: TableView

    /// - Parameter states: health and MAC per backend; a backend missing here is up, with its static MAC.
    public init(generation: UInt32, services: [ServiceSpec], states: [BackendKey: BackendState] = [:]) throws(ForwardingTableError) {
        self.generation = generation
        self.services = services
        var flat: [(service: Int, spec: BackendSpec, state: BackendState)] = []
        var maglevTables: [[UInt32]] = []
        for (serviceNumber, service) in services.enumerated() {
            let sorted = service.backends.sorted { $0.address < $1.address }
            let base = UInt32(flat.count)
            var weighted: [(identity: IPAddress, weight: Int)] = []
            for backend in sorted {
                var state = states[BackendKey(service: service.key, address: backend.address)] ?? BackendState()
                if state.mac == nil { state.mac = backend.mac }
                flat.append((serviceNumber, backend, state))
                weighted.append((backend.address, Self.takesNewFlows(backend, state) ? backend.weight : 0))
            }
            // Only the hashing schedulers read a Maglev table; the others would carry 256 KiB for nothing.
            guard service.scheduler.isConsistentHash, weighted.contains(where: { $0.weight > 0 }) else {
                maglevTables.append([])
                continue
            }
            do {
                let table = try MaglevTable.build(backends: weighted, size: service.maglevTableSize)
                maglevTables.append(table.map { $0 &+ base })
            } catch {
                throw ForwardingTableError(service: service.name, reason: "\(error)")
            }
        }
        backends = flat
        let (serviceSlots, backendSlots, usable, maglev) = Self.makeSlots(services: services, backends: flat, maglevTables: maglevTables)
        view = TableView(
            generation: generation, serviceSlots: serviceSlots, backendSlots: backendSlots, usable: usable, maglev: maglev,
            serviceIndex: OpenIndex(capacityFor: services.count), backendIndex: OpenIndex(capacityFor: flat.count),
            vipIndex: OpenIndex(capacityFor: services.count), serviceCount: services.count, backendCount: flat.count)
        view.buildIndexes()
    }

    deinit {
        view.deallocate()
    }

    /// Up and reachable: a backend may keep the flows it has (draining ones too).
    private static func keepsFlows(_ state: BackendState) -> Bool { state.isUp && state.mac != nil }

    /// And with weight above 0: it may take new ones. The Maglev table, the usable lists and the slots
    /// all ask this one question, so a hashing service's table is empty exactly when nothing is usable.
    private static func takesNewFlows(_ spec: BackendSpec, _ state: BackendState) -> Bool {
        keepsFlows(state) && spec.weight > 0
    }

    private static func makeSlots(
        services: [ServiceSpec], backends: [(service: Int, spec: BackendSpec, state: BackendState)], maglevTables: [[UInt32]]
    ) -> (UnsafeMutableBufferPointer<ServiceSlot>, UnsafeMutableBufferPointer<BackendSlot>,
          UnsafeMutableBufferPointer<Int32>, UnsafeMutableBufferPointer<UInt32>) {
        let backendSlots = UnsafeMutableBufferPointer<BackendSlot>.allocate(capacity: max(backends.count, 1))
        var usableList: [Int32] = []
        for (index, backend) in backends.enumerated() {
            backendSlots.initializeElement(at: index, to: BackendSlot(
                address: backend.spec.address, mac: backend.state.mac ?? .zero, weight: Int32(backend.spec.weight),
                service: Int32(backend.service), takesNewFlows: takesNewFlows(backend.spec, backend.state),
                keepsFlows: keepsFlows(backend.state)))
        }
        let announced = Set(services.filter { $0.announce != .none }.map(\.key.vip))
        let serviceSlots = UnsafeMutableBufferPointer<ServiceSlot>.allocate(capacity: max(services.count, 1))
        let maglev = UnsafeMutableBufferPointer<UInt32>.allocate(capacity: max(maglevTables.reduce(0) { $0 + $1.count }, 1))
        var maglevOffset = 0
        var firstBackend = 0
        for (index, service) in services.enumerated() {
            let count = service.backends.count
            let firstUsable = usableList.count
            var maxWeight: Int32 = 0
            var weightGCD: Int32 = 0
            for backend in firstBackend..<(firstBackend + count) where backendSlots[backend].takesNewFlows {
                usableList.append(Int32(backend))
                let weight = backendSlots[backend].weight
                maxWeight = max(maxWeight, weight)
                weightGCD = greatestCommonDivisor(weightGCD, weight)
            }
            let table = maglevTables[index]
            _ = UnsafeMutableBufferPointer(rebasing: maglev[maglevOffset..<(maglevOffset + table.count)]).initialize(from: table)
            serviceSlots.initializeElement(at: index, to: ServiceSlot(
                vip: service.key.vip, transport: service.key.transport.rawValue, port: service.key.port ?? 0,
                hasPort: service.key.port != nil, scheduler: service.scheduler,
                firstBackend: Int32(firstBackend), backendCount: Int32(count),
                firstUsable: Int32(firstUsable), usableCount: Int32(usableList.count - firstUsable),
                maglevOffset: maglevOffset, maglevSize: table.count, maxWeight: maxWeight, weightGCD: weightGCD,
                announcesVIP: announced.contains(service.key.vip)))
            maglevOffset += table.count
            firstBackend += count
        }
        let usable = UnsafeMutableBufferPointer<Int32>.allocate(capacity: max(usableList.count, 1))
        _ = usable.initialize(from: usableList)
        return (serviceSlots, backendSlots, usable, maglev)
    }

    // MARK: Lookups, for callers off the packet path

    public func lookupService(vip: IPAddress, transport: UInt8, port: UInt16?) -> Int32 {
        view.lookupService(vip: vip, transport: transport, port: port)
    }

    public func lookupVIP(_ vip: IPAddress) -> Int32 { view.lookupVIP(vip) }

    public func lookupBackend(service: Int32, address: IPAddress) -> Int32 {
        view.lookupBackend(service: service, address: address)
    }

    // MARK: Reading (control plane, reports)

    public func backendMAC(_ index: Int32) -> MACAddress? { backends[Int(index)].state.mac }

    /// The VIPs Dromos answers ARP/NDP for and announces, each once, in service order.
    public var announcedVIPs: [IPAddress] {
        var seen: Set<IPAddress> = []
        return services.filter { $0.announce != .none }.map(\.key.vip).filter { seen.insert($0).inserted }
    }
    public func backendAddress(_ index: Int32) -> IPAddress { backends[Int(index)].spec.address }
    public func serviceName(_ index: Int32) -> String { services[Int(index)].name }

    /// The VIPs with a service that has a backend taking new flows (up, MAC known, weight above 0), each
    /// once, in service order: the VIPs this table can serve.
    public var servableVIPs: [IPAddress] {
        var seen: Set<IPAddress> = []
        return services.indices.filter { view.serviceSlots[$0].usableCount > 0 }.map { services[$0].key.vip }
            .filter { seen.insert($0).inserted }
    }

    /// Service `index`'s lookup table as the backend each slot sends new flows to; nil for a scheduler
    /// without one (rr, wrr, lc, wlc) or a service with no backend taking new flows.
    public func lookupTable(service index: Int) -> [IPAddress]? {
        let slot = view.serviceSlots[index]
        guard slot.scheduler.isConsistentHash, slot.usableCount > 0 else { return nil }
        return (0..<slot.maglevSize).map { backendAddress(Int32(truncatingIfNeeded: view.maglev[slot.maglevOffset + $0])) }
    }

    /// Backend indices of service `index` that take new flows.
    public func usableBackends(service index: Int) -> [Int32] {
        let slot = view.serviceSlots[index]
        return (0..<Int(slot.usableCount)).map { view.usable[Int(slot.firstUsable) + $0] }
    }
}

func greatestCommonDivisor(_ a: Int32, _ b: Int32) -> Int32 {
    var (a, b) = (a, b)
    while b != 0 { (a, b) = (b, a % b) }
    return a
}
