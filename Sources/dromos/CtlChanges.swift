import ArgumentParser
import DromosConfig
import DromosControlPlane

struct CtlReload: ControlRequestCommand {
    static let configuration = CommandConfiguration(
        commandName: "reload", abstract: "Re-read the config file; its pool replaces the running one (as SIGHUP does).")
    static let request = "reload"
    @OptionGroup var options: CtlOptions
}

struct CtlService: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "service", abstract: "Add or remove a service.",
                                                    subcommands: [Add.self, Remove.self])

    struct Add: ControlRequestCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a service.",
            discussion: "Example: dromos ctl service add api --vip 203.0.113.20 --port 443 --backend 198.18.1.21,mac=02:00:00:00:01:21")
        static let request = "service add"
        @OptionGroup var options: CtlOptions
        @Argument(help: "The service's name.") var name: String
        @Option(help: "The VIP.") var vip: String
        @Option(help: "The port; omit for all ports.") var port: Int?
        @Option(name: .customLong("protocol"), help: "tcp or udp.") var transport = "tcp"
        @Option(help: "maglev, rr, wrr, lc, wlc or sh.") var scheduler = "maglev"
        @Option(help: "A backend: ADDRESS[,weight=N][,mac=MAC]; repeat for more.") var backend: [String] = []
        @Option(help: "none, or arp: Dromos answers ARP/NDP for the VIP and announces it.") var announce = "none"

        func fields() throws -> [(String, JSONValue)] {
            var service = JSONLine()
            service.add("name", .string(name))
            service.add("vip", .string(vip))
            if let port { service.add("port", .int(port)) }
            service.add("protocol", .string(transport))
            service.add("scheduler", .string(scheduler))
            service.add("backends", .array(try backend.map(Self.backend)))
            service.add("announce", .string(announce))
            return [("service", .object(service))]
        }

        static func backend(_ text: String) throws -> JSONValue {
            var parts = text.split(separator: ",").map(String.init)
            guard !parts.isEmpty else { throw ValidationError("--backend needs an address") }
            var line = JSONLine()
            line.add("address", .string(parts.removeFirst()))
            for part in parts {
                let pair = part.split(separator: "=", maxSplits: 1).map(String.init)
                switch (pair.first, pair.count) {
                case ("weight", 2):
                    guard let weight = Int(pair[1]) else { throw ValidationError("--backend \(text): weight must be an integer") }
                    line.add("weight", .int(weight))
                case ("mac", 2): line.add("mac", .string(pair[1]))
                default: throw ValidationError("--backend \(text): \"\(part)\" is not weight=N or mac=MAC")
                }
            }
            return .object(line)
        }
    }

    struct Remove: ControlRequestCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a service (its flows end with it).")
        static let request = "service remove"
        @OptionGroup var options: CtlOptions
        @Argument(help: "The service's name.") var name: String
        func fields() -> [(String, JSONValue)] { [("service", .string(name))] }
    }
}

