import ArgumentParser
@testable import dromos
import Testing

/// Where `dromos ctl`'s own options may go, checked on the parser alone (no daemon, no root): before or
/// after the subcommand, at any depth, and which value wins when both places give one.
@Suite struct CtlOptionParsingTests {
    func parse<Command: ControlRequestCommand>(_ arguments: [String], as _: Command.Type) throws -> Command {
        let parsed = try Dromos.parseAsRoot(["ctl"] + arguments)
        return try #require(parsed as? Command, "\(arguments) parsed as \(type(of: parsed))")
    }

    @Test(arguments: [
        ["--socket", "/run/a.sock", "status"],
        ["status", "--socket", "/run/a.sock"],
        ["--socket=/run/a.sock", "status"],
    ])
    func socketBeforeOrAfterTheSubcommand(_ arguments: [String]) throws {
        let status = try parse(arguments, as: CtlStatus.self)
        #expect(status.options.socket == "/run/a.sock")
        #expect(status.options.json == false && status.options.config == nil)
    }

    @Test(arguments: [["--json", "stats"], ["stats", "--json"]])
    func jsonBeforeOrAfterTheSubcommand(_ arguments: [String]) throws {
        #expect(try parse(arguments, as: CtlStats.self).options.json)
    }

    @Test func configBeforeTheSubcommand() throws {
        #expect(try parse(["--config", "/etc/dromos.yaml", "services"], as: CtlServices.self).options.config == "/etc/dromos.yaml")
    }

    @Test(arguments: [
        ["--socket", "/run/a.sock", "--json", "backend", "drain", "web", "198.18.0.11"],
        ["backend", "drain", "web", "198.18.0.11", "--socket", "/run/a.sock", "--json"],
        ["backend", "--socket", "/run/a.sock", "drain", "--json", "web", "198.18.0.11"],
    ])
    func nestedSubcommandsTakeTheOptionsAnywhere(_ arguments: [String]) throws {
        let drain = try parse(arguments, as: CtlBackend.Drain.self)
        #expect(drain.options.socket == "/run/a.sock" && drain.options.json)
        #expect(drain.fields().map(\.0) == ["service", "address"])
        #expect(drain.target.service == "web" && drain.target.address == "198.18.0.11")
    }

    /// Arguments of the subcommand that look like nothing of `Ctl`'s stay the subcommand's.
    @Test func subcommandOptionsAreNotTakenByCtl() throws {
        let flows = try parse(["--socket", "/run/a.sock", "flows", "web", "--limit", "7"], as: CtlFlows.self)
        #expect(flows.service == "web" && flows.limit == 7 && flows.options.socket == "/run/a.sock")
    }

    /// The documented rule (`dromos ctl --help`): the last value on the line wins, so the subcommand's.
    @Test func givenInBothPlacesTheSubcommandsValueWins() throws {
        let status = try parse(["--socket", "/run/before.sock", "status", "--socket", "/run/after.sock"], as: CtlStatus.self)
        #expect(status.options.socket == "/run/after.sock")
        #expect(Ctl.helpMessage(columns: 1_000).contains("the last on the line wins: the one after the subcommand"))
    }

    @Test func unknownOptionsAreStillRefused() {
        #expect(throws: (any Error).self) { try Dromos.parseAsRoot(["ctl", "--sockets", "/run/a.sock", "status"]) }
        #expect(throws: (any Error).self) { try Dromos.parseAsRoot(["ctl", "status", "--limit", "3"]) }
    }
}
