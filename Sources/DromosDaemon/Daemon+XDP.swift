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
        // One socket per queue, on every queue: a VIP frame on a queue without a socket would go to the
        // kernel, which does not hold the VIP and drops it (or routes it on): a silent share of lost flows.
        let queues = Self.receiveQueueCount(interface)
        if queues != workers {
            throw Failure(lines: ["--io xdp: \(interface) has \(queues) receive queue(s) and --workers \(workers): AF_XDP takes one socket "
                                  + "per queue, on every queue; run --workers \(queues), or set the queues to the workers "
                                  + "(ethtool -L \(interface) combined \(workers); a veth: ip link add … numrxqueues \(workers) numtxqueues \(workers))"])
        }
        // The UMEM is locked memory, counted against RLIMIT_MEMLOCK unless the process may lock without
        // limit (CAP_IPC_LOCK); systemd's default limit is 8 MiB.
        var limit = rlimit()
        let umem = UInt64(workers) * UInt64(AFXDPPort.Configuration(interface: interface).umemBytes)
        if getrlimit(__rlimit_resource_t(8 /* RLIMIT_MEMLOCK */), &limit) == 0, limit.rlim_cur != rlim_t.max /* RLIM_INFINITY */, limit.rlim_cur < umem, !Self.mayLockWithoutLimit() {
            throw Failure(lines: ["--io xdp: the UMEM of \(workers) worker(s) needs \(umem >> 20) MiB of locked memory and the limit is "
                                  + "\(limit.rlim_cur >> 20) MiB: raise it (LimitMEMLOCK=infinity in the unit, ulimit -l unlimited)"])
        }
        do { return try XDPAttachment(interfaceIndex: index) } catch {
            throw Failure(lines: ["--io xdp: \(error.description); a program a crashed dromos left goes with: dromos cleanup --config FILE"])
        }
    }

    /// CAP_IPC_LOCK in the effective set (root has it unless a unit took it away).
    static func mayLockWithoutLimit() -> Bool {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("CapEff:") }),
              let mask = UInt64(line.dropFirst("CapEff:".count).trimmingCharacters(in: .whitespaces), radix: 16) else { return false }
        return mask & (1 << 14) != 0
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
