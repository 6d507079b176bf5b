import Foundation

/// Python (system, no packages) servers and clients for the daemon's end-to-end test.
enum Services {
    static let python = "/usr/bin/python3"

    /// A threaded TCP server on every address (the VIP is on lo) that answers each connection with its
    /// name and closes; an upload (first bytes "UPLOAD") is read to EOF and answered with name and count.
    static let nameServer = """
    import socketserver, sys
    import socket
    name, port, family = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    class Handler(socketserver.BaseRequestHandler):
        def handle(self):
            self.request.settimeout(30)
            first = self.request.recv(6)
            if first == b'UPLOAD':
                total, pattern = 0, bytes(range(256)) * 4200
                ok = True
                while True:
                    data = self.request.recv(1 << 20)
                    if not data:
                        break
                    start = total % 256
                    if ok and data != pattern[start:start + len(data)]:
                        ok = False
                    total += len(data)
                self.request.sendall(('%s %d %s' % (name, total, 'ok' if ok else 'corrupt')).encode())
            else:
                self.request.sendall(name.encode())
    class Server(socketserver.ThreadingTCPServer):
        allow_reuse_address = True
        daemon_threads = True
        address_family = socket.AF_INET6 if family == '6' else socket.AF_INET
    with Server(('::' if family == '6' else '0.0.0.0', port), Handler) as server:
        print('listening', flush=True)
        server.serve_forever()
    """

    static func nameServer(name: String, port: Int, ipv6: Bool = false) -> [String] {
        [python, "-c", nameServer, name, String(port), ipv6 ? "6" : "4"]
    }

    /// `count` short connections to host:port, each bounded by a timeout; prints one JSON object with
    /// the answers by name and the failures, each with its local port (to find its SYN in a capture).
    static let shortConnections = """
    import json, socket, sys, time
    host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    answers, failures = {}, []
    start = time.monotonic()
    for i in range(count):
        local_port = 0
        try:
            c = socket.socket(socket.AF_INET6 if ':' in host else socket.AF_INET, socket.SOCK_STREAM)
            c.settimeout(10)
            c.bind(('', 0))
            local_port = c.getsockname()[1]
            c.connect((host, port))
            c.sendall(b'hello')
            c.shutdown(socket.SHUT_WR)
            data = b''
            while True:
                chunk = c.recv(64)
                if not chunk:
                    break
                data += chunk
            c.close()
            answers[data.decode()] = answers.get(data.decode(), 0) + 1
        except OSError as error:
            failures.append('%d port %d: %s' % (i, local_port, error))
    print(json.dumps({'answers': answers, 'failures': failures, 'seconds': time.monotonic() - start}))
    """

    static func shortConnections(host: String, port: Int, count: Int) -> [String] {
        [python, "-c", shortConnections, host, String(port), String(count)]
    }

    /// One upload of `size` bytes (byte i is i % 256); prints the server's answer.
    static let upload = """
    import socket, sys
    host, port, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    c = socket.create_connection((host, port), timeout=10)
    c.settimeout(60)
    c.sendall(b'UPLOAD')
    chunk = bytes(range(256)) * 4096
    sent = 0
    while sent < size:
        n = min(len(chunk), size - sent)
        c.sendall(chunk[:n])
        sent += n
    c.shutdown(socket.SHUT_WR)
    data = b''
    while True:
        part = c.recv(256)
        if not part:
            break
        data += part
    print(data.decode())
    """

    static func upload(host: String, port: Int, size: Int) -> [String] {
        [python, "-c", upload, host, String(port), String(size)]
    }

    /// One upload of `size` bytes (the same pattern) spread evenly over `seconds`, 50 writes a second:
    /// a long-lived connection that stays established while the test changes things around it.
    static let pacedUpload = """
    import socket, sys, time
    host, port, size, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    c = socket.create_connection((host, port), timeout=10)
    c.settimeout(30)
    c.sendall(b'UPLOAD')
    steps = max(1, int(seconds * 50))
    per = size // steps
    block = bytes(range(256)) * ((per + steps) // 256 + 2)
    sent, start = 0, time.monotonic()
    for step in range(steps):
        n = per if step < steps - 1 else size - sent
        offset = sent % 256
        c.sendall(block[offset:offset + n])
        sent += n
        time.sleep(max(0.0, start + (step + 1) / 50 - time.monotonic()))
    c.shutdown(socket.SHUT_WR)
    data = b''
    while True:
        part = c.recv(256)
        if not part:
            break
        data += part
    print(data.decode())
    """

