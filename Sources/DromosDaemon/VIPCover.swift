import DromosHost
import DromosWire
import DromosSystem
import DromosXDP
import Synchronization

/// What keeps the kernel's stack away from the VIPs' frames, which Dromos forwards: the nftables ingress
/// drop (a packet socket is a tap, the kernel sees every frame too), or with `--io xdp` the XDP
/// program's VIP map (the program hands those frames to the sockets; the kernel never sees them).
final class VIPCover: Sendable {
    let interface: String
    private let attachment = Mutex<XDPAttachment?>(nil)
    /// Beside it the XDP program's id is written down for `dromos cleanup` (`XDPProgramRecord`).
    let controlSocket: String

    init(interface: String, controlSocket: String) {
        self.interface = interface
        self.controlSocket = controlSocket
    }

    /// From here on the VIP map of `xdp` covers the VIPs, not the nftables rule. Its id is recorded beside
    /// the control socket; without the record a cleanup lacking CAP_SYS_ADMIN could not tell it is ours.
    func use(_ xdp: XDPAttachment) throws(Daemon.Failure) {
        attachment.withLock { $0 = xdp }
        do throws(Files.Failure) { try XDPProgramRecord.write(xdp.programID, controlSocket: controlSocket) } catch {
            throw Daemon.Failure(lines: ["--io xdp: cannot record the XDP program's id for dromos cleanup: \(error)"])
        }
    }

    var xdp: XDPAttachment? { attachment.withLock { $0 } }

    /// Covers exactly `vips`; why not, when it could not.
    func replace(_ vips: [IPAddress]) -> String? {
        if let xdp {
            do throws(XDPError) { try xdp.replaceVIPs(vips) } catch { return error.description }
            return nil
        }
        do throws(KernelDropRule.Failure) {
            try KernelDropRule(interface: interface, vips: vips).replace()
            return nil
        } catch { return error.description }
    }

    /// The first cover, when the workers are about to forward; the log line saying what it is.
    func install(_ vips: [IPAddress]) throws(Daemon.Failure) -> String {
        let list = vips.map(\.description).joined(separator: ", ")
        if let xdp {
            do throws(XDPError) { try xdp.replaceVIPs(vips) } catch {
                throw Daemon.Failure(lines: ["cannot fill the XDP program's VIP map: \(error.description)"])
            }
            return "XDP program on \(interface) (\(xdp.mode.rawValue) mode) sends the frames of \(list) to the AF_XDP sockets"
        }
        do throws(KernelDropRule.Failure) { try KernelDropRule(interface: interface, vips: vips).install() } catch {
            throw Daemon.Failure(lines: ["cannot install the nftables drop rule: \(error.description)"])
        }
        return "installed nftables table netdev \(KernelDropRule.tableName): ingress drop on \(interface) for \(list)"
    }

    /// At the stop: the kernel answers the VIPs again. Nil, or what to do by hand.
    func remove() -> (done: String, failure: String?) {
        if let xdp {
            if let problem = xdp.detach() {
                // The record stays: `dromos cleanup` tells the program by it.
                return ("", "could not detach the XDP program from \(interface) (dromos cleanup does, or by hand: ip link set dev "
                        + "\(interface) xdp off): \(problem)")
            }
            XDPProgramRecord.remove(controlSocket: controlSocket)
            return ("detached the XDP program from \(interface)", nil)
        }
        do throws(KernelDropRule.Failure) {
            try KernelDropRule(interface: interface, vips: []).remove()
            return ("removed nftables table netdev \(KernelDropRule.tableName)", nil)
        } catch {
            return ("", "could not remove the nftables table (remove it with: nft delete table netdev \(KernelDropRule.tableName)): \(error.description)")
        }
    }
}
