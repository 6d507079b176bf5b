#!/usr/bin/env bash
# The Dromos demo: Dromos balancing real HTTP traffic in a lab of network namespaces, with a live view.
#
# Usage: bash tools/demo.sh [--help]        (root, on Debian 12; about a minute after the build)
#
# What it does to this machine:
#   1. tools/setup.sh: installs the Debian packages Dromos needs (libpcap, tcpdump, tshark, ethtool,
#      nftables, netsniff-ng, python3, iproute2, and bird2 for the scale-out test, its service left
#      disabled) and, only if no swift is found, the Swift 6.3.1 toolchain into /opt/swift;
#   2. builds the release binary (.build/release/dromos; several minutes the first time);
#   3. tools/lab.sh up 4: network namespaces dromos-lab-* (a bridge, a client, the balancer, four
#      backends with HTTP servers), addresses 198.18.0.0/24 and 2001:db8:18::/64, VIP 203.0.113.10;
#      nothing in them is connected to this machine's network, and files go to /run/dromos-lab;
#   4. runs `dromos run` in the balancer's namespace, a client sending HTTP requests to the VIP, and
#      this scenario: steady traffic over three backends; a fourth added (its share appears); one
#      backend's server killed (its health check takes it out; the client sees no error, retrying a
#      refused connection for up to 5 s as browsers and proxies do); the server back (it rejoins); a
#      drain; and the proof that replies bypass the balancer (frames on its interface: in from the
#      client, none from the VIP back);
#   5. removes the lab again (also on Ctrl-C or failure).
# On a terminal the view updates in place; otherwise (CI logs) it prints plain lines.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--help" ] || [ "${1:-}" = "-h" ]; then sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0; fi
[ "$(id -u)" -eq 0 ] || { echo "demo: run as root (it installs packages and creates network namespaces)" >&2; exit 1; }

started=$(date +%s)
echo "demo: installing what is needed (tools/setup.sh)"
bash tools/setup.sh
source tools/env.sh
echo "demo: building the release binary (swift build -c release; several minutes the first time)"
swift build -c release --product dromos 2>&1 | grep -E "error|warning: |Compiling dromos|Build" | tail -3
dromos=$(swift build -c release --show-bin-path)/dromos
export DROMOS=$dromos

lab=/run/dromos-lab
vip=203.0.113.10
pids=()
finish() {
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    bash tools/lab.sh down >/dev/null 2>&1 || true
    if [ -t 1 ]; then printf '\033[?25h'; fi
}
trap finish EXIT
trap 'exit 130' INT TERM

echo "demo: bringing the lab up (tools/lab.sh up 4)"
bash tools/lab.sh up 4 >/dev/null
mac() { printf '02:00:00:00:01:%02d' $((10 + $1)); }
cat >"$lab/dromos.yaml" <<YAML
interface: lb0
control: { socket: $lab/control.sock }
services:
  - name: web
    vip: $vip
    port: 80
    scheduler: maglev
    health: { type: http, path: /, interval: 500ms, timeout: 400ms, rise: 2, fall: 2 }
    backends:
      - { address: 198.18.0.11, mac: "$(mac 1)" }
      - { address: 198.18.0.12, mac: "$(mac 2)" }
      - { address: 198.18.0.13, mac: "$(mac 3)" }
YAML
in_lb() { ip netns exec dromos-lab-lb "$@"; }
ctl() { in_lb "$dromos" ctl --socket "$lab/control.sock" "$@"; }

# Started directly (not through a function), so that the pids are theirs and SIGTERM reaches them.
ip netns exec dromos-lab-lb tcpdump -i lb0 -n -U -w "$lab/lb0.pcap" tcp port 80 2>"$lab/tcpdump.log" &
pids+=($!)
ip netns exec dromos-lab-lb "$dromos" run --config "$lab/dromos.yaml" --workers 2 2>"$lab/dromos.log" &
pids+=($!)
for _ in $(seq 1200); do grep -q "running:" "$lab/dromos.log" && break; sleep 0.1; done
grep -q "running:" "$lab/dromos.log" || { echo "demo: dromos run did not start:"; cat "$lab/dromos.log"; exit 1; }

