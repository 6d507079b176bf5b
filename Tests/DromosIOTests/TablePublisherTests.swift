import DromosBalancer
import DromosDatapath
import DromosIO
import DromosSystem
import DromosWire
import Foundation
import Synchronization
import Testing

/// Table publication under traffic: no lost decision, no torn table, generations only move forward.
@Suite struct TablePublisherTests {
    static let vip = IPAddress.v4(IPv4Address(203, 0, 113, 10))

    /// Table `generation`: two backends whose MACs encode the generation, so a decision shows which
    /// table made it.
    static func table(_ generation: UInt32) throws -> ForwardingTable {
        let backends = (1...2).map { index in
            BackendSpec(address: .v4(IPv4Address(198, 18, 1, UInt8(index))),
                        mac: MACAddress(rawValue: 0x0200_0000_0000 | UInt64(generation) << 8 | UInt64(index)))
        }
        let service = ServiceSpec(name: "web", key: ServiceKey(vip: vip, transport: .tcp, port: 80),
                                  maglevTableSize: 251, backends: backends)
        return try ForwardingTable(generation: generation, services: [service])
    }

    /// A TCP SYN from 198.18.0.x:port to the VIP; checksums zero (nothing on the path reads them).
    static func frame(client: UInt8, port: UInt16) -> [UInt8] {
        var bytes: [UInt8] = [2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 0xfe, 0x08, 0x00]
        bytes += [0x45, 0, 0, 40, 0, 1, 0x40, 0, 64, 6, 0, 0, 198, 18, 0, client, 203, 0, 113, 10]
        bytes += [UInt8(port >> 8), UInt8(port & 0xff), 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0]
        return bytes
    }

    @Test func swapsUnderTrafficLoseNothingAndNeverTear() throws {
        let publications: UInt32 = 400
        let publisher = TablePublisher(try Self.table(1))
        let publishing = Atomic<Bool>(true)
        let batches = Atomic<Int>(0)
        let frames = (0..<256).map { Self.frame(client: UInt8($0 % 200 + 1), port: UInt16(10_000 + $0)) }

        final class Outcome: @unchecked Sendable {
            var decided = 0, forwarded = 0, torn = 0, backwards = 0, adoptions = 0
            var lastGeneration: UInt32 = 0
        }
        let outcome = Outcome()
        let finished = DispatchSemaphore(value: 0)
        let worker = Thread {
            let balancer = BalancerWorker(table: try! Self.table(1))
            var follower = TableFollower(publisher: publisher, balancer: balancer)
            var buffer = [UInt8](repeating: 0, count: 64)
            var now: UInt64 = 1
            var lastGeneration = balancer.table.generation
            func batch() {
                for index in 0..<64 {
                    let source = frames[(Int(now) &* 64 &+ index) % frames.count]
                    buffer.withUnsafeMutableBytes { bytes in
                        source.withUnsafeBytes { bytes.copyMemory(from: $0) }
                        let decision = balancer.decide(UnsafeMutableRawBufferPointer(rebasing: bytes[0..<54]), now: now)
                        outcome.decided += 1
                        guard decision.verdict == .forward else { return }
                        outcome.forwarded += 1
                        // The rewritten destination MAC must be the adopted table's, for its own backend.
                        let mac = bytes.prefix(6).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
                        let expected = 0x0200_0000_0000 | UInt64(balancer.table.generation) << 8
                            | UInt64(decision.backendIndex + 1)
                        if mac != expected || balancer.table.backends.count != 2 { outcome.torn += 1 }
                    }
                }
                now += 1
                batches.add(1, ordering: .releasing)
                if follower.follow(balancer) {
                    outcome.adoptions += 1
                    if balancer.table.generation < lastGeneration { outcome.backwards += 1 }
                    lastGeneration = balancer.table.generation
                }
            }
            while publishing.load(ordering: .acquiring) { batch() }
            batch()
            outcome.lastGeneration = balancer.table.generation
            finished.signal()
        }
        worker.start()
        while batches.load(ordering: .acquiring) == 0 { usleep(100) }
        for generation in 2...(publications + 1) {
            publisher.publish(try Self.table(generation))
            // Half the publications wait for the worker to finish a batch, half come back to back
            // (some of those are never adopted: a worker skips straight to the newest).
            if generation % 2 == 0 {
                let seen = batches.load(ordering: .acquiring)
                while batches.load(ordering: .acquiring) < seen + 2 { sched_yield() }
            }
        }
        publishing.store(false, ordering: .releasing)
        #expect(finished.wait(timeout: .now() + 60) == .success)
        #expect(outcome.decided > 0 && outcome.decided % 64 == 0)
        #expect(outcome.forwarded == outcome.decided, "every frame got a decision from a complete table")
        #expect(outcome.torn == 0)
        #expect(outcome.backwards == 0)
        #expect(outcome.adoptions >= Int(publications) / 2)
        #expect(outcome.lastGeneration == publications + 1, "the last publication is adopted")
        #expect(publisher.generation == UInt64(publications) + 1)
    }
}
