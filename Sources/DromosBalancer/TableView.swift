public import DromosWire

/// The packet path's window on a `ForwardingTable`: pointers and counts only, so copying it, passing
/// it and reading through it costs no reference counting. Valid while its table is alive; a worker
/// keeps the table referenced for exactly as long as it uses the view.
public struct TableView {
    public let generation: UInt32
    @usableFromInline let serviceSlots: UnsafeMutableBufferPointer<ServiceSlot>
    @usableFromInline let backendSlots: UnsafeMutableBufferPointer<BackendSlot>
    @usableFromInline let usable: UnsafeMutableBufferPointer<Int32>
    @usableFromInline let maglev: UnsafeMutableBufferPointer<UInt32>
    @usableFromInline let serviceIndex: OpenIndex
    @usableFromInline let backendIndex: OpenIndex
    @usableFromInline let vipIndex: OpenIndex
    public let serviceCount: Int
    public let backendCount: Int

    init(generation: UInt32, serviceSlots: UnsafeMutableBufferPointer<ServiceSlot>,
         backendSlots: UnsafeMutableBufferPointer<BackendSlot>, usable: UnsafeMutableBufferPointer<Int32>,
         maglev: UnsafeMutableBufferPointer<UInt32>, serviceIndex: OpenIndex, backendIndex: OpenIndex,
         vipIndex: OpenIndex, serviceCount: Int, backendCount: Int) {
        self.generation = generation
        self.serviceSlots = serviceSlots
        self.backendSlots = backendSlots
        self.usable = usable
        self.maglev = maglev
        self.serviceIndex = serviceIndex
        self.backendIndex = backendIndex
        self.vipIndex = vipIndex
        self.serviceCount = serviceCount
        self.backendCount = backendCount
    }

    func buildIndexes() {
        for index in 0..<serviceCount {
            let slot = serviceSlots[index]
            serviceIndex.insert(Int32(index), hash: Self.serviceHash(slot.vip, slot.transport, slot.hasPort ? slot.port : nil))
            if lookupVIP(slot.vip) < 0 {
                vipIndex.insert(Int32(index), hash: indexHash(slot.vip, 0))
            }
        }
        for index in 0..<backendCount {
            let slot = backendSlots[index]
            backendIndex.insert(Int32(index), hash: indexHash(slot.address, UInt64(slot.service)))
        }
    }

    func deallocate() {
        serviceSlots.deallocate()
        backendSlots.deallocate()
        usable.deallocate()
        maglev.deallocate()
        serviceIndex.deallocate()
        backendIndex.deallocate()
        vipIndex.deallocate()
    }

    @inlinable
    static func serviceHash(_ vip: IPAddress, _ transport: UInt8, _ port: UInt16?) -> UInt64 {
        indexHash(vip, UInt64(transport) << 32 | UInt64(port ?? 0) | (port == nil ? 1 << 40 : 0))
    }

    /// The service for traffic to `vip`: the one for `port` if there is one, else the all-ports one.
    @inlinable
    public func lookupService(vip: IPAddress, transport: UInt8, port: UInt16?) -> Int32 {
        if let port {
            let exact = probeService(vip, transport, port)
            if exact >= 0 { return exact }
        }
        return probeService(vip, transport, nil)
    }

    @inlinable
    func probeService(_ vip: IPAddress, _ transport: UInt8, _ port: UInt16?) -> Int32 {
        var position = Int(truncatingIfNeeded: Self.serviceHash(vip, transport, port)) & serviceIndex.mask
        while true {
            let candidate = serviceIndex.slots[position]
            if candidate < 0 { return -1 }
            let slot = serviceSlots[Int(candidate)]
            if slot.vip == vip && slot.transport == transport && slot.hasPort == (port != nil) && slot.port == (port ?? 0) {
                return candidate
            }
            position = (position &+ 1) & serviceIndex.mask
        }
    }