struct CtlBackend: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backend", abstract: "Add, remove, reweigh, drain or undrain a backend, or force its health.",
        subcommands: [Add.self, Remove.self, Weight.self, Drain.self, Undrain.self, Down.self, Up.self, Auto.self])

    struct Target: ParsableArguments {
        @Argument(help: "The service's name.") var service: String
        @Argument(help: "The backend's address.") var address: String
        var fields: [(String, JSONValue)] { [("service", .string(service)), ("address", .string(address))] }
    }

    struct Add: ControlRequestCommand {
        static let configuration = CommandConfiguration(abstract: "Add a backend to a service.")
        static let request = "backend add"
        @OptionGroup var options: CtlOptions
        @OptionGroup var target: Target
        @Option(help: "Its weight (0 adds it drained).") var weight = 1
        @Option(help: "Its MAC (otherwise resolved by the daemon, when it can).") var mac: String?
        func fields() -> [(String, JSONValue)] {
            target.fields + [("weight", .int(weight))] + (mac.map { [("mac", .string($0))] } ?? [])
        }
    }

    struct Remove: ControlRequestCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a backend; its flows move to the others.")
        static let request = "backend remove"
        @OptionGroup var options: CtlOptions
        @OptionGroup var target: Target
        func fields() -> [(String, JSONValue)] { target.fields }
    }

    struct Weight: ControlRequestCommand {
        static let configuration = CommandConfiguration(abstract: "Set a backend's weight.")
        static let request = "backend weight"
        @OptionGroup var options: CtlOptions
        @OptionGroup var target: Target
        @Argument(help: "The new weight (0...65535).") var weight: Int
        func fields() -> [(String, JSONValue)] { target.fields + [("weight", .int(weight))] }
    }

    struct Drain: ControlRequestCommand {
        static let configuration = CommandConfiguration(abstract: "Keep a backend's flows but send it no new ones.")
        static let request = "backend drain"
        @OptionGroup var options: CtlOptions
        @OptionGroup var target: Target
        func fields() -> [(String, JSONValue)] { target.fields }
    }

    struct Undrain: ControlRequestCommand {
        static let configuration = CommandConfiguration(abstract: "Give a drained backend new flows again, at its weight.")
        static let request = "backend undrain"
        @OptionGroup var options: CtlOptions
        @OptionGroup var target: Target
        func fields() -> [(String, JSONValue)] { target.fields }
    }

    struct Down: ControlRequestCommand {
        static let configuration = CommandConfiguration(
            abstract: "Force a backend down whatever its checks say: its flows move on their next packet (kept across restarts).")
        static let request = "backend down"
        @OptionGroup var options: CtlOptions
        @OptionGroup var target: Target
        func fields() -> [(String, JSONValue)] { target.fields }
    }

    struct Up: ControlRequestCommand {
        static let configuration = CommandConfiguration(
            abstract: "Force a backend up whatever its checks say (kept across restarts).")
        static let request = "backend up"
        @OptionGroup var options: CtlOptions
        @OptionGroup var target: Target
        func fields() -> [(String, JSONValue)] { target.fields }
    }

    struct Auto: ControlRequestCommand {
        static let configuration = CommandConfiguration(abstract: "Give a forced backend back to its health checks.")
        static let request = "backend auto"
        @OptionGroup var options: CtlOptions
        @OptionGroup var target: Target
        func fields() -> [(String, JSONValue)] { target.fields }
    }
}

struct CtlVIP: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vip", abstract: "Act on the VIPs the daemon claims on the link (announce: arp).",
        subcommands: [Announce.self])

    struct Announce: ControlRequestCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send a gratuitous ARP / unsolicited neighbor advertisement for every announced VIP (after a failover).")
        static let request = "vip announce"
        @OptionGroup var options: CtlOptions
    }
}

struct CtlAdvertise: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "advertise",
        abstract: "Show, withdraw or restore the VIP routes a routing daemon announces (advertise: { table: N }).",
        subcommands: [Show.self, Withdraw.self, Restore.self], defaultSubcommand: Show.self)

    struct Show: ControlRequestCommand {
        static let configuration = CommandConfiguration(
            commandName: "show", abstract: "The advertisement table, and which VIPs have a route there and which could.")
        static let request = "advertise"
        @OptionGroup var options: CtlOptions
    }

    struct Withdraw: ControlRequestCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove every VIP route (maintenance): routers move traffic away, this daemon forwards what still arrives.",
            discussion: "Holds until 'advertise restore' or the daemon's restart (a new run advertises again).")
        static let request = "advertise withdraw"
        @OptionGroup var options: CtlOptions
    }

    struct Restore: ControlRequestCommand {
        static let configuration = CommandConfiguration(
            abstract: "Undo 'advertise withdraw': every VIP that can be served gets its route again.")
        static let request = "advertise restore"
        @OptionGroup var options: CtlOptions
    }
}
