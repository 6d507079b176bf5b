import DromosSystem
import DromosHealth

/// What a failed socket step says to an operator: NIO's errors carry the error number, told in words
/// like the rest of our messages rather than as NIO's description of its internal call.
func failureText(_ error: any Error) -> String {
    if let code = SocketFailure.code(of: error) { return systemErrorText(code) }
    if let error = error as? SystemCallError { return error.code.description }
    return "\(error)"
}