# The client: 8 threads, each request on a new connection; a refused or timed-out connection is tried
# again (new connection) for up to 5 s. One JSON line a second: answers by backend, retries, failures.
ip netns exec dromos-lab-client python3 -c '
import http.client, json, os, sys, threading, time
vip, stop_file = sys.argv[1], sys.argv[2]
lock = threading.Lock()
answers, retries, failures = {}, 0, 0
def worker():
    global retries, failures
    while not os.path.exists(stop_file):
        deadline = time.monotonic() + 5
        while True:
            try:
                connection = http.client.HTTPConnection(vip, 80, timeout=1)
                connection.request("GET", "/")
                name = connection.getresponse().read().decode().strip()
                connection.close()
                with lock:
                    answers[name] = answers.get(name, 0) + 1
                break
            except (OSError, http.client.HTTPException):
                if time.monotonic() > deadline:
                    with lock:
                        failures += 1
                    break
                with lock:
                    retries += 1
                time.sleep(0.1)
        time.sleep(0.02)
for _ in range(8):
    threading.Thread(target=worker, daemon=True).start()
end = time.monotonic() + 300
while not os.path.exists(stop_file) and time.monotonic() < end:
    time.sleep(1)
    with lock:
        print(json.dumps({"t": time.monotonic(), "answers": answers, "retries": retries, "failures": failures}), flush=True)
' "$vip" "$lab/client.stop" >"$lab/client.jsonl" 2>"$lab/client.err" &
pids+=($!)

if [ -t 1 ]; then mode=tty; else mode=plain; fi
steps=("steady traffic over three backends" "a fourth backend added: its share appears"
       "s2's server killed: its health check takes it out, no client error" "s2's server back: it rejoins"
       "s3 drained: its flows may finish, no new ones" "replies bypass the balancer")
at=(0 10 20 30 42 52)
duration=60
step=-1
view() {  # seconds, step
    python3 - "$1" "$2" "${#steps[@]}" "${steps[$2]}" "$lab" "$mode" <<'PY'
import json, os, subprocess, sys
seconds, step, steps, title, lab, mode = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6]
def ctl(*args):
    out = subprocess.run(["ip", "netns", "exec", "dromos-lab-lb", os.environ["DROMOS"], "ctl", "--socket", lab + "/control.sock", "--json", *args],
                         capture_output=True, text=True)
    try: return json.loads(out.stdout)
    except Exception: return {}
stats, backends, status = ctl("stats"), ctl("backends", "web"), ctl("status")
state_path = lab + "/view.json"
previous = json.load(open(state_path)) if os.path.exists(state_path) else {}
lines = open(lab + "/client.jsonl").read().splitlines() if os.path.exists(lab + "/client.jsonl") else []
client = json.loads(lines[-1]) if lines else {"t": 0, "answers": {}, "retries": 0, "failures": 0}
client_before = previous.get("client", client)
# The client writes once a second on its own clock: rates over the time between its two lines.
elapsed = max(client["t"] - client_before["t"], 1.0) if client_before is not client else 1.0
figures = {b["address"]: b for b in stats.get("backends", [])}
now = {}
rows = []
for b in backends.get("backends", []):
    address = b["address"]; name = "s" + str(int(address.split(".")[-1]) - 10)
    f = figures.get(address, {})
    packets, flows = f.get("packets", 0), f.get("new_flows", 0)
    before = previous.get("backends", {}).get(address, {"packets": packets, "flows": flows})
    now[address] = {"packets": packets, "flows": flows}
    answered = round((client["answers"].get(name, 0) - client_before["answers"].get(name, 0)) / elapsed)
    rows.append((name, address, b.get("state", "?"), b.get("health", "?"), flows - before["flows"], packets - before["packets"], answered,
                 b.get("last_result") or "-"))
