public import DromosWire

/// Maglev consistent hashing (Eisenbud et al., "Maglev: A Fast and Reliable Software Network Load
/// Balancer", NSDI'16), with weights as in Katran's MaglevV2: in each round every backend adds its
/// weight to a credit and claims one slot per `maximumWeight` of credit, so the heaviest backend claims
/// every round and the others in proportion. Each backend claims slots along its own permutation of the
/// table, which is what keeps a pool change from moving flows between backends that stayed.
public enum MaglevTable {
    /// Seeds for a backend's permutation, fixed so that every Dromos instance with the same pool builds
    /// the same table. Their bytes spell "MaglevOf" and "MaglevSk" in ASCII.
    public static let offsetSeed: UInt64 = 0x4d61_676c_6576_4f66
    public static let skipSeed: UInt64 = 0x4d61_676c_6576_536b

    public static var maximumSize: Int { ServiceSpec.maximumMaglevTableSize }

    /// Marks a slot nobody has claimed yet; no caller index can reach it (a table has at most
    /// `maximumSize` slots and every claimant is a caller index).
    private static let unclaimed = UInt32.max

    /// The lookup table: `size` slots, each an index into `backends`. It depends only on the set of
    /// (identity, weight) pairs, never on their order, so balancers fed the same pool in a different
    /// order still agree. Backends of weight 0 are draining and get no slots.
    public static func build(
        backends: [(identity: IPAddress, weight: Int)], size: Int
    ) throws(MaglevError) -> [UInt32] {
        guard size >= 2, size <= maximumSize else { throw .sizeOutOfRange(size: size, maximum: maximumSize) }
        guard isPrime(size) else { throw .sizeNotPrime(size: size) }
        var claimants = try claimants(of: backends, size: size)
        return fill(&claimants, size: size)
    }

    public static func isPrime(_ n: Int) -> Bool {
        if n < 2 { return false }
        if n < 4 { return true }
        if n % 2 == 0 || n % 3 == 0 { return false }
        // Every prime above 3 is 6k ± 1; `divisor <= n / divisor` is the square-root bound without overflow.
        var divisor = 5
        while divisor <= n / divisor {
            if n % divisor == 0 || n % (divisor + 2) == 0 { return false }
            divisor += 6
        }
        return true
    }

    /// The backends that take slots, in identity order: the order of claims within a round decides
    /// contested slots, so it must not be the caller's.
    private static func claimants(
        of backends: [(identity: IPAddress, weight: Int)], size: Int
    ) throws(MaglevError) -> [Claimant] {
        let byIdentity = backends.indices.sorted { backends[$0].identity < backends[$1].identity }
        var claimants: [Claimant] = []
        claimants.reserveCapacity(backends.count)
        var previous: IPAddress?
        for index in byIdentity {
            let (identity, weight) = backends[index]
            if identity == previous { throw .duplicateIdentity(identity) }
            previous = identity
            if weight < 0 { throw .negativeWeight(identity: identity, weight: weight) }
            if weight > BackendSpec.maximumWeight {
                throw .weightTooLarge(identity: identity, weight: weight, maximum: BackendSpec.maximumWeight)
            }
            guard weight > 0 else { continue }
            let tableSize = UInt64(size)
            let offset = StableHash.hash(identity, seed: offsetSeed) % tableSize
            // In 1..<size, so with a prime size the walk visits every slot before it repeats.
            let skip = StableHash.hash(identity, seed: skipSeed) % (tableSize - 1) + 1
            claimants.append(Claimant(owner: UInt32(index), weight: weight, skip: Int(skip), next: Int(offset)))
        }
        if claimants.isEmpty { throw .noWeightedBackend(backendCount: backends.count) }
        return claimants
    }

    private static func fill(_ claimants: inout [Claimant], size: Int) -> [UInt32] {
        let maximumWeight = claimants.reduce(0) { max($0, $1.weight) }
        var table = [UInt32](repeating: unclaimed, count: size)
        table.withUnsafeMutableBufferPointer { slots in
            claimants.withUnsafeMutableBufferPointer { claimants in
                var claimed = 0
                // Ends: the heaviest backend claims a slot every round, and its walk reaches every
                // slot, so it always finds a free one while any is left.
                rounds: while true {
                    for index in claimants.indices {
                        claimants[index].credit += claimants[index].weight
                        guard claimants[index].credit >= maximumWeight else { continue }
                        claimants[index].credit -= maximumWeight
                        let skip = claimants[index].skip
                        var slot = claimants[index].next
                        while slots[slot] != unclaimed {
                            slot = advance(slot, by: skip, size: size)
                        }
                        slots[slot] = claimants[index].owner
                        claimants[index].next = advance(slot, by: skip, size: size)
                        claimed += 1
                        if claimed == size { break rounds }
                    }
                }
            }
        }
        return table
    }

    /// The next position of a permutation, `(offset + j * skip) % size` for the next j, with one
    /// addition instead of a multiplication and a division per probe.
    @inline(__always)
    private static func advance(_ slot: Int, by skip: Int, size: Int) -> Int {
        let next = slot + skip
        return next >= size ? next - size : next
    }

    /// One backend's progress through its permutation while the table fills.
    private struct Claimant {
        let owner: UInt32
        let weight: Int
        let skip: Int
        var next: Int
        var credit = 0
    }
}

/// Why a Maglev table cannot be built. Each case names the offending value, for the configuration
/// error the control plane reports.
public enum MaglevError: Error, Equatable, Sendable, CustomStringConvertible {
    case sizeOutOfRange(size: Int, maximum: Int)
    case sizeNotPrime(size: Int)
    case negativeWeight(identity: IPAddress, weight: Int)
    case weightTooLarge(identity: IPAddress, weight: Int, maximum: Int)
    case duplicateIdentity(IPAddress)
    case noWeightedBackend(backendCount: Int)

    public var description: String {
        switch self {
        case .sizeOutOfRange(let size, let maximum):
            return "Maglev table size \(size) is out of range: it must be a prime from 2 to \(maximum)"
        case .sizeNotPrime(let size):
            return "Maglev table size \(size) is not prime (a backend's walk would miss slots); "
                + "the next prime is \(MaglevError.prime(after: size))"
        case .negativeWeight(let identity, let weight):
            return "backend \(identity) has weight \(weight): a weight must be 0 (draining) or more"
        case .weightTooLarge(let identity, let weight, let maximum):
            return "backend \(identity) has weight \(weight): the largest weight is \(maximum)"
        case .duplicateIdentity(let identity):
            return "backend \(identity) appears more than once in the pool"
        case .noWeightedBackend(let backendCount):
            if backendCount == 0 { return "the pool has no backends: a Maglev table needs at least one" }
            return "no backend has a weight above 0 (all \(backendCount) are draining): "
                + "a Maglev table needs at least one"
        }
    }

    private static func prime(after n: Int) -> Int {
        var candidate = n + 1
        while !MaglevTable.isPrime(candidate) { candidate += 1 }
        return candidate
    }
}
