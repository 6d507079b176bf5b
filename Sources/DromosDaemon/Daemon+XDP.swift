import DromosHost
import DromosSystem
import DromosXDP
import Glibc

extension Daemon {
    /// `--io xdp`'s preflight and the program's attachment: one AF_XDP socket per worker, each on its own
    /// receive queue, so the interface needs as many queues as there are workers.
    func attachXDP(interface: String, workers: Int) throws(Failure) -> XDPAttachment {
        XDPLibraryLog.route { [logger] line, isWarning in
            if isWarning { logger.notice("\(line)") } else { logger.debug("\(line)") }
        }
        let index: Int32
        do { index = try Syscall.interfaceIndex(interface) } catch { throw Failure(lines: ["--io xdp: cannot find \(interface): \(error)"]) }
        let queues = Self.receiveQueueCount(interface)
        if queues < workers {
            throw Failure(lines: ["--io xdp: \(interface) has \(queues) receive queue(s) and --workers \(workers) asks for one socket per queue: "
                                  + "lower --workers to \(queues), or give the interface more queues (ethtool -L \(interface) combined \(workers); "
                                  + "for a veth: ip link add … numrxqueues \(workers) numtxqueues \(workers))"])
        }
        do { return try XDPAttachment(interfaceIndex: index) } catch {
            throw Failure(lines: ["--io xdp: \(error.description); a program a crashed dromos left goes with: dromos cleanup --config FILE"])
        }
    }

    /// The rx-N directories the kernel lists for the interface's receive queues.
    static func receiveQueueCount(_ interface: String) -> Int {
        guard let directory = opendir("/sys/class/net/\(interface)/queues") else { return 1 }
        defer { closedir(directory) }
        var count = 0
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name.hasPrefix("rx-") { count += 1 }
        }
        return max(count, 1)
    }
}
