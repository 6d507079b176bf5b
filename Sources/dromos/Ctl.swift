import ArgumentParser
import DromosConfig
import DromosControlPlane
import DromosDaemon
import DromosHost
import DromosOffline

struct Ctl: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Talk to a running daemon over its control socket.",
        discussion: """
            Each command sends one JSON request (see docs/control-protocol.md) and prints the answer as a table, \
            or as the daemon's JSON line with --json. A refused request prints the daemon's reason to standard \
            error and exits 1. Changes are in effect (published to the workers and written to the state file) \
            when the command returns.
            """,
        subcommands: [CtlStatus.self, CtlServices.self, CtlBackends.self, CtlStats.self, CtlFlows.self, CtlService.self,
                      CtlBackend.self, CtlReload.self, CtlVIP.self])
}

struct CtlOptions: ParsableArguments {
    @Option(help: "The control socket (default: the one --config names, else \(DromosConfig.defaultControlSocket)).")
    var socket: String?

    @Option(help: "Take the control socket's path from this configuration file.")
    var config: String?

    @Flag(help: "Print the daemon's answer as its JSON line.")
    var json = false

    /// Sends the request; prints the answer; exits 1 with the daemon's reason when refused.
    func send(_ command: String, _ fields: [(String, JSONValue)] = []) throws {
        var request = JSONLine()
        request.add("command", .string(command))
        for (key, value) in fields { request.add(key, value) }
        let reply: ParsedJSON
        let raw: String
        var path = socket ?? DromosConfig.defaultControlSocket
        if socket == nil, let config {
            do { path = try ConfigLoader.load(path: config).controlSocket } catch {
                error.lines.forEach(printError)
                throw ExitCode.failure
            }
        }
        do {
            let client = try ControlClient(path: path)
            try client.send(raw: Array((request.encoded + "\n").utf8))
            guard let line = try client.receiveLine(timeoutMilliseconds: 30_000) else {
                throw ControlError("the daemon closed the connection without answering")
            }
            raw = line
            do { reply = try JSONReader.parse(line) } catch { throw ControlError("the daemon's answer is \(error.description)") }
        } catch {
            printError("dromos ctl \(command): \(error)")
            throw ExitCode.failure
        }
        guard reply["ok"] == .bool(true) else {
            if json { print(raw) }
            if case .string(let message)? = reply["error"] { printError("dromos ctl \(command): \(message)") }
            throw ExitCode.failure
        }
        print(json ? raw : ControlReplyText.render(command: command, reply: reply), terminator: json ? "\n" : "")
    }
}

struct CtlStatus: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "The daemon: interface, workers, table generation, changes.")
    @OptionGroup var options: CtlOptions
    func run() throws { try options.send("status") }
}

struct CtlServices: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "services", abstract: "The running services.")
    @OptionGroup var options: CtlOptions
    func run() throws { try options.send("services") }
}

struct CtlBackends: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "backends", abstract: "A service's backends: weight, state, MAC.")
    @OptionGroup var options: CtlOptions
    @Argument(help: "The service's name.") var service: String
    func run() throws { try options.send("backends", [("service", .string(service))]) }
}

struct CtlStats: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stats", abstract: "Counters summed over workers, per backend and per reason.")
    @OptionGroup var options: CtlOptions
    func run() throws { try options.send("stats") }
}

struct CtlFlows: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "flows", abstract: "A sample of a service's flows (newest first per worker).")
    @OptionGroup var options: CtlOptions
    @Argument(help: "The service's name.") var service: String
    @Option(help: "At most this many flows (1...\(ControlService.maximumFlowLimit)).") var limit = ControlService.defaultFlowLimit
    func run() throws { try options.send("flows", [("service", .string(service)), ("limit", .int(limit))]) }
}

struct CtlReload: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reload", abstract: "Re-read the config file; its pool replaces the running one (as SIGHUP does).")
    @OptionGroup var options: CtlOptions
    func run() throws { try options.send("reload") }
}

struct CtlService: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "service", abstract: "Add or remove a service.",
                                                    subcommands: [Add.self, Remove.self])

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a service.",
            discussion: "Example: dromos ctl service add api --vip 203.0.113.20 --port 443 --backend 198.18.1.21,mac=02:00:00:00:01:21")
        @OptionGroup var options: CtlOptions
        @Argument(help: "The service's name.") var name: String
        @Option(help: "The VIP.") var vip: String
        @Option(help: "The port; omit for all ports.") var port: Int?
        @Option(name: .customLong("protocol"), help: "tcp or udp.") var transport = "tcp"
        @Option(help: "maglev, rr, wrr, lc, wlc or sh.") var scheduler = "maglev"
        @Option(help: "A backend: ADDRESS[,weight=N][,mac=MAC]; repeat for more.") var backend: [String] = []
        @Option(help: "none, or arp: Dromos answers ARP/NDP for the VIP and announces it.") var announce = "none"

        func run() throws {
            var service = JSONLine()
            service.add("name", .string(name))
            service.add("vip", .string(vip))
            if let port { service.add("port", .int(port)) }
            service.add("protocol", .string(transport))
            service.add("scheduler", .string(scheduler))
            service.add("backends", .array(try backend.map(Self.backend)))
            service.add("announce", .string(announce))
            try options.send("service add", [("service", .object(service))])
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

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a service (its flows end with it).")
        @OptionGroup var options: CtlOptions
        @Argument(help: "The service's name.") var name: String
        func run() throws { try options.send("service remove", [("service", .string(name))]) }
    }
}

struct CtlBackend: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backend", abstract: "Add, remove, reweigh, drain or undrain a backend.",
        subcommands: [Add.self, Remove.self, Weight.self, Drain.self, Undrain.self])

    struct Target: ParsableArguments {
        @Argument(help: "The service's name.") var service: String
        @Argument(help: "The backend's address.") var address: String
        var fields: [(String, JSONValue)] { [("service", .string(service)), ("address", .string(address))] }
    }

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a backend to a service.")
        @OptionGroup var options: CtlOptions
        @OptionGroup var target: Target
        @Option(help: "Its weight (0 adds it drained).") var weight = 1
        @Option(help: "Its MAC (otherwise resolved by the daemon, when it can).") var mac: String?
        func run() throws {
            try options.send("backend add", target.fields + [("weight", .int(weight))] + (mac.map { [("mac", .string($0))] } ?? []))
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a backend; its flows move to the others.")
        @OptionGroup var options: CtlOptions
        @OptionGroup var target: Target
        func run() throws { try options.send("backend remove", target.fields) }
    }

    struct Weight: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set a backend's weight.")
        @OptionGroup var options: CtlOptions
        @OptionGroup var target: Target
        @Argument(help: "The new weight (0...65535).") var weight: Int
        func run() throws { try options.send("backend weight", target.fields + [("weight", .int(weight))]) }
    }

    struct Drain: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Keep a backend's flows but send it no new ones.")
        @OptionGroup var options: CtlOptions
        @OptionGroup var target: Target
        func run() throws { try options.send("backend drain", target.fields) }
    }

    struct Undrain: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Give a drained backend new flows again, at its weight.")
        @OptionGroup var options: CtlOptions
        @OptionGroup var target: Target
        func run() throws { try options.send("backend undrain", target.fields) }
    }
}

struct CtlVIP: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vip", abstract: "Act on the VIPs the daemon claims on the link (announce: arp).",
        subcommands: [Announce.self])

    struct Announce: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send a gratuitous ARP / unsolicited neighbor advertisement for every announced VIP (after a failover).")
        @OptionGroup var options: CtlOptions
        func run() throws { try options.send("vip announce") }
    }
}
