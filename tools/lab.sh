#!/usr/bin/env bash
# The direct-routing lab, in network namespaces of its own: a bridge as the switch, a client, the
# balancer and N backends prepared with `dromos backend setup`, each running real servers (HTTP on port
# 80 answering its name, a TCP and a UDP echo on port 7). The one lab: the demo, the soak, the rate
# benchmark and the end-to-end tests (Tests/EndToEndTests/DaemonLab.swift) all build it here.
#
# Usage: tools/lab.sh up [BACKENDS (default 4)] [OPTIONS] | down | status | start-servers N | stop-servers N
#        (root). LAB_NAME (default dromos-lab) names the namespaces and LAB_DIR (default /run/LAB_NAME)
#        holds the files, so that several labs can live side by side (the tests run in parallel).
#
#   NAME-sw      br0, the switch
#   NAME-client  c0  198.18.0.1/24, 2001:db8:18::1/64, MAC 02:00:00:00:00:01; routes the VIPs via the balancer
#   NAME-lb      lb0 198.18.0.2/24, 2001:db8:18::2/64, MAC 02:00:00:00:00:02 (run dromos here)
#   NAME-sN      s0  198.18.0.(10+N)/24, 2001:db8:18::(10+N)/64, MAC 02:00:00:00:01:(10+N); VIPs on lo, ARP suppressed
#   VIPs         203.0.113.10, 2001:db8:ffff::10
#
# Options for `up` (the demo uses none):
#   --ipv4-only              IPv6 off in every namespace: no router solicitations or DAD in captures
#   --no-servers             start no servers (the caller starts its own)
#   --sink                   no servers; each backend drops every frame at ingress (a rate benchmark)
#   --backend-vip MODE       setup (default: `dromos backend setup`), hand (VIPs on lo, arp_ignore/announce
#                            by sysctl), kernel (VIPs on lo, the kernel's default ARP: every backend answers)
#   --client-route MODE      via (default: the VIPs via the balancer's address) or onlink (the client ARPs for them)
#   --static-fdb             bridge ports do not learn; static FDB entries for every fixed MAC (no flooding
#                            of forwarded frames back to lb0 under load)
#   --vlan-trunk             lb0 is not on the bridge: its peer `tr` waits in NAME-sw for a tag relay, and
#                            `tu`/`plb` join the bridge for it; the client gets a static neighbour entry
#                            for the balancer and sends finished checksums
#   --short-neighbor-timers  the balancer's neighbour entries go stale after ~1 s (re-resolution tests)
#   --balancers N            N balancers (scale-out): NAME-lb1…lbN, lb0 198.18.0.(1+i), MAC 02:00:00:00:00:0(1+i)
#   --router                 the client sits behind a router instead of on the bridge (scale-out behind
#                            ECMP): NAME-router r0 198.18.0.254 on the bridge, rc0 198.18.1.254 to the
#                            client's c0 198.18.1.1; forwarding on, multipath hashing over the 5-tuple
#                            (fib_multipath_hash_policy 3, fields 0x37); the backends reply through it.
#                            The VIP routes are left to the routing daemon the caller runs there.
#
# `up` first takes down whatever an earlier run of that name left (also after a crash), so it always
# starts clean. Nothing leaves the namespaces: no interface in them is connected to the host's network.
# `BACKENDS_UP=3 tools/lab.sh up 4` starts servers on the first 3 backends only (the demo adds the 4th
# to the pool later).
set -euo pipefail
cd "$(dirname "$0")/.."

