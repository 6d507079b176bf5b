public import DromosBalancer
public import DromosWire

/// One change to the running pool, as the control socket and SIGHUP ask for it.
public enum PoolChange: Sendable, Equatable {
    case addService(ServiceSpec)
    case removeService(String)
    case addBackend(service: String, BackendSpec)
    case removeBackend(service: String, address: IPAddress)
    case setWeight(service: String, address: IPAddress, weight: Int)
    case drain(service: String, address: IPAddress)
    case undrain(service: String, address: IPAddress)
    /// Forces the backend's health up or down; nil (`auto`) gives it back to its health checks.
    case force(service: String, address: IPAddress, ForcedHealth?)
    /// Re-read the config file: its pool replaces the running one, runtime changes and drains included.
    case reload
}
