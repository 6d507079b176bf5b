#!/usr/bin/env bash
# The direct-routing lab, in network namespaces of its own: a bridge as the switch, a client, the
# balancer and N backends prepared with `dromos backend setup`, each running real servers (HTTP on port
# 80 answering its name, a TCP and a UDP echo on port 7).
#
# Usage: tools/lab.sh up [BACKENDS (default 4)] | down | status        (root)
#
#   dromos-lab-sw      br0, the switch
#   dromos-lab-client  c0  198.18.0.1/24, 2001:db8:18::1/64; routes the VIPs via the balancer
#   dromos-lab-lb      lb0 198.18.0.2/24, 2001:db8:18::2/64, MAC 02:00:00:00:00:02 (run dromos here)
#   dromos-lab-sN      s0  198.18.0.(10+N)/24, MAC 02:00:00:00:01:(10+N); VIPs on lo, ARP suppressed
#   VIPs               203.0.113.10, 2001:db8:ffff::10
#
# `up` first takes down whatever an earlier run left (also after a crash), so it always starts clean.
# Nothing leaves the namespaces: no interface in them is connected to the host's network. Files
# (server logs, `dromos backend setup` state) live in /run/dromos-lab. `BACKENDS_UP=3 tools/lab.sh up 4`
# starts servers on the first 3 backends only (the demo adds the 4th to the pool later).
set -euo pipefail
cd "$(dirname "$0")/.."

prefix=dromos-lab
dir=/run/dromos-lab
vip=203.0.113.10
vip6=2001:db8:ffff::10
balancer_mac=02:00:00:00:00:02

[ "$(id -u)" -eq 0 ] || { echo "lab: run as root (it creates network namespaces)" >&2; exit 1; }

namespaces() { ip netns list 2>/dev/null | awk '{print $1}' | grep "^$prefix-" || true; }

down() {
    for ns in $(namespaces); do
        # Every process in the namespace goes with it (servers, a forgotten dromos run).
        for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
        ip netns del "$ns" 2>/dev/null || true
    done
    rm -rf "$dir"
}

backend_mac() { printf '02:00:00:00:01:%02d' $((10 + $1)); }
backend_address() { echo "198.18.0.$((10 + $1))"; }

# HTTP on 80 (answers its name), TCP and UDP echo on 7; on every address (the VIP is on lo).
servers='
import socket, socketserver, sys, threading, http.server
name = sys.argv[1]
class Answer(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        body = (name + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True
    def log_message(self, *args):
        pass
class HTTP(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256
class Echo(socketserver.BaseRequestHandler):
    # Echoes everything; a first line "WHO" is answered with the name of the server instead, so a client of
    # a long-lived connection can tell which backend it reached.
    def handle(self):
        self.request.settimeout(120)
        first = True
        while True:
            data = self.request.recv(65536)
            if not data:
                return
            if first and data == b"WHO\n":
                data = (name + "\n").encode()
            first = False
            self.request.sendall(data)
class TCPEcho(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
class UDPEcho(socketserver.BaseRequestHandler):
    def handle(self):
        data, sock = self.request
        sock.sendto(data, self.client_address)
for server in (TCPEcho(("0.0.0.0", 7), Echo), socketserver.ThreadingUDPServer(("0.0.0.0", 7), UDPEcho)):
    threading.Thread(target=server.serve_forever, daemon=True).start()
print("serving", name, flush=True)
HTTP(("0.0.0.0", 80), Answer).serve_forever()
'

# Starts backend N's servers (in the background, logged to /run/dromos-lab/sN.log).
start_servers() {
    ip netns exec "$prefix-s$1" python3 -c "$servers" "s$1" >"$dir/s$1.log" 2>&1 &
    echo $! >"$dir/s$1.pid"
}

up() {
    local count=${1:-4} serving=${BACKENDS_UP:-${1:-4}}
    [ "$count" -ge 1 ] && [ "$count" -le 9 ] || { echo "lab: 1 to 9 backends" >&2; exit 1; }
    down
    # Half a lab is no lab: whatever fails below takes down what was built so far.
    trap 'down; echo "lab: up failed; removed what was built" >&2' ERR
    mkdir -p "$dir"
    local dromos=${DROMOS:-}
    if [ -z "$dromos" ]; then
        source tools/env.sh
        dromos=$(swift build -c release --show-bin-path)/dromos
    fi
    [ -x "$dromos" ] || { echo "lab: $dromos is missing (swift build -c release --product dromos)" >&2; exit 1; }
    ip netns add "$prefix-sw"
    ip -n "$prefix-sw" link add br0 type bridge
    ip -n "$prefix-sw" link set br0 up
    attach() {  # role, inside interface, MAC or "", IPv4/24, IPv6 host part
        local ns="$prefix-$1" port="p$1"
        ip netns add "$ns"
        ip -n "$ns" link set lo up
        if [ -n "$3" ]; then
            ip link add "$2" netns "$ns" address "$3" type veth peer name "$port" netns "$prefix-sw"
        else
            ip link add "$2" netns "$ns" type veth peer name "$port" netns "$prefix-sw"
        fi
        ip -n "$prefix-sw" link set "$port" master br0 up
        ip -n "$ns" link set "$2" up
        ip -n "$ns" addr add "$4/24" dev "$2"
        ip -n "$ns" -6 addr add "2001:db8:18::$5/64" dev "$2" nodad
    }
    attach client c0 "" 198.18.0.1 1
    attach lb lb0 "$balancer_mac" 198.18.0.2 2
    ip -n "$prefix-client" route add "$vip/32" via 198.18.0.2
    ip -n "$prefix-client" -6 route add "$vip6/128" via 2001:db8:18::2
    for ((n = 1; n <= count; n++)); do
        attach "s$n" s0 "$(backend_mac "$n")" "$(backend_address "$n")" $((10 + n))
        ip netns exec "$prefix-s$n" "$dromos" backend setup --vip "$vip" --vip "$vip6" --state "$dir/s$n-setup.yaml" >/dev/null
        if [ "$n" -le "$serving" ]; then start_servers "$n"; fi
    done
    for ((n = 1; n <= serving; n++)); do
        for _ in $(seq 100); do grep -q serving "$dir/s$n.log" 2>/dev/null && break; sleep 0.1; done
    done
    echo "$count" >"$dir/backends"
    trap - ERR
    status
}

status() {
    local list
    list=$(namespaces)
    if [ -z "$list" ]; then echo "lab: down"; return 0; fi
    echo "lab: up ($(echo "$list" | wc -l) namespaces: $(echo "$list" | tr '\n' ' '))"
    echo "  client    dromos-lab-client  198.18.0.1   → VIP $vip / $vip6 via 198.18.0.2"
    echo "  balancer  dromos-lab-lb      198.18.0.2   lb0 $balancer_mac"
    local count
    count=$(cat "$dir/backends" 2>/dev/null || echo 0)
    for ((n = 1; n <= count; n++)); do
        local state=stopped
        [ -f "$dir/s$n.pid" ] && kill -0 "$(cat "$dir/s$n.pid")" 2>/dev/null && state=serving
        echo "  backend   dromos-lab-s$n       $(backend_address "$n")  $(backend_mac "$n")  http :80, echo :7 ($state)"
    done
}

case "${1:-}" in
    up) up "${2:-4}" ;;
    down) down; echo "lab: down" ;;
    status) status ;;
    start-servers) start_servers "$2" ;;
    stop-servers) if [ -f "$dir/s$2.pid" ]; then kill -TERM "$(cat "$dir/s$2.pid")" 2>/dev/null || true; fi; rm -f "$dir/s$2.pid" ;;
    *) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
