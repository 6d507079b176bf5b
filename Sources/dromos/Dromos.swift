import ArgumentParser

@main
struct Dromos: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "A layer-4 direct-routing load balancer.",
        subcommands: [Run.self, Ctl.self, Cleanup.self, Explain.self, Replay.self, WhatIf.self, CheckConfig.self, Backend.self, LabBridge.self])
}
