import DromosBalancer
import DromosWire

/// The AF_PACKET RX ring kind: `--rx-ring`, or `datapath.rx_ring` in the config.
public enum ReceiveRingKind: String, Sendable, CaseIterable, Hashable {
    /// A slot per frame, visible the moment the kernel wrote it: the low-latency default.
    case v2
    /// Blocks retired when full or after 1 ms: less CPU per frame, but a lone frame waits for the block.
    case v3

    /// Nothing given on the command line or in the config: V2, because a lone SYN must not wait for a
    /// V3 block to be retired (docs/ARCHITECTURE.md, "RX ring: V2 by default in dromos run").
    public static let `default` = ReceiveRingKind.v2
}
