import Foundation

extension Services {
    /// A threaded TCP server on every address that answers each line with its name, until the client
    /// closes: long-lived connections that show, on every exchange, which backend they reach.
    static let lineNameServer = """
    import socket, socketserver, sys
    name, port = sys.argv[1], int(sys.argv[2])
    class Handler(socketserver.StreamRequestHandler):
        def handle(self):
            self.request.settimeout(120)
            for line in self.rfile:
                self.wfile.write((name + '\\n').encode())
    class Server(socketserver.ThreadingTCPServer):
        allow_reuse_address = True
        daemon_threads = True
    with Server(('0.0.0.0', port), Handler) as server:
        print('listening', flush=True)
        server.serve_forever()
    """

    static func lineNameServer(name: String, port: Int) -> [String] {
        [python, "-c", lineNameServer, name, String(port)]
    }

    /// `count` connections to host:port held open until SIGTERM, or for `seconds` at most (then it stops
    /// by itself), each asking its backend's name every 200 ms. A connection is broken by an error, a
    /// timeout (`timeout`, which TCP's retransmissions must beat), or an answer from another backend than
    /// its first. Prints "connected" once all are open, then one JSON list of {first, answers, broken}.
    static let longLivedConnections = """
    import json, signal, socket, sys, time
    host, port, count, seconds, timeout = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
    connections = [socket.create_connection((host, port), timeout=timeout) for _ in range(count)]
    states = [{'first': None, 'answers': 0, 'broken': None} for _ in connections]
    print('connected', flush=True)
    end = time.monotonic() + seconds
    while time.monotonic() < end and not stop:
        for connection, state in zip(connections, states):
            if state['broken']:
                continue
            try:
                connection.sendall(b'WHO\\n')
                data = b''
                while not data.endswith(b'\\n'):
                    chunk = connection.recv(64)
                    if not chunk:
                        raise OSError('closed by the peer')
                    data += chunk
                name = data.decode().strip()
                if state['first'] is None:
                    state['first'] = name
                elif name != state['first']:
                    state['broken'] = 'moved from %s to %s' % (state['first'], name)
                state['answers'] += 1
            except OSError as error:
                state['broken'] = 'after %d answers: %s' % (state['answers'], error)
        time.sleep(0.2)
    for connection in connections:
        connection.close()
    print(json.dumps(states), flush=True)
    """

    static func longLivedConnections(host: String, port: Int, count: Int, seconds: Double, timeout: Double) -> [String] {
        [python, "-c", longLivedConnections, host, String(port), String(count), String(seconds), String(timeout)]
    }
}
