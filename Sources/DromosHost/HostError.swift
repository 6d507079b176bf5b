/// Why something on the host (an interface, a kernel setting, a netlink or packet socket, a state file)
/// could not be read or changed; `description` is what the operator is told.
public struct HostError: Error, Equatable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
