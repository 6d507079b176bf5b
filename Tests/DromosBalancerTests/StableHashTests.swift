import Testing
import CAllocationCounter
import DromosBalancer
import DromosWire

/// The values pinned here were computed outside Swift: xxHash64 by the C library (libxxhash 0.8.1,
/// `XXH64`), the address and flow hashes by a separate Python model of their definitions. A change that
/// breaks one of them remaps flows between balancers running old and new builds.
@Suite struct StableHashTests {
    // MARK: xxHash64

    /// Published in xxHash's documentation and python-xxhash's README.
    @Test(arguments: [
        ("", 0xef46_db37_51d8_e999),
        ("a", 0xd24e_c4f1_a98c_6e5b),
        ("abc", 0x44bc_2cf5_ad77_0999),
        ("Nobody inspects the spammish repetition", 0xfbce_a83c_8a37_8bf1),
    ] as [(String, UInt64)])
    func xxHash64PublishedVectors(text: String, expected: UInt64) {
        let hash = Array(text.utf8).withUnsafeBytes { StableHash.hash($0, seed: 0) }
        #expect(hash == expected)
    }

    /// Bytes 0, 1, 2, … of each length, so that every path runs: the 32-byte stripes, 8-byte words,
    /// a 4-byte word and single bytes, with and without a seed.
    @Test(arguments: [
        (4, 0, 0xffce_d860_4453_cc1e),
        (8, 0, 0x884a_1736_14b8_1b8d),
        (15, 1, 0xc60a_a959_76ed_0e4e),
        (31, 0x9e37_79b9_7f4a_7c15, 0xf3da_6d05_709c_035d),
        (32, 0, 0xcbf5_9c51_16ff_32b4),
        (50, 2, 0x1ab3_6e7a_e7f2_3113),
        (101, 0x27d4_eb2f_1656_67c5, 0xd92b_7684_6ef0_7010),
    ] as [(Int, UInt64, UInt64)])
    func xxHash64MatchesTheCLibrary(length: Int, seed: UInt64, expected: UInt64) {
        let bytes = (0..<length).map { UInt8($0) }
        #expect(bytes.withUnsafeBytes { StableHash.hash($0, seed: seed) } == expected)
    }

    // MARK: Addresses

    @Test func addressHashIsXXHash64OfTheCanonicalBytes() throws {
        let address = try IPAddress(parsing: "192.0.2.1")
        let canonical: [UInt8] = [StableHash.ipv4Tag, 192, 0, 2, 1]
        let expected = canonical.withUnsafeBytes { StableHash.hash($0, seed: 0) }
        #expect(StableHash.hash(address, seed: 0) == expected)
        #expect(expected == 0x3a14_6d38_1b89_6948)

        let v6 = try IPAddress(parsing: "2001:db8::1")
        let v6Canonical: [UInt8] = [StableHash.ipv6Tag, 0x20, 0x01, 0x0d, 0xb8] + Array(repeating: 0, count: 11) + [1]
        #expect(StableHash.hash(v6, seed: 7) == v6Canonical.withUnsafeBytes { StableHash.hash($0, seed: 7) })
    }

    @Test(arguments: [
        ("192.0.2.1", MaglevTable.offsetSeed, 0xb8d4_9bc3_adb9_f8a2),
        ("2001:db8::1", MaglevTable.skipSeed, 0xe07a_1379_59af_cd3b),
        ("10.0.0.1", 7, 0x0b3f_9628_bab6_0e91),
        ("::ffff:192.0.2.1", 0, 0x4f04_0910_35bb_bbfe),
    ] as [(String, UInt64, UInt64)])
    func addressHashIsPinned(text: String, seed: UInt64, expected: UInt64) throws {
        #expect(StableHash.hash(try IPAddress(parsing: text), seed: seed) == expected)
    }

    @Test func anIPv4AddressAndItsMappedIPv6FormHashApart() throws {
        let v4 = try IPAddress(parsing: "192.0.2.1")
        let mapped = try IPAddress(parsing: "::ffff:192.0.2.1")
        #expect(StableHash.hash(v4, seed: 0) != StableHash.hash(mapped, seed: 0))
    }

    // MARK: Flows

    @Test(arguments: [
        ("198.51.100.7", "203.0.113.10", 6, 40_001, 80, 0, 0x23c6_7e53_297b_26f4),
        ("198.51.100.7", "203.0.113.10", 6, 40_001, 80, 0x1234, 0x00a0_e9a5_70f5_a42b),
        ("2001:db8::7", "2001:db8::80", 17, 5_353, 53, 0, 0x5ab1_8e98_a639_c075),
    ] as [(String, String, UInt8, UInt16, UInt16, UInt64, UInt64)])
    func flowHashIsPinned(
        source: String, destination: String, ipProtocol: UInt8, sourcePort: UInt16, destinationPort: UInt16,
        seed: UInt64, expected: UInt64
    ) throws {
        let flow = FlowKey(source: try IPAddress(parsing: source), destination: try IPAddress(parsing: destination),
                           ipProtocol: ipProtocol, sourcePort: sourcePort, destinationPort: destinationPort)
        #expect(StableHash.hash(flow, seed: seed) == expected)
    }

