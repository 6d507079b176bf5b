import DromosConfig
import DromosControlPlane
import DromosDaemon
import DromosDatapath
import DromosHost
import DromosSystem
import DromosLab
import Foundation
import Testing

/// How answers flow back: after the client shut down its side, and to a client that sends faster than
/// it reads (which holds up only itself).
extension ControlSocketTests {
    /// `socat - UNIX:PATH` sends its input, shuts down its side and reads until the daemon closes.
    @Test func everyRequestIsAnsweredAfterTheClientShutsDownItsSide() async throws {
        let script = """
            import socket, sys
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(sys.argv[1])
            s.sendall(b'{"command": "status"}\\n{"command": "services"}\\n{"command": "status"}')
            s.shutdown(socket.SHUT_WR)
            s.settimeout(5)
            data = b''
            while True:
                part = s.recv(65536)
                if not part:
                    break
                data += part
            sys.stdout.write(data.decode())
            """
        let output = try await LabCommand.run(["/usr/bin/python3", "-c", script, lab.socketPath], timeout: 20)
        let answers = try output.split(separator: "\n").map { try JSONReader.parse(String($0)) }
        #expect(answers.count == 2, "the last line has no line end, so it is no request: \(output)")
        #expect(answers.first?["pid"] != nil && answers.last?["services"] != nil, "\(output)")
    }

    @Test func aClientThatDoesNotReadItsAnswersHoldsUpOnlyItself() async throws {
        // 3,000 pipelined requests whose answers (about 1 MB) are more than the socket buffers hold: the
        // daemon stops reading this client until it reads, and serves others meanwhile.
        let count = 3_000
        let script = """
            import json, socket, sys, time
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(sys.argv[1])
            count = int(sys.argv[2])
            requests = b''.join(b'{"command": "services"}\\n' if i % 2 else b'{"command": "status"}\\n' for i in range(count))
            s.sendall(requests)
            print('sent', flush=True)
            time.sleep(1.5)
            s.settimeout(10)
            f = s.makefile('rb')
            order = []
            for _ in range(count):
                answer = json.loads(f.readline())
                order.append('status' if 'pid' in answer else 'services' if 'services' in answer else 'other')
            print(' '.join(order))
            """
        let socketPath = lab.socketPath
        let reader = Task { try await LabCommand.run(["/usr/bin/python3", "-c", script, socketPath, String(count)], timeout: 60) }
        try await Task.sleep(for: .milliseconds(500))
        let started = Date()
        #expect(try lab.ask(#"{"command": "status"}"#).isOK)
        #expect(Date().timeIntervalSince(started) < 1, "another client is not held up")
        let output = try await reader.value
        let order = output.split(separator: "\n").last.map(String.init) ?? ""
        let expected = (0..<count).map { $0 % 2 == 1 ? "services" : "status" }.joined(separator: " ")
        #expect(order == expected, "every answer, in request order")
    }
}
