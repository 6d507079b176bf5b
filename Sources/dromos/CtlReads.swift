import ArgumentParser
import DromosConfig
import DromosControlPlane

struct CtlStatus: ControlRequestCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "The daemon: interface, workers, table generation, changes.")
    static let request = "status"
    @OptionGroup var options: CtlOptions
}

struct CtlServices: ControlRequestCommand {
    static let configuration = CommandConfiguration(commandName: "services", abstract: "The running services.")
    static let request = "services"
    @OptionGroup var options: CtlOptions
}

struct CtlBackends: ControlRequestCommand {
    static let configuration = CommandConfiguration(commandName: "backends", abstract: "A service's backends: weight, state, MAC, health and overrides.")
    static let request = "backends"
    @OptionGroup var options: CtlOptions
    @Argument(help: "The service's name.") var service: String
    func fields() -> [(String, JSONValue)] { [("service", .string(service))] }
}

struct CtlStats: ControlRequestCommand {
    static let configuration = CommandConfiguration(commandName: "stats", abstract: "Counters summed over workers, per backend and per reason.")
    static let request = "stats"
    @OptionGroup var options: CtlOptions
}

struct CtlFlows: ControlRequestCommand {
    static let configuration = CommandConfiguration(commandName: "flows", abstract: "A sample of a service's flows (newest first per worker).")
    static let request = "flows"
    @OptionGroup var options: CtlOptions
    @Argument(help: "The service's name.") var service: String
    @Option(help: "At most this many flows (1...\(ControlService.maximumFlowLimit)).") var limit = ControlService.defaultFlowLimit
    func fields() -> [(String, JSONValue)] { [("service", .string(service)), ("limit", .int(limit))] }
}
