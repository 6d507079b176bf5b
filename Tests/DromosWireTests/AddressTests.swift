import Testing
import DromosWire

@Suite struct MACAddressTests {
    @Test func parsesAndPrintsColonAndDashForms() throws {
        let mac = try MACAddress(parsing: "02:00:5E:0a:0B:ff")
        #expect(mac.rawValue == 0x0200_5e0a_0bff)
        #expect(mac.description == "02:00:5e:0a:0b:ff")
        #expect(try MACAddress(parsing: "2-0-5e-a-b-ff") == mac)
        #expect(MACAddress(0x02, 0x00, 0x5e, 0x0a, 0x0b, 0xff) == mac)
        #expect(mac.octets == [0x02, 0x00, 0x5e, 0x0a, 0x0b, 0xff])
    }

    @Test func knowsGroupAddresses() throws {
        #expect(MACAddress.broadcast.isBroadcast && MACAddress.broadcast.isMulticast)
        #expect(try MACAddress(parsing: "33:33:00:00:00:01").isMulticast)
        #expect(!(try MACAddress(parsing: "02:00:00:00:00:01").isMulticast))
    }

    @Test(arguments: [
        ("", "empty"),
        ("02:00:00:00:00", "expected six octets, found 5"),
        ("02:00:00:00:00:00:01", "more than six octets"),
        ("02:00:00:00:00:0g", "unexpected character 'g'"),
        ("02:00:00-00:00:00", "mixes ':' and '-' separators"),
        ("02::00:00:00:00", "octet 2 is empty"),
        ("002:00:00:00:00:00", "octet 1 has more than two hex digits"),
        ("02:00:00:00:00:", "octet 6 is empty"),
    ])
    func rejectsWithReason(text: String, reason: String) {
        #expect(throws: AddressParseError(text: text, kind: "a MAC address", reason: reason)) {
            try MACAddress(parsing: text)
        }
    }
}

@Suite struct IPv4AddressTests {
    @Test func parsesAndPrints() throws {
        let address = try IPv4Address(parsing: "203.0.113.10")
        #expect(address.rawValue == 0xcb00_710a)
        #expect(address.description == "203.0.113.10")
        #expect(try IPv4Address(parsing: "0.0.0.0").rawValue == 0)
        #expect(try IPv4Address(parsing: "255.255.255.255").rawValue == .max)
        #expect(IPv4Address(198, 18, 1, 11).description == "198.18.1.11")
    }

    @Test(arguments: [
        ("", "empty"),
        ("203.0.113", "expected four dot-separated parts, found 3"),
        ("203.0.113.10.1", "expected four dot-separated parts, found 5"),
        ("203.0..10", "part 3 is empty"),
        ("203.0.113.256", "part 4 (256) is above 255"),
        ("203.0.113.010", "part 4 ('010') has a leading zero"),
        ("203.0.x.10", "part 3 ('x') is not a decimal number"),
        (" 203.0.113.10", "part 1 (' 203') is not a decimal number"),
    ])
    func rejectsWithReason(text: String, reason: String) {
        #expect(throws: AddressParseError(text: text, kind: "an IPv4 address", reason: reason)) {
            try IPv4Address(parsing: text)
        }
    }
}

@Suite struct IPv6AddressTests {
    /// RFC 5952 section 4 and the usual corner cases.
    @Test(arguments: [
        ("2001:DB8:0:0:0:0:0:1", "2001:db8::1"),
        ("2001:db8::0:1", "2001:db8::1"),
        ("2001:0db8:0000:0000:0000:ff00:0042:8329", "2001:db8::ff00:42:8329"),
        ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),
        ("2001:0:0:1:0:0:0:1", "2001:0:0:1::1"),
        ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
        ("::", "::"),
        ("::1", "::1"),
        ("1::", "1::"),
        ("fe80::", "fe80::"),
        ("::ffff:198.51.100.7", "::ffff:198.51.100.7"),
        ("::FFFF:c633:6407", "::ffff:198.51.100.7"),
        ("64:ff9b::198.51.100.7", "64:ff9b::c633:6407"),
        ("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"),
    ])
    func printsCanonically(text: String, canonical: String) throws {
        let address = try IPv6Address(parsing: text)
        #expect(address.description == canonical)
        #expect(try IPv6Address(parsing: canonical) == address)
    }

    @Test func splitsIntoHalves() throws {
        let address = try IPv6Address(parsing: "2001:db8:ffff::10")
        #expect(address.high == 0x2001_0db8_ffff_0000)
        #expect(address.low == 0x10)
    }

    @Test(arguments: [
        ("", "empty"),
        ("1:2:3:4:5:6:7", "expected eight groups, found 7"),
        ("1:2:3:4:5:6:7:8:9", "expected eight groups, found 9"),
        ("1::2::3", "'::' appears more than once"),
        ("1:2:3:4::5:6:7:8", "'::' must stand for at least one group, but 8 are given"),
        ("12345::", "group '12345' has more than four hex digits"),
        ("2001:db8::g", "group 'g' is not hexadecimal"),
        (":1:2:3:4:5:6:7", "empty group (a single ':' at the start or end?)"),
        ("fe80::1%eth0", "zone ids are not accepted"),
        ("::ffff:198.51.100.256", "'198.51.100.256' is not a valid embedded IPv4 address"),
    ])
    func rejectsWithReason(text: String, reason: String) {
        #expect(throws: AddressParseError(text: text, kind: "an IPv6 address", reason: reason)) {
            try IPv6Address(parsing: text)
        }
    }
}

@Suite struct IPAddressTests {
    @Test func choosesFamilyByShape() throws {
        #expect(try IPAddress(parsing: "203.0.113.10") == .v4(IPv4Address(203, 0, 113, 10)))
        #expect(try IPAddress(parsing: "2001:db8::1").isIPv4 == false)
        let error = #expect(throws: AddressParseError.self) { try IPAddress(parsing: "2001:db8::x") }
        #expect(error?.kind == "an IPv6 address")
        #expect(error?.description == "'2001:db8::x' is not an IPv6 address: group 'x' is not hexadecimal")
    }

    @Test func ordersIPv4BeforeIPv6() throws {
        #expect(ip("203.0.113.10") < ip("::1"))
        #expect(ip("198.18.1.11") < ip("198.18.1.12"))
    }
}