    @Test func everyFieldAndTheSeedChangeTheFlowHash() throws {
        let flow = FlowKey(source: try IPAddress(parsing: "198.51.100.7"),
                           destination: try IPAddress(parsing: "203.0.113.10"),
                           ipProtocol: 6, sourcePort: 40_001, destinationPort: 80)
        let base = StableHash.hash(flow, seed: 0)
        var variants: [FlowKey] = []
        for change in 0..<5 {
            var changed = flow
            switch change {
            case 0: changed.source = try IPAddress(parsing: "198.51.100.8")
            case 1: changed.destination = try IPAddress(parsing: "203.0.113.11")
            case 2: changed.ipProtocol = 17
            case 3: changed.sourcePort = 40_002
            default: changed.destinationPort = 81
            }
            variants.append(changed)
        }
        for variant in variants {
            #expect(StableHash.hash(variant, seed: 0) != base, "\(variant) hashes like \(flow)")
        }
        #expect(StableHash.hash(flow, seed: 1) != base)
        #expect(StableHash.hash(flow.reversed, seed: 0) != base)
    }

    /// Every source port of one client and VIP: the only variation a single busy client offers.
    @Test func sourcePortsAloneSpreadEvenly() throws {
        let client = try IPAddress(parsing: "198.51.100.7")
        let vip = try IPAddress(parsing: "203.0.113.10")
        let (modulo, highBits) = Self.bucketCounts(sources: [client], destination: vip)
        for (reduction, buckets) in [("modulo", modulo), ("high bits", highBits)] {
            #expect(buckets.reduce(0, +) == 65_536)
            let chiSquare = Self.chiSquare(buckets)
            #expect(chiSquare < Self.chiSquareBound, "chi-square \(chiSquare) over 1021 buckets by \(reduction)")
        }
    }

    /// 16 clients × 65,536 source ports = 1,048,576 flows per family: within each client only the port
    /// differs (a port has 16 bits, so a million flows cannot come from one client).
    @Test(arguments: [true, false])
    func aMillionFlowsSpreadEvenly(ipv4: Bool) throws {
        let vip = try IPAddress(parsing: ipv4 ? "203.0.113.10" : "2001:db8::80")
        let clients = (0..<16).map { index in
            ipv4 ? IPAddress.v4(IPv4Address(rawValue: 0xc633_6400 + UInt32(index)))
                : IPAddress.v6(IPv6Address(high: 0x2001_0db8_0000_0001, low: UInt64(index) + 1))
        }
        let (modulo, highBits) = Self.bucketCounts(sources: clients, destination: vip)
        for (reduction, buckets) in [("modulo", modulo), ("high bits", highBits)] {
            #expect(buckets.reduce(0, +) == 1_048_576)
            let chiSquare = Self.chiSquare(buckets)
            let ratio = Double(buckets.max()!) / Double(buckets.min()!)
            #expect(chiSquare < Self.chiSquareBound, "chi-square \(chiSquare) over 1021 buckets by \(reduction)")
            #expect(ratio < 1.35, "fullest bucket / emptiest bucket by \(reduction) = \(ratio)")
        }
    }

    /// Runs once per new flow on a worker thread: a hidden allocation there (a boxed existential, a
    /// retained class) would be paid per packet.
    @Test func flowHashAllocatesNothing() throws {
        var flow = FlowKey(source: try IPAddress(parsing: "2001:db8::7"),
                           destination: try IPAddress(parsing: "2001:db8::80"), ipProtocol: 6, destinationPort: 443)
        var checksum: UInt64 = StableHash.hash(flow, seed: 0)
        let before = dromos_thread_allocation_count()
        for port in 0..<10_000 {
            flow.sourcePort = UInt16(port)
            checksum &+= StableHash.hash(flow, seed: 0x5eed)
        }
        let allocations = dromos_thread_allocation_count() - before
        #expect(allocations == 0, "\(allocations) allocations in 10,000 flow hashes")
        #expect(checksum != 0)
    }

    // MARK: Helpers

    /// 1020 degrees of freedom: mean 1020, standard deviation √2040 ≈ 45; the bound is about 5σ above,
    /// which a uniform hash exceeds less than once in a million runs.
    static let chiSquareBound = 1_250.0

    /// Each flow lands in two buckets: by `hash % 1021`, which reads every bit, and by the
    /// multiply-shift the Maglev lookup uses (`((hash >> 32) * 1021) >> 32`), which reads only the high
    /// half, so both halves must be well mixed.
    static func bucketCounts(sources: [IPAddress], destination: IPAddress) -> (modulo: [Int], highBits: [Int]) {
        var modulo = [Int](repeating: 0, count: 1_021)
        var highBits = [Int](repeating: 0, count: 1_021)
        for source in sources {
            var flow = FlowKey(source: source, destination: destination, ipProtocol: 6, destinationPort: 443)
            for port in 0...Int(UInt16.max) {
                flow.sourcePort = UInt16(port)
                let hash = StableHash.hash(flow, seed: 0)
                modulo[Int(hash % 1_021)] += 1
                highBits[Int(((hash >> 32) * 1_021) >> 32)] += 1
            }
        }
        return (modulo, highBits)
    }

    static func chiSquare(_ buckets: [Int]) -> Double {
        let expected = Double(buckets.reduce(0, +)) / Double(buckets.count)
        return buckets.reduce(0.0) { sum, count in
            let difference = Double(count) - expected
            return sum + difference * difference / expected
        }
    }
}
