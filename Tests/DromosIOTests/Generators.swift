import Foundation

/// Frame generators run in a peer namespace with the system's Python (no packages).
enum Generator {
    static let python = "/usr/bin/python3"
    /// Source MAC of generated frames: how a receiver tells them from anything else.
    static let sourceMAC: [UInt8] = [0x02, 0xdd, 0, 0, 0, 1]
    static let destinationMAC: [UInt8] = [0x02, 0xdd, 0, 0, 0, 2]

    /// Raw IPv4/UDP frames of `size` bytes from 198.18.0.1 to 198.18.0.2; flow i%flows uses source
    /// port 10000+i; the payload starts with the send time (monotonic ns), then the sequence number.
    static let rawFrames = """
    import socket, struct, sys, time
    ifname, count, flows, size, gap = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
    tags = b''.join(struct.pack('!HH', int(t.split(':')[0], 16), int(t.split(':')[1])) for t in sys.argv[6:])
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((ifname, 0))
    src, dst = bytes.fromhex('02dd00000001'), bytes.fromhex('02dd00000002')
    for i in range(count):
        pad = bytes(max(0, size - 14 - 20 - 8 - 16))
        payload = struct.pack('!QQ', time.monotonic_ns(), i) + pad
        udp = struct.pack('!HHHH', 10000 + i % flows, 20000, 8 + len(payload), 0) + payload
        ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(udp), i & 0xffff, 0, 64, 17, 0, bytes([198, 18, 0, 1]), bytes([198, 18, 0, 2]))
        frame = dst + src + tags + b'\\x08\\x00' + ip + udp
        for attempt in range(5000):
            try:
                s.send(frame)
                break
            except OSError as error:
                if error.errno not in (105, 11) or attempt == 4999:  # ENOBUFS, EAGAIN: queue full, retry
                    raise
                time.sleep(0.001)
        if gap > 0:
            time.sleep(gap)
    """

    /// `tags` go between the source MAC and the EtherType, outermost first, as "tpid-hex:tci".
    static func raw(interface: String, count: Int, flows: Int = 1, size: Int = 100, gapSeconds: Double = 0,
                    tags: [String] = []) -> [String] {
        [python, "-c", rawFrames, interface, String(count), String(flows), String(size), String(gapSeconds)] + tags
    }

    /// Kernel-stack traffic (partial checksums): UDP datagrams, and a TCP SYN towards an address with
    /// no listener (the connect is abandoned after the first SYN left).
    static let socketTraffic = """
    import socket, sys
    family = socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET
    target, count = sys.argv[1], int(sys.argv[2])
    u = socket.socket(family, socket.SOCK_DGRAM)
    for i in range(count):
        u.sendto(b'dromos partial checksum %d' % i + bytes(i), (target, 9999))
    if len(sys.argv) > 3:
        t = socket.socket(family, socket.SOCK_STREAM)
        t.setblocking(False)
        try:
            t.connect((target, 8080))  # the SYN leaves inside this call (static neighbor, veth)
        except BlockingIOError:
            pass
    """

    static func sockets(target: String, count: Int, tcp: Bool = false) -> [String] {
        [python, "-c", socketTraffic, target, String(count)] + (tcp ? ["tcp"] : [])
    }

    /// A TCP server that reads to EOF, checks every byte against the client's pattern (byte i is i % 256:
    /// with partial checksums nothing else on the path would catch a corrupted payload), and answers
    /// with the byte count, or "corrupt at N".
    static let server = """
    import socket, sys
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((sys.argv[1], int(sys.argv[2])))
    s.listen(1)
    s.settimeout(60)
    c, _ = s.accept()
    c.settimeout(60)
    pattern = bytes(range(256)) * 4200
    total, corrupt = 0, None
    while True:
        data = c.recv(1 << 20)
        if not data:
            break
        start = total % 256
        if corrupt is None and data != pattern[start:start + len(data)]:
            corrupt = total
        total += len(data)
    answer = str(total) if corrupt is None else 'corrupt at %d' % corrupt
    c.sendall(answer.encode())
    c.close()
    print(answer)
    """

    /// Connects (retrying while the server starts), sends `bytes`, half-closes and prints the answer.
    static let client = """
    import socket, sys, time
    host, port, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    deadline = time.monotonic() + 20
    while True:
        try:
            c = socket.create_connection((host, port), timeout=5)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    c.settimeout(60)
    chunk = bytes(range(256)) * 4096
    sent = 0
    while sent < size:
        n = min(len(chunk), size - sent)
        c.sendall(chunk[:n])
        sent += n
    c.shutdown(socket.SHUT_WR)
    print(c.recv(64).decode())
    """
}
