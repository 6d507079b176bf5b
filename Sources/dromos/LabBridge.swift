import ArgumentParser
import DromosConfig
import DromosControlPlane
import DromosDaemon
import DromosHost
import DromosOffline
import DromosIO
import Glibc

/// A lab tool, not part of the product surface: forwards frames between two interfaces through
/// AF_PACKET ports (or libpcap ports with `--io pcap`) for a fixed time and prints what it counted,
/// for tools/afpacket-bench.sh.
struct LabBridge: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lab-bridge",
        abstract: "Forward frames between two interfaces unchanged (AF_PACKET benchmark; root).",
        shouldDisplay: false)

    @Option(help: "Interface frames are read from.") var input: String
    @Option(help: "Interface frames are sent out of.") var output: String
    @Option(help: "Seconds to run.") var seconds: Double = 5
    @Option(help: "TX path: ring or sendmmsg.") var tx: String = "ring"
    @Option(help: "RX ring version: v3 or v2.") var rx: String = "v3"
    @Option(help: "V3 retire timeout in milliseconds.") var retire: Int = 1
    @Flag(help: "Forward in both directions.") var bidirectional = false
    @Flag(help: "PACKET_QDISC_BYPASS on the output.") var qdiscBypass = false
    @Option(help: "Port kind: afpacket or pcap (libpcap immediate mode, pcap_inject).") var io: String = "afpacket"
    @Option(help: "libpcap buffer size in MiB (--io pcap).") var pcapBufferMib: Int = 16

    func validate() throws {
        guard io == "afpacket" || io == "pcap" else { throw ValidationError("--io must be afpacket or pcap") }
    }

    /// Runs `PortBridge` for `seconds`; returns its report and the CPU time per forwarded frame (user +
    /// system, which includes the softirq work our sends trigger on this core): the forwarder's cost
    /// even when the generator, not it, is the limit.
    func bridge<First: PacketPort, Second: PacketPort>(_ first: First, _ second: Second) -> (PortBridge.Report, Double) {
        var start = timespec()
        clock_gettime(CLOCK_MONOTONIC, &start)
        let end = Double(start.tv_sec) + Double(start.tv_nsec) / 1e9 + seconds
        var rounds = 0
        let report = PortBridge.run(first, second, bidirectional: bidirectional) {
            rounds &+= 1
            guard rounds & 63 == 0 else { return false }
            var now = timespec()
            clock_gettime(CLOCK_MONOTONIC, &now)
            return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9 >= end
        }
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let cpuMicroseconds = Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1e6
            + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec)
        return (report, report.forward > 0 ? cpuMicroseconds * 1000 / Double(report.forward) : 0)
    }

    func runPcap() throws {
        func configuration(_ interface: String) -> PcapLiveConfiguration {
            var configuration = PcapLiveConfiguration(interface: interface)
            configuration.bufferSize = pcapBufferMib << 20
            return configuration
        }
        let first = try PcapLivePort(configuration(input))
        let second = try PcapLivePort(configuration(output))
        let (report, perFrame) = bridge(first, second)
        try first.updateKernelStatistics()
        let rxStatistics = first.statistics
        let txStatistics = second.statistics
        print("{\"io\": \"pcap\", \"seconds\": \(seconds), \"forwarded\": \(report.forward), "
              + "\"pps\": \(Int(Double(report.forward) / seconds)), \"ps_recv\": \(rxStatistics.kernelReceived), "
              + "\"ps_drop\": \(rxStatistics.kernelDrops), \"ps_ifdrop\": \(rxStatistics.interfaceDrops), "
              + "\"tx_failed\": \(txStatistics.transmitFailed), "
              + "\"cpu_ns_per_frame\": \(Int(perFrame)), \"capacity_pps\": \(perFrame > 0 ? Int(1e9 / perFrame) : 0)}")
    }

    func run() throws {
        try reportingFailure("lab-bridge") {
            if io == "pcap" { return try runPcap() }
            func configuration(_ interface: String) -> AFPacketConfiguration {
                // The ring geometry `dromos run` uses for this ring kind, so the bench measures it.
                var configuration = DatapathSettings.afpacket(interface: interface, ring: rx == "v2" ? .v2 : .v3)
                configuration.transmitMode = tx == "sendmmsg" ? .sendmmsg : .ring
                configuration.retireTimeoutMilliseconds = retire
                configuration.qdiscBypass = qdiscBypass
                return configuration
            }
            let first = try AFPacketPort(configuration(input))
            let second = try AFPacketPort(configuration(output))
            let (report, perFrame) = bridge(first, second)
            try first.updateKernelStatistics()
            let rxStatistics = first.statistics
            let txStatistics = second.statistics
            print("{\"io\": \"afpacket\", \"rx\": \"\(rx)\", \"tx\": \"\(tx)\", \"seconds\": \(seconds), \"forwarded\": \(report.forward), "
                  + "\"pps\": \(Int(Double(report.forward) / seconds)), \"kernel_packets\": \(rxStatistics.kernelPackets), "
                  + "\"kernel_drops\": \(rxStatistics.kernelDrops), \"tx_calls\": \(txStatistics.transmitCalls), "
                  + "\"tx_ring_full\": \(txStatistics.transmitRingFull), \"tx_queue_full\": \(txStatistics.transmitQueueFull), "
                  + "\"cpu_ns_per_frame\": \(Int(perFrame)), \"capacity_pps\": \(perFrame > 0 ? Int(1e9 / perFrame) : 0)}")
        }
    }
}