json.dump({"backends": now, "client": client}, open(state_path, "w"))
requests = round((sum(client["answers"].values()) - sum(client_before["answers"].values())) / elapsed)
bar = "#" * (step + 1) + "." * (steps - step - 1)
if mode == "tty":
    out = ["\033[H\033[J", f"Dromos demo: VIP 203.0.113.10:80 in the lab, {seconds:2d} s   table generation {status.get('generation', '?')}   workers {status.get('workers', '?')}", "",
           f"{'BACKEND':8} {'ADDRESS':12} {'STATE':9} {'HEALTH':9} {'CONN/S':>7} {'PKT/S':>7} {'ANSWERS/S':>10}  LAST CHECK"]
    for r in rows:
        out.append(f"{r[0]:8} {r[1]:12} {r[2]:9} {r[3]:9} {r[4]:7d} {r[5]:7d} {r[6]:10d}  {r[7]}")
    out += ["", f"client: {requests} requests/s, refused connections retried {client['retries']}, failed requests {client['failures']} (in all)",
            f"[{bar}] step {step + 1}/{steps}: {title}"]
    sys.stdout.write("\n".join(out) + "\n")
else:
    shares = " ".join(f"{r[0]}={r[6]}/s({r[3]},{r[2]})" for r in rows)
    print(f"{seconds:3d}s gen {status.get('generation', '?')} {requests} req/s {shares} retried {client['retries']} failed {client['failures']}", flush=True)
PY
}

if [ -t 1 ]; then printf '\033[?25l\033[H\033[J'; fi
for ((second = 0; second <= duration; second++)); do
    for ((i = 0; i < ${#at[@]}; i++)); do
        [ "${at[$i]}" -eq "$second" ] || continue
        step=$i
        [ -t 1 ] || echo "--- step $((i + 1))/${#steps[@]}: ${steps[$i]}"
        case $i in
            1) ctl backend add web 198.18.0.14 --mac "$(mac 4)" >/dev/null ;;
            2) bash tools/lab.sh stop-servers 2 ;;
            3) bash tools/lab.sh start-servers 2 ;;
            4) ctl backend drain web 198.18.0.13 >/dev/null ;;
        esac
    done
    # One view that cannot be drawn (a half-written client line) must not end the demo.
    view "$second" "$step" || true
    sleep 1
done

touch "$lab/client.stop"
kill -TERM "${pids[0]}" 2>/dev/null || true
wait "${pids[0]}" 2>/dev/null || true
to_vip=$(tcpdump -r "$lab/lb0.pcap" -n "dst host $vip" 2>/dev/null | wc -l)
from_vip=$(tcpdump -r "$lab/lb0.pcap" -n "src host $vip" 2>/dev/null | wc -l)
last=$(tail -n 1 "$lab/client.jsonl")
total=$(python3 -c 'import json, sys; d = json.loads(sys.argv[1]); print(sum(d["answers"].values()), d["retries"], d["failures"], " ".join(f"{k}={v}" for k, v in sorted(d["answers"].items())))' "$last")
read -r answered retried failed shares <<<"$total"
echo
echo "demo: the balancer's interface lb0 carried $to_vip frames from clients to the VIP and $from_vip from the VIP"
echo "      back: the backends answered the clients directly (direct server return)."
echo "demo: $answered requests answered ($shares), $retried refused connections retried, $failed requests failed."
{ grep -E "is down|is up|accepted" "$lab/dromos.log" | sed 's/^[^ ]* [^ ]* [^ ]* /dromos: /' | head -8; } || true
echo "demo: done in $(( $(date +%s) - started )) s; the lab is being removed."
if [ "$from_vip" -eq 0 ] && [ "$failed" -eq 0 ] && [ "$answered" -gt 0 ]; then exit 0; fi
echo "demo: something is off (frames from the VIP on lb0, failed requests, or no answers): see above" >&2
exit 1
