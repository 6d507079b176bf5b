import DromosDatapath
import DromosIO
import DromosSystem
import DromosLab
import Foundation
import Testing

/// The SIOCETHTOOL feature read against `ethtool -k` on a veth in a namespace of its own.
@Suite(.serialized, .enabled(if: NetworkLab.isRoot, Comment(rawValue: NetworkLab.skipReason)))
final class InterfaceFeaturesTests {
    let lab = NetworkLab()

    @Test func readsWhatEthtoolShowsAndSeesGROTurnedOnAndOff() async throws {
        let a = try await lab.namespace("a")
        let b = try await lab.namespace("b")
        try await lab.veth("a0", in: a, "b0", in: b)
        let lab = self.lab
        func read() async throws -> InterfaceFeatures {
            try await lab.onThread { namespaces in
                try namespaces.enter(a)
                return try InterfaceFeatures.read("a0")
            }
        }
        try await lab.exec(a, ["ethtool", "-K", "a0", "gro", "on"])
        let on = try await read()
        // `ethtool -k` prints "name: on|off [fixed]"; those under the kernel's names must agree.
        let listing = try await lab.exec(a, ["ethtool", "-k", "a0"])
        var compared = 0
        for line in listing.split(separator: "\n") {
            let parts = line.trimmingCharacters(in: .whitespaces).split(separator: ":", maxSplits: 1)
            guard parts.count == 2, let state = on.active[String(parts[0])] else { continue }
            #expect(parts[1].trimmingCharacters(in: .whitespaces).hasPrefix(state ? "on" : "off"), "\(line)")
            compared += 1
        }
        #expect(compared >= 10, "features named as ethtool names them: \(compared)")
        #expect(on.active["rx-gro"] == true)
        #expect(on.activeReceiveCoalescing == ["gro"])

        try await lab.exec(a, ["ethtool", "-K", "a0", "gro", "off"])
        let off = try await read()
        #expect(off.active["rx-gro"] == false)
        #expect(off.activeReceiveCoalescing.isEmpty)
        await #expect(throws: SystemCallError.self) { try await lab.onThread { namespaces in
            try namespaces.enter(a)
            return try InterfaceFeatures.read("nosuch0")
        } }
    }
}
