import ArgumentParser
import DromosConfig
import DromosControlPlane

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