    /// `lookupService(vip: key.destination, transport: key.ipProtocol, port: key.destinationPort)` on the
    /// key's words: the packet path's probe, without building the address.
    @inline(always)
    func lookupService(destinationOf key: FlowKey) -> Int32 {
        let exact = probeService(destinationOf: key, hasPort: true)
        return exact >= 0 ? exact : probeService(destinationOf: key, hasPort: false)
    }

    @inline(always)
    func probeService(destinationOf key: FlowKey, hasPort: Bool) -> Int32 {
        let isIPv6 = key.destinationIsIPv6
        let transport = key.ipProtocol
        let port = hasPort ? key.destinationPort : 0
        // `IPAddress.words`: an IPv4 address in its IPv4-mapped form.
        let low = isIPv6 ? key.destinationLow : key.destinationLow | 0xffff_0000_0000
        let extra = UInt64(transport) << 32 | UInt64(port) | (hasPort ? 0 : 1 << 40)
        var position = Int(truncatingIfNeeded: indexHash(high: key.destinationHigh, low: low, extra)) & serviceIndex.mask
        while true {
            let candidate = serviceIndex.slots[position]
            if candidate < 0 { return -1 }
            let slot = serviceSlots[Int(candidate)]
            if slot.vipLow == key.destinationLow && slot.vipHigh == key.destinationHigh && slot.vipIsIPv6 == isIPv6
                && slot.transport == transport && slot.hasPort == hasPort && slot.port == port {
                return candidate
            }
            position = (position &+ 1) & serviceIndex.mask
        }
    }

    /// `lookupVIP(key.destination)` on the key's words.
    @inline(always)
    func lookupVIP(destinationOf key: FlowKey) -> Int32 {
        let isIPv6 = key.destinationIsIPv6
        // `IPAddress.words`: an IPv4 address in its IPv4-mapped form.
        let low = isIPv6 ? key.destinationLow : key.destinationLow | 0xffff_0000_0000
        var position = Int(truncatingIfNeeded: indexHash(high: key.destinationHigh, low: low, 0)) & vipIndex.mask
        while true {
            let candidate = vipIndex.slots[position]
            if candidate < 0 { return -1 }
            let slot = serviceSlots[Int(candidate)]
            if slot.vipLow == key.destinationLow && slot.vipHigh == key.destinationHigh && slot.vipIsIPv6 == isIPv6 {
                return candidate
            }
            position = (position &+ 1) & vipIndex.mask
        }
    }

    /// Any service with this VIP, or -1: tells "ours but unusable" from "not ours".
    @inlinable
    public func lookupVIP(_ vip: IPAddress) -> Int32 {
        var position = Int(truncatingIfNeeded: indexHash(vip, 0)) & vipIndex.mask
        while true {
            let candidate = vipIndex.slots[position]
            if candidate < 0 { return -1 }
            if serviceSlots[Int(candidate)].vip == vip { return candidate }
            position = (position &+ 1) & vipIndex.mask
        }
    }

    /// Whether Dromos answers ARP/NDP for `vip` (some service of it has `announce: arp`).
    @inlinable
    public func announces(_ vip: IPAddress) -> Bool {
        let service = lookupVIP(vip)
        return service >= 0 && serviceSlots[Int(service)].announcesVIP
    }

    /// The backend with `address` in service `service`, or -1.
    @inlinable
    public func lookupBackend(service: Int32, address: IPAddress) -> Int32 {
        var position = Int(truncatingIfNeeded: indexHash(address, UInt64(service))) & backendIndex.mask
        while true {
            let candidate = backendIndex.slots[position]
            if candidate < 0 { return -1 }
            let slot = backendSlots[Int(candidate)]
            if slot.service == service && slot.address == address { return candidate }
            position = (position &+ 1) & backendIndex.mask
        }
    }
}

extension TableView {
    /// The service with exactly this key (no fall-back to the all-ports service), or -1.
    public func lookupServiceExactly(_ key: ServiceKey) -> Int32 {
        probeService(key.vip, key.transport.rawValue, key.port)
    }

    /// Whether existing flows may stay on backend `index` (up and reachable, draining or not).
    public func keepsFlows(_ index: Int32) -> Bool {
        backendSlots[Int(index)].keepsFlows
    }
}
