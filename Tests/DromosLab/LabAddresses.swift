/// The addresses every lab uses (tools/lab.sh's): 198.18.0.0/15 and 2001:db8::/32 for hosts, TEST-NET-3 and 2001:db8 for
/// VIPs, locally administered MACs. Nothing here is reachable outside the namespaces a test makes.
public enum LabAddresses {
    public static let vip = "203.0.113.10"
    public static let vip6 = "2001:db8:ffff::10"
    public static let balancerMAC = "02:00:00:00:00:02"
    public static let balancerAddress = "198.18.0.2"
    public static let backendMACs = ["02:00:00:00:01:11", "02:00:00:00:01:12", "02:00:00:00:01:13"]
    public static func backendAddress(_ index: Int) -> String { "198.18.0.\(11 + index)" }
}