prefix=${LAB_NAME:-dromos-lab}
dir=${LAB_DIR:-/run/$prefix}
vip=203.0.113.10
vip6=2001:db8:ffff::10
client_mac=02:00:00:00:00:01
# `down` removes the directory: refuse one that is not plainly a lab's own.
[[ "$(basename "$dir")" == *dromos* && "$dir" == /* ]] || { echo "lab: LAB_DIR must be an absolute path whose last part names dromos, got $dir" >&2; exit 2; }
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
    local count=4 server_mode=yes ipv6=yes backend_vip=setup client_route=via static_fdb=no vlan_trunk=no short_timers=no
    local balancers=1 router=no
    if [[ "${1:-}" =~ ^[0-9]+$ ]]; then count=$1; shift; fi
    while [ $# -gt 0 ]; do
        case "$1" in
            --ipv4-only) ipv6=no ;;
            --no-servers) server_mode=no ;;
            --sink) server_mode=sink ;;
            --backend-vip) backend_vip=${2:-}; shift ;;
            --client-route) client_route=${2:-}; shift ;;
            --static-fdb) static_fdb=yes ;;
            --vlan-trunk) vlan_trunk=yes ;;
            --short-neighbor-timers) short_timers=yes ;;
            --balancers) balancers=${2:-}; shift ;;
            --router) router=yes ;;
            *) echo "lab: unknown option $1 (see tools/lab.sh --help)" >&2; exit 2 ;;
        esac
        shift
    done
    [[ "$backend_vip" =~ ^(setup|hand|kernel)$ ]] || { echo "lab: --backend-vip setup|hand|kernel" >&2; exit 2; }
    [[ "$client_route" =~ ^(via|onlink)$ ]] || { echo "lab: --client-route via|onlink" >&2; exit 2; }
    [[ "$balancers" =~ ^[1-8]$ ]] || { echo "lab: --balancers 1 to 8" >&2; exit 2; }
    if [ "$balancers" -gt 1 ] && [ "$vlan_trunk" = yes ]; then echo "lab: --vlan-trunk takes one balancer" >&2; exit 2; fi
    local serving=${BACKENDS_UP:-$count}
    [ "$server_mode" = yes ] || serving=0
    [ "$count" -ge 1 ] && [ "$count" -le 9 ] || { echo "lab: 1 to 9 backends" >&2; exit 1; }
    down
    # Half a lab is no lab: whatever fails below takes down what was built so far.
    trap 'down; echo "lab: up failed; removed what was built" >&2' ERR
    mkdir -p "$dir"
    local dromos=${DROMOS:-}
    if [ -z "$dromos" ] && [ "$backend_vip" = setup ]; then
        source tools/env.sh
        dromos=$(swift build -c release --show-bin-path)/dromos
    fi
    if [ "$backend_vip" = setup ]; then
        [ -x "$dromos" ] || { echo "lab: $dromos is missing (swift build -c release --product dromos)" >&2; exit 1; }
    fi
    namespace() {
        ip netns add "$prefix-$1"
        ip -n "$prefix-$1" link set lo up
        if [ "$ipv6" = no ]; then
            ip netns exec "$prefix-$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
        fi
    }
    namespace sw
    # No multicast snooping: a snooping bridge joins the all-snoopers group and sends IGMP reports of its
    # own, at random times after it comes up, which frame counts in the tests would have to explain.
    ip -n "$prefix-sw" link add br0 type bridge mcast_snooping 0
    ip -n "$prefix-sw" link set br0 up
    port() {  # bridge port, MAC or "": joins br0, and with --static-fdb stops learning and pins the MAC
        ip -n "$prefix-sw" link set "$1" master br0 up
        if [ "$static_fdb" = yes ]; then
            ip netns exec "$prefix-sw" bridge link set dev "$1" learning off
            if [ -n "$2" ]; then ip netns exec "$prefix-sw" bridge fdb replace "$2" dev "$1" master static; fi
        fi
    }
    attach() {  # role, inside interface, MAC, IPv4/24, IPv6 host part; "bridged" unless $6 names the peer to leave alone
        local ns="$prefix-$1" peer="${6:-p$1}"
        namespace "$1"
        ip link add "$2" netns "$ns" address "$3" type veth peer name "$peer" netns "$prefix-sw"
        if [ -z "${6:-}" ]; then port "$peer" "$3"; else ip -n "$prefix-sw" link set "$peer" up; fi
        ip -n "$ns" link set "$2" up
        ip -n "$ns" addr add "$4/24" dev "$2"
        if [ "$ipv6" = yes ]; then ip -n "$ns" -6 addr add "2001:db8:18::$5/64" dev "$2" nodad; fi
    }
    if [ "$router" = yes ]; then
        attach router r0 02:00:00:00:00:fe 198.18.0.254 254
        namespace client
        ip link add c0 netns "$prefix-client" address "$client_mac" type veth peer name rc0 netns "$prefix-router"
        ip -n "$prefix-client" link set c0 up
        ip -n "$prefix-router" link set rc0 up
        ip -n "$prefix-client" addr add 198.18.1.1/24 dev c0
        ip -n "$prefix-router" addr add 198.18.1.254/24 dev rc0
        ip -n "$prefix-client" route add default via 198.18.1.254
        if [ "$ipv6" = yes ]; then
            ip -n "$prefix-client" -6 addr add 2001:db8:19::1/64 dev c0 nodad
            ip -n "$prefix-router" -6 addr add 2001:db8:19::254/64 dev rc0 nodad
            ip -n "$prefix-client" -6 route add default via 2001:db8:19::254
        fi
        # L4 hashing: policy 1 would reuse a hash the client's own stack attached (it shares this kernel).
        ip netns exec "$prefix-router" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.fib_multipath_hash_policy=3 \
            net.ipv4.fib_multipath_hash_fields=0x0037 net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
        if [ "$ipv6" = yes ]; then
            ip netns exec "$prefix-router" sysctl -qw net.ipv6.conf.all.forwarding=1 net.ipv6.fib_multipath_hash_policy=3 \
                net.ipv6.fib_multipath_hash_fields=0x0037
        fi
    else
        attach client c0 "$client_mac" 198.18.0.1 1
    fi
    if [ "$balancers" -gt 1 ]; then
        for ((b = 1; b <= balancers; b++)); do attach "lb$b" lb0 "02:00:00:00:00:0$((1 + b))" "198.18.0.$((1 + b))" $((1 + b)); done
    elif [ "$vlan_trunk" = yes ]; then
        # The relay (the caller's) bridges tu, on the switch, and tr, lb0's peer, pushing and popping the tag.
        attach lb lb0 "$balancer_mac" 198.18.0.2 2 tr
        ip link add tu netns "$prefix-sw" type veth peer name plb netns "$prefix-sw"
        ip -n "$prefix-sw" link set tu up
        port plb "$balancer_mac"
        # The balancer's own stack cannot answer ARP on a tagged link; the relay cannot finish checksums.
        ip -n "$prefix-client" neigh replace 198.18.0.2 lladdr "$balancer_mac" dev c0 nud permanent
        ip netns exec "$prefix-client" ethtool -K c0 tx off tso off gso off >/dev/null
    else
        attach lb lb0 "$balancer_mac" 198.18.0.2 2
    fi
    if [ "$short_timers" = yes ] && [ "$balancers" -eq 1 ]; then
        ip netns exec "$prefix-lb" sysctl -qw net.ipv4.neigh.lb0.base_reachable_time_ms=1000 net.ipv4.neigh.lb0.delay_first_probe_time=1
    fi
    if [ "$router" = yes ]; then
        :  # the router's routing daemon learns the VIPs from the balancers
    elif [ "$client_route" = via ]; then
        ip -n "$prefix-client" route add "$vip/32" via 198.18.0.2
        if [ "$ipv6" = yes ]; then ip -n "$prefix-client" -6 route add "$vip6/128" via 2001:db8:18::2; fi
    else
        ip -n "$prefix-client" route add "$vip/32" dev c0
        if [ "$ipv6" = yes ]; then ip -n "$prefix-client" -6 route add "$vip6/128" dev c0; fi
    fi
    local vips=("$vip")
    [ "$ipv6" = yes ] && vips+=("$vip6")
    for ((n = 1; n <= count; n++)); do
        local ns="$prefix-s$n"
        attach "s$n" s0 "$(backend_mac "$n")" "$(backend_address "$n")" $((10 + n))
        if [ "$router" = yes ]; then
            ip -n "$ns" route add default via 198.18.0.254
            if [ "$ipv6" = yes ]; then ip -n "$ns" -6 route add default via 2001:db8:18::254; fi
        fi
        case "$backend_vip" in
            setup)
                local arguments=()
                for address in "${vips[@]}"; do arguments+=(--vip "$address"); done
                ip netns exec "$ns" "$dromos" backend setup "${arguments[@]}" --state "$dir/s$n-setup.yaml" >/dev/null ;;
            hand|kernel)
                ip -n "$ns" addr add "$vip/32" dev lo
                if [ "$ipv6" = yes ]; then ip -n "$ns" -6 addr add "$vip6/128" dev lo; fi
                if [ "$backend_vip" = hand ]; then
                    ip netns exec "$ns" sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 \
                        net.ipv4.conf.s0.arp_ignore=1 net.ipv4.conf.s0.arp_announce=2
                fi ;;
        esac
        if [ "$server_mode" = sink ]; then
            ip netns exec "$ns" nft -f - <<NFT
table netdev sink {
    chain in {
        type filter hook ingress device s0 priority 0; policy drop;
    }
}
NFT
        fi
        if [ "$n" -le "$serving" ]; then start_servers "$n"; fi
    done
    for ((n = 1; n <= serving; n++)); do
        for _ in $(seq 100); do grep -q serving "$dir/s$n.log" 2>/dev/null && break; sleep 0.1; done
    done
    echo "$count" >"$dir/backends"
    trap - ERR
    status
}

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }

status() {
    local list
    list=$(namespaces)
    if [ -z "$list" ]; then echo "lab: down"; return 0; fi
    echo "lab: up ($(echo "$list" | wc -l) namespaces: $(echo "$list" | tr '\n' ' '))"
    if echo "$list" | grep -q -- "^$prefix-router$"; then
        echo "  client    $prefix-client  198.18.1.1   behind $prefix-router (198.18.0.254), which routes the VIPs"
    else
        echo "  client    $prefix-client  198.18.0.1   → VIP $vip / $vip6 via 198.18.0.2"
    fi
    local balancer
    for balancer in $(echo "$list" | grep -E -- "^$prefix-lb[0-9]*$" | sort); do
        echo "  balancer  $balancer      $(ip -n "$balancer" -4 -o addr show lb0 | awk '{ sub(/\/.*/, "", $4); print $4 }')   lb0 $(ip -n "$balancer" -o link show lb0 | grep -o 'link/ether [0-9a-f:]*' | cut -d' ' -f2)"
    done
    local count
    count=$(cat "$dir/backends" 2>/dev/null || echo 0)
    for ((n = 1; n <= count; n++)); do
        local state=stopped
        [ -f "$dir/s$n.pid" ] && kill -0 "$(cat "$dir/s$n.pid")" 2>/dev/null && state=serving
        echo "  backend   $prefix-s$n       $(backend_address "$n")  $(backend_mac "$n")  http :80, echo :7 ($state)"
    done
}

case "${1:-}" in
    up) shift; up "$@" ;;
    down) down; echo "lab: down" ;;
    status) status ;;
    start-servers) start_servers "$2" ;;
    stop-servers) if [ -f "$dir/s$2.pid" ]; then kill -TERM "$(cat "$dir/s$2.pid")" 2>/dev/null || true; fi; rm -f "$dir/s$2.pid" ;;
    --help|-h) usage ;;
    *) usage; exit 2 ;;
esac
