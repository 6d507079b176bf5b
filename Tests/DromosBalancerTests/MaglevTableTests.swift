import Testing
import DromosBalancer
import DromosWire

@Suite struct MaglevTableTests {
    typealias Pool = [(identity: IPAddress, weight: Int)]

    static let size = 65_537

    // MARK: Balance and weights

    @Test(arguments: [10, 100])
    func equalWeightsShareTheTableEvenly(backendCount: Int) throws {
        let pool = Self.pool(weights: Array(repeating: 1, count: backendCount))
        let counts = Self.slotCounts(try MaglevTable.build(backends: pool, size: Self.size), backendCount: backendCount)
        let ratio = Double(counts.max()!) / Double(counts.min()!)
        #expect(ratio <= 1.01, "fullest / emptiest backend = \(ratio): \(counts)")
    }

    @Test(arguments: [
        [1, 2, 3, 4],
        [3, 1, 5, 2, 4, 1, 5, 3, 2, 4],
        [1, 65_535],
    ])
    func eachBackendGetsItsWeightsShare(weights: [Int]) throws {
        let pool = Self.pool(weights: weights)
        let counts = Self.slotCounts(try MaglevTable.build(backends: pool, size: Self.size), backendCount: weights.count)
        let total = Double(weights.reduce(0, +))
        for (index, weight) in weights.enumerated() {
            let share = Double(counts[index]) / Double(Self.size)
            let error = abs(share - Double(weight) / total)
            #expect(error <= 0.01, "backend \(index) of weight \(weight) holds \(share) of the table")
        }
    }

    // MARK: Disruption

    @Test func removingABackendMovesLittleMoreThanItsOwnSlots() throws {
        let pool = Self.pool(weights: Array(repeating: 1, count: 10))
        let before = Self.owners(pool, try MaglevTable.build(backends: pool, size: Self.size))
        let removed = pool[4].identity
        let remaining = pool.filter { $0.identity != removed }
        let after = Self.owners(remaining, try MaglevTable.build(backends: remaining, size: Self.size))

        let removedShare = Self.share(of: removed, in: before)
        let moved = Self.fractionChanged(before, after)
        #expect(moved <= removedShare + 0.01, "\(moved) of slots moved; the removed backend held \(removedShare)")
    }

    @Test func addingABackendMovesLittleMoreThanItsNewSlots() throws {
        let pool = Self.pool(weights: Array(repeating: 1, count: 10))
        let before = Self.owners(pool, try MaglevTable.build(backends: pool, size: Self.size))
        let added = IPAddress.v4(IPv4Address(198, 18, 2, 1))
        let grown = pool + [(identity: added, weight: 1)]
        let after = Self.owners(grown, try MaglevTable.build(backends: grown, size: Self.size))

        let addedShare = Self.share(of: added, in: after)
        let moved = Self.fractionChanged(before, after)
        #expect(moved <= addedShare + 0.01, "\(moved) of slots moved; the new backend took \(addedShare)")
    }

    // MARK: Determinism

    @Test func buildsAgree() throws {
        let pool = Self.pool(weights: [3, 1, 4, 1, 5, 9, 2, 6])
        #expect(try MaglevTable.build(backends: pool, size: 65_537) == MaglevTable.build(backends: pool, size: 65_537))
    }

    /// Balancers fed the same pool in another order (another config file, another control-plane
    /// history) must still send each flow to the same backend.
    @Test func inputOrderDoesNotMatter() throws {
        let pool = Self.pool(weights: [3, 1, 4, 1, 5, 9, 2, 6, 5, 3]) + [
            (identity: try IPAddress(parsing: "2001:db8::11"), weight: 2),
            (identity: try IPAddress(parsing: "2001:db8::12"), weight: 0),
        ]
        let reference = Self.owners(pool, try MaglevTable.build(backends: pool, size: 65_537))
        var generator = SplitMix64(seed: 42)
        for _ in 0..<5 {
            let shuffled = pool.shuffled(using: &generator)
            #expect(Self.owners(shuffled, try MaglevTable.build(backends: shuffled, size: 65_537)) == reference)
        }
    }

    /// A whole table and a small one, computed by a separate Python model of the algorithm over
    /// libxxhash: every Dromos build must keep producing exactly these.
    @Test func tablesArePinned() throws {
        let small: Pool = [
            (identity: try IPAddress(parsing: "198.18.1.13"), weight: 3),
            (identity: try IPAddress(parsing: "198.18.1.11"), weight: 1),
            (identity: try IPAddress(parsing: "2001:db8::12"), weight: 2),
            (identity: try IPAddress(parsing: "198.18.1.12"), weight: 0),
        ]
        #expect(try MaglevTable.build(backends: small, size: 13) == [0, 1, 0, 2, 2, 0, 0, 2, 0, 0, 2, 0, 1])

        let large: Pool = (1...100).map { (identity: .v4(IPv4Address(10, 0, 0, UInt8($0))), weight: $0 % 5 + 1) }
        let table = try MaglevTable.build(backends: large, size: 65_537)
        #expect(Array(table.prefix(8)) == [30, 7, 39, 25, 83, 3, 23, 8])
        let checksum = table.map { $0.littleEndian }.withUnsafeBytes { StableHash.hash($0, seed: 0) }
        #expect(checksum == 0xfa6b_eabf_e7de_15c3)
    }

