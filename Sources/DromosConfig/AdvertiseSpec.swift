/// `advertise:`: while the daemon can serve a VIP it keeps a host route for it in a routing table of its
/// own, which a routing daemon (BIRD's `kernel` protocol with `learn`, FRR's `ip import-table`) reads and
/// announces over BGP. Dromos never speaks BGP itself.
public struct AdvertiseSpec: Hashable, Sendable {
    /// The kernel's own tables, where a route would change this host's forwarding: main (254), local
    /// (255), default (253); 252 (compat) and 0 (unspec) are not tables one can address.
    public static let reservedTables: [UInt32: String] = [0: "unspec", 252: "compat", 253: "default", 254: "main", 255: "local"]
    /// The route protocol number the routes carry, so that Dromos finds its own (and only its own) after a
    /// crash; 249 is unassigned in iproute2's rt_protos and clear of the numbers routing daemons use (BIRD
    /// 12, FRR 186–198).
    public static let routeProtocol: UInt8 = 249
    public static let defaultStopDelayMilliseconds = 1_000
    /// Well inside the shipped unit's TimeoutStopSec (30 s), which also covers draining the rings.
    public static let maximumStopDelayMilliseconds = 20_000

    public var table: UInt32
    /// On SIGTERM/SIGINT the routes go first; the workers keep forwarding this long for the frames routers
    /// sent before they learned (BGP convergence), then stop.
    public var stopDelayMilliseconds: Int

    public init(table: UInt32, stopDelayMilliseconds: Int = AdvertiseSpec.defaultStopDelayMilliseconds) {
        self.table = table
        self.stopDelayMilliseconds = stopDelayMilliseconds
    }
}
