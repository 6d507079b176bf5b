import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif

/// Errors go to standard error so that standard output stays machine-readable.
func printError(_ message: String) {
    var line = message + "\n"
    line.withUTF8 { bytes in
        _ = write(STDERR_FILENO, bytes.baseAddress, bytes.count)
    }
}

/// Runs a command's work; any error is printed after the command's name and the exit code is 1.
func reportingFailure(_ command: String, _ body: () throws -> Void) throws {
    do {
        try body()
    } catch {
        printError("\(command): \(error)")
        throw ExitCode.failure
    }
}