    // MARK: Draining

    @Test func aDrainingBackendGetsNoSlotsAndLeavesTheOthersAsIfItWereGone() throws {
        var pool = Self.pool(weights: Array(repeating: 2, count: 6))
        pool[2].weight = 0
        let table = try MaglevTable.build(backends: pool, size: Self.size)
        #expect(!table.contains(2))

        let without = pool.filter { $0.weight > 0 }
        #expect(Self.owners(pool, table) == Self.owners(without, try MaglevTable.build(backends: without, size: Self.size)))
    }

    @Test func aPoolWithNoWeightCannotBuild() throws {
        let draining = Self.pool(weights: [0, 0, 0])
        #expect(throws: MaglevError.noWeightedBackend(backendCount: 3)) {
            try MaglevTable.build(backends: draining, size: 13)
        }
        #expect(throws: MaglevError.noWeightedBackend(backendCount: 0)) {
            try MaglevTable.build(backends: [], size: 13)
        }
    }

    // MARK: Errors

    @Test(arguments: [
        (0, MaglevError.sizeOutOfRange(size: 0, maximum: 655_373),
         "Maglev table size 0 is out of range: it must be a prime from 2 to 655373"),
        (1, .sizeOutOfRange(size: 1, maximum: 655_373),
         "Maglev table size 1 is out of range: it must be a prime from 2 to 655373"),
        (655_379, .sizeOutOfRange(size: 655_379, maximum: 655_373),
         "Maglev table size 655379 is out of range: it must be a prime from 2 to 655373"),
        (65_536, .sizeNotPrime(size: 65_536),
         "Maglev table size 65536 is not prime (a backend's walk would miss slots); the next prime is 65537"),
    ] as [(Int, MaglevError, String)])
    func badSizesAreRefused(size: Int, error: MaglevError, message: String) {
        #expect(throws: error) { try MaglevTable.build(backends: Self.pool(weights: [1]), size: size) }
        #expect(error.description == message)
    }

    @Test func badWeightsAndDuplicatesAreRefused() throws {
        let first = IPAddress.v4(IPv4Address(198, 18, 1, 1))
        let second = IPAddress.v4(IPv4Address(198, 18, 1, 2))
        let cases: [(Pool, MaglevError, String)] = [
            ([(first, 1), (second, -1)], .negativeWeight(identity: second, weight: -1),
             "backend 198.18.1.2 has weight -1: a weight must be 0 (draining) or more"),
            ([(first, 65_536)], .weightTooLarge(identity: first, weight: 65_536, maximum: 65_535),
             "backend 198.18.1.1 has weight 65536: the largest weight is 65535"),
            ([(first, 1), (second, 1), (first, 0)], .duplicateIdentity(first),
             "backend 198.18.1.1 appears more than once in the pool"),
            ([(first, 0), (second, 0)], .noWeightedBackend(backendCount: 2),
             "no backend has a weight above 0 (all 2 are draining): a Maglev table needs at least one"),
            ([], .noWeightedBackend(backendCount: 0), "the pool has no backends: a Maglev table needs at least one"),
        ]
        for (pool, error, message) in cases {
            #expect(throws: error) { try MaglevTable.build(backends: pool, size: 13) }
            #expect(error.description == message)
        }
    }

    @Test func theLimitsThemselvesBuild() throws {
        let one = Self.pool(weights: [1])
        #expect(try MaglevTable.build(backends: one, size: 2) == [0, 0])
        let largest = try MaglevTable.build(backends: Self.pool(weights: [1, 1, 1]), size: 655_373)
        #expect(largest.count == 655_373)
        #expect(Set(largest) == [0, 1, 2])
    }

    @Test func isPrimeKnowsItsNumbers() {
        for prime in [2, 3, 5, 13, 251, 65_537, 655_373] {
            #expect(MaglevTable.isPrime(prime), "\(prime)")
        }
        // 655,371 = 3 × 218,457 and 25 = 5², 49 = 7²: squares of the 6k ± 1 candidates must not slip through.
        for composite in [-7, 0, 1, 4, 9, 25, 49, 65_536, 655_371] {
            #expect(!MaglevTable.isPrime(composite), "\(composite)")
        }
    }

    // MARK: Helpers

    static func pool(weights: [Int]) -> Pool {
        weights.enumerated().map { index, weight in
            (identity: .v4(IPv4Address(rawValue: 0xc612_0100 + UInt32(index) + 1)), weight: weight)
        }
    }

    static func slotCounts(_ table: [UInt32], backendCount: Int) -> [Int] {
        var counts = [Int](repeating: 0, count: backendCount)
        for owner in table { counts[Int(owner)] += 1 }
        return counts
    }

    /// The table read as identities, which is what survives a change to the caller's indices.
    static func owners(_ pool: Pool, _ table: [UInt32]) -> [IPAddress] {
        table.map { pool[Int($0)].identity }
    }

    static func share(of identity: IPAddress, in owners: [IPAddress]) -> Double {
        Double(owners.count { $0 == identity }) / Double(owners.count)
    }

    static func fractionChanged(_ before: [IPAddress], _ after: [IPAddress]) -> Double {
        Double(zip(before, after).count { $0 != $1 }) / Double(before.count)
    }
}
