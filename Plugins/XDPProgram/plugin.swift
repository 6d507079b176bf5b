import Foundation
import PackagePlugin

/// Compiles the XDP program (Sources/CXDP/bpf/dromos_xdp.c) with the toolchain's clang for the BPF target
/// and embeds the object in the target as bytes (`XDPProgramObject.swift`), so that the binary carries the
/// program it loads and no compiled object is ever committed or installed beside it.
@main
struct XDPProgram: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let source = context.package.directoryURL.appending(path: "Sources/CXDP/bpf/dromos_xdp.c")
        let object = context.pluginWorkDirectoryURL.appending(path: "dromos_xdp.o")
        let generated = context.pluginWorkDirectoryURL.appending(path: "XDPProgramObject.swift")
        #if arch(x86_64)
        let multiarch = "x86_64-linux-gnu"
        #elseif arch(arm64)
        let multiarch = "aarch64-linux-gnu"
        #else
        let multiarch = "unknown"
        #endif
        return [
            .buildCommand(
                displayName: "Compiling the XDP program (clang -target bpf)",
                executable: try context.tool(named: "clang").url,
                // -g: libbpf reads the maps' definitions from BTF. The multiarch directory holds asm/types.h.
                arguments: ["-O2", "-g", "-target", "bpf", "-Wall", "-Werror", "-I/usr/include/\(multiarch)", "-c", source.path,
                            "-o", object.path],
                inputFiles: [source],
                outputFiles: [object]),
            .buildCommand(
                displayName: "Embedding the XDP program",
                executable: try context.tool(named: "xdp-embed").url,
                arguments: [object.path, generated.path],
                inputFiles: [object],
                outputFiles: [generated]),
        ]
    }
}