    static func pacedUpload(host: String, port: Int, size: Int, seconds: Double) -> [String] {
        [python, "-c", pacedUpload, host, String(port), String(size), String(seconds)]
    }

    /// A one-VLAN trunk relay over two raw sockets: frames arriving on the access link leave on the
    /// trunk with the tag pushed; frames arriving on the trunk leave on the access link untagged, but
    /// only when they carry the VLAN (the kernel strips the tag on receive and reports it in
    /// PACKET_AUXDATA; a tag still in the data, e.g. a second one, counts as foreign). On SIGTERM it
    /// prints its counts as JSON.
    static let vlanRelay = """
    import json, select, signal, socket, struct, sys
    access_name, trunk_name, vid = sys.argv[1], sys.argv[2], int(sys.argv[3])
    SOL_PACKET, PACKET_AUXDATA, TP_STATUS_VLAN_VALID = 263, 8, 0x10
    def open_raw(name):
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
        s.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
        s.bind((name, 0))
        return s
    access, trunk = open_raw(access_name), open_raw(trunk_name)
    counts = {'tagged': 0, 'untagged': 0, 'untagged_on_trunk': 0, 'other_vlan': 0}
    def finish(*_):
        print(json.dumps(counts), flush=True)
        sys.exit(0)
    signal.signal(signal.SIGTERM, finish)
    print('relaying', flush=True)
    while True:
        for s in select.select([access, trunk], [], [])[0]:
            data, ancillary, _, address = s.recvmsg(65536, socket.CMSG_SPACE(20))
            if address[2] == socket.PACKET_OUTGOING:
                continue
            if s is access:
                trunk.send(data[:12] + struct.pack('!HH', 0x8100, vid) + data[12:])
                counts['tagged'] += 1
                continue
            tci = None
            for level, kind, value in ancillary:
                if level == SOL_PACKET and kind == PACKET_AUXDATA and len(value) >= 20:
                    status, _, _, _, _, vlan_tci, _ = struct.unpack('IIIHHHH', value[:20])
                    if status & TP_STATUS_VLAN_VALID:
                        tci = vlan_tci
            if tci is None:
                counts['untagged_on_trunk'] += 1
            elif tci & 0xfff != vid or data[12:14] in (b'\\x81\\x00', b'\\x88\\xa8'):
                counts['other_vlan'] += 1
            else:
                access.send(data)
                counts['untagged'] += 1
    """

    static func vlanRelay(access: String, trunk: String, vlan: Int) -> [String] {
        [python, "-c", vlanRelay, access, trunk, String(vlan)]
    }
}

extension Services {
    /// Connections to host:port one after the other until SIGTERM or for `seconds` at most (then it stops
    /// by itself), each bounded by `timeout`; prints one JSON list of [monotonic start time, backend name
    /// or "fail: reason"].
    static let continuousConnections = """
    import json, signal, socket, sys, time
    host, port, seconds, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
    events = []
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
    end = time.monotonic() + seconds
    while time.monotonic() < end and not stop:
        started = time.monotonic()
        try:
            c = socket.create_connection((host, port), timeout=timeout)
            c.settimeout(timeout)
            c.sendall(b'hello')
            c.shutdown(socket.SHUT_WR)
            data = b''
            while True:
                chunk = c.recv(64)
                if not chunk:
                    break
                data += chunk
            c.close()
            events.append([started, data.decode()])
        except OSError as error:
            events.append([started, 'fail: %s' % error])
        time.sleep(0.02)
    print(json.dumps(events), flush=True)
    """

    static func continuousConnections(host: String, port: Int, seconds: Double, timeout: Double) -> [String] {
        [python, "-c", continuousConnections, host, String(port), String(seconds), String(timeout)]
    }
}
