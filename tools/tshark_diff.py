#!/usr/bin/env python3
"""Differential check of `dromos explain` flows against tshark (stdlib only).

For every capture, runs `DROMOS explain FILE` (one JSON object per frame) and
tshark with the field list below, then compares the flow tuple (src, dst,
proto, sport, dport) of every frame tshark can vouch for:

  * the outermost IP layer (ip/ipv6, right after eth/vlan/ethertype) followed
    by tcp or udp, possibly via IPv6 extension headers; or
  * an ICMP error (ICMP 3/4/11/12, ICMPv6 1/2/3/4) quoting ip/ipv6 + tcp/udp:
    the expected flow is the quoted tuple reversed.

Everything else is counted as "not compared" by reason: non-ethernet, non-ip,
other-l4 (tunnels, GRE, ICMP non-errors, AH, SCTP, ...), fragment (non-first
fragments; first fragments are compared, tshark dissects their ports),
tshark-incomplete (tshark lists a layer but not its fields, e.g. IPv6
payload length 0 without a jumbo option).
tshark addresses are put in RFC 5952 form; ours are compared verbatim.

tshark numbers non-packet pcapng records (custom blocks) as frames; those rows
are dropped and frames renumbered so numbering matches a packet-only reader.

Output: a human summary (stderr with --json, else stdout) ending in
`tshark-diff: N compared, A agreed, D disagreed, F files`. With --json,
stdout carries one object per disagreement,
  {"file", "frame", "ours", "tshark", "diff"}
where "ours" is the dromos flow plus "parse"/"fragment" ({"flow": null, ...}
when dromos gave no flow; null when dromos printed no line for the frame),
then a final {"summary": {...}} object.

Exit status: 0 when every file was processed (disagreements or not); 2 on a
usage error or when a dromos/tshark run fails. `dromos explain` exiting 1 on
a capture that is not purely Ethernet marks the file "skipped", not failed.
"""

import argparse
import concurrent.futures
import ipaddress
import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

# tshark expert/malformed markers copied into disagreement records as "notes"
# (frame-level: they tell why tshark kept going where a strict parser stops).
NOTE_FIELDS = (
    "_ws.malformed", "_ws.short", "ip.bogus_ip_length", "ipv6.plen_exceeds_framing",
    "ipv6.plen_zero", "tcp.bogus_header_length", "udp.length.bad", "udp.length.bad_zero",
)
FIELDS = (
    "frame.number", "frame.encap_type", "frame.len", "frame.cap_len", "frame.protocols",
    "ip.src", "ip.dst", "ip.frag_offset",
    "ipv6.src", "ipv6.dst", "ipv6.fraghdr.offset",
    "icmp.type", "icmpv6.type",
    "tcp.srcport", "tcp.dstport", "udp.srcport", "udp.dstport",
) + NOTE_FIELDS
# The frame.protocols layer each multi-occurrence field belongs to.
FIELD_LAYER = {f: f.rsplit(".", 1)[0] for f in FIELDS[5:]}

TSHARK_OPTS = (
    "-n",
    "-o", "ip.defragment:FALSE",     # one frame = one datagram, no reassembly
    "-o", "ipv6.defragment:FALSE",
    "-o", "ip.tso_support:FALSE",    # IPv4 total length 0 is bogus, not "TSO"
    "-o", "tcp.desegment_tcp_streams:FALSE",   # no cross-frame state
    "-o", "tcp.analyze_sequence_numbers:FALSE",
)

LINK_LAYERS = {"eth", "ethertype", "vlan", "ieee8021ad"}
IPV6_EXT = {"ipv6.hopopts", "ipv6.routing", "ipv6.fraghdr", "ipv6.dstopts"}
TRANSPORT = {"tcp": 6, "udp": 17}
ICMP_ERRORS = {"icmp": ("ip", {"3", "4", "11", "12"}), "icmpv6": ("ipv6", {"1", "2", "3", "4"})}
FLOW_KEYS = ("src", "dst", "proto", "sport", "dport")
CAPTURE_SUFFIXES = {".pcap", ".pcapng", ".cap"}
ETHERNET_ENCAP = "1"  # wiretap's WTAP_ENCAP_ETHERNET


class Failure(Exception):
    """A dromos or tshark run failed; the whole check exits 2."""


class Unmappable(Exception):
    """tshark's field occurrences cannot be matched to its layers."""


def canonical_ip(text):
    """RFC 5952 text for an address (IPv4-mapped IPv6 as ::ffff:a.b.c.d)."""
    addr = ipaddress.ip_address(text)
    if addr.version == 6 and addr.ipv4_mapped:
        return "::ffff:" + str(addr.ipv4_mapped)
    return str(addr)


def expected_flow(row):
    """Return (flow, None) for a comparable tshark row, else (None, reason)."""
    toks = row["frame.protocols"].split(":")

    def get(field, pos):
        # The k-th layer named L owns the k-th value of L's fields, provided
        # tshark gave every L layer a value (it may omit them on bad headers).
        layer, values = FIELD_LAYER[field], row[field].split(",") if row[field] else []
        if len(values) != toks.count(layer):
            raise Unmappable(field)
        return values[toks[:pos].count(layer)]

    def ip_layer(pos):  # -> (fraghdr position or None, position after ext headers)
        frag, pos = None, pos + 1
        if toks[pos - 1] == "ipv6":
            while pos < len(toks) and toks[pos] in IPV6_EXT:
                frag = pos if toks[pos] == "ipv6.fraghdr" else frag
                pos += 1
        return frag, pos

    def later_fragment(ip_pos, frag_pos):
        try:
            if toks[ip_pos] == "ip":
                return get("ip.frag_offset", ip_pos) != "0"
            return frag_pos is not None and get("ipv6.fraghdr.offset", frag_pos) != "0"
        except Unmappable:  # header too broken for tshark to say; decided below
            return False

    i = 0
    while i < len(toks) and toks[i] in LINK_LAYERS:
        i += 1
    if i == len(toks) or toks[i] not in ("ip", "ipv6"):
        return None, "non-ip"
    outer = i
    frag, i = ip_layer(outer)
    nxt = toks[i] if i < len(toks) else None
    try:
        if later_fragment(outer, frag):
            return None, "fragment"
        ip_pos, error = outer, False
        if nxt in ICMP_ERRORS and ICMP_ERRORS[nxt][0] == toks[outer]:
            family, types = ICMP_ERRORS[nxt]
            if get(f"{nxt}.type", i) not in types or i + 1 >= len(toks) or toks[i + 1] != family:
                return None, "other-l4"
            ip_pos, error = i + 1, True
            frag, i = ip_layer(ip_pos)
            if later_fragment(ip_pos, frag):
                return None, "fragment"
            nxt = toks[i] if i < len(toks) else None
        if nxt not in TRANSPORT:
            return None, "other-l4"
        fam = toks[ip_pos]
        flow = {"src": canonical_ip(get(f"{fam}.src", ip_pos)),
                "dst": canonical_ip(get(f"{fam}.dst", ip_pos)),
                "proto": TRANSPORT[nxt],
                "sport": int(get(f"{nxt}.srcport", i)),
                "dport": int(get(f"{nxt}.dstport", i))}
    except (Unmappable, ValueError):
        return None, "tshark-incomplete"
    if error:
        flow = {"src": flow["dst"], "dst": flow["src"], "proto": flow["proto"],
                "sport": flow["dport"], "dport": flow["sport"]}
    return dict(flow, protocols=row["frame.protocols"], icmp_error=error,
                wirelen=int(row["frame.len"] or 0), caplen=int(row["frame.cap_len"] or 0),
                notes=[f for f in NOTE_FIELDS if row[f]]), None


def run(cmd, timeout):
    try:
        return subprocess.run(cmd, capture_output=True, encoding="utf-8", errors="replace",
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise Failure(f"{' '.join(cmd)}: timed out after {timeout}s") from None
    except OSError as exc:
        raise Failure(f"{cmd[0]}: {exc}") from None


def first_line(text):
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("Running as user")]
    return lines[0].strip() if lines else "(no message)"


def read_tshark(path, args, result):
    cmd = [args.tshark, "-r", str(path), *TSHARK_OPTS, "-T", "fields", "-E", "separator=/t",
           "-E", "occurrence=a", "-E", "aggregator=,"]
    for field in FIELDS:
        cmd += ["-e", field]
    proc = run(cmd, args.timeout)
    if proc.returncode != 0:
        msg = first_line(proc.stderr).removeprefix("tshark: ")
        # A damaged/cut-short file still yields the frames before the damage.
        if proc.stdout and ("cut short" in msg or "damaged or corrupt" in msg):
            result["warnings"].append(f"tshark: {msg}")
        else:
            raise Failure(f"tshark exited {proc.returncode} on {path}: {msg}")
    rows, records = [], 0
    for line in proc.stdout.splitlines():
        parts = line.split("\t")
        if len(parts) != len(FIELDS):
            raise Failure(f"tshark printed an unexpected line for {path}: {line[:120]!r}")
        row = dict(zip(FIELDS, parts))
        records += 1
        if row["frame.encap_type"]:  # empty for pcapng custom blocks etc.
            row["frame"] = len(rows) + 1
            rows.append(row)
    if records != len(rows):
        result["warnings"].append(f"tshark shows {records - len(rows)} non-packet records as frames;"
                                  " renumbered")
    return rows


def read_dromos(path, args, rows, result):
    proc = run([args.dromos, "explain", str(path)], args.timeout)
    if proc.returncode == 1 and (not rows or any(r["frame.encap_type"] != ETHERNET_ENCAP for r in rows)):
        result["status"], result["message"] = "skipped", first_line(proc.stderr)
        return None
    if proc.returncode != 0:
        raise Failure(f"dromos explain exited {proc.returncode} on {path}: {first_line(proc.stderr)}")
    frames = {}
    for line in proc.stdout.splitlines():
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            obj = None
        if not isinstance(obj, dict) or not isinstance(obj.get("frame"), int):
            raise Failure(f"dromos explain printed a non-frame line for {path}: {line[:120]!r}")
        frames[obj["frame"]] = obj
    return frames


def ours_view(obj):
    if obj is None:
        return None
    flow = obj.get("flow")
    base = {k: flow.get(k) for k in FLOW_KEYS} if isinstance(flow, dict) else {"flow": None}
    return dict(base, parse=obj.get("parse"), fragment=obj.get("fragment"))


def check_file(path, args):
    result = {"file": path.name, "status": "ok", "message": "", "warnings": [], "compared": 0,
              "agreed": 0, "not_compared": Counter(), "disagreements": []}
    try:
        rows = read_tshark(path, args, result)
        ours = read_dromos(path, args, rows, result)
    except Failure as exc:
        result["status"], result["message"] = "failed", str(exc)
        return result
    if ours is None:
        return result
    if len(ours) != len(rows):
        result["warnings"].append(f"frame count differs: dromos {len(ours)}, tshark {len(rows)}")
    for row in rows:
        if row["frame.encap_type"] != ETHERNET_ENCAP:
            expected, reason = None, "non-ethernet"
        else:
            expected, reason = expected_flow(row)
        if expected is None:
            result["not_compared"][reason] += 1
            continue
        result["compared"] += 1
        obj = ours.get(row["frame"])
        flow = obj.get("flow") if obj else None
        if isinstance(flow, dict):
            diff = [k for k in FLOW_KEYS if flow.get(k) != expected[k]]
        else:
            diff = ["flow"]
        if not diff:
            result["agreed"] += 1
        else:
            result["disagreements"].append({"file": path.name, "frame": row["frame"],
                                            "ours": ours_view(obj), "tshark": expected, "diff": diff})
    return result


def collect(paths, parser):
    files = []
    for arg in paths:
        p = Path(arg)
        if p.is_dir():
            files += sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in CAPTURE_SUFFIXES)
        elif p.is_file():
            files.append(p)
        else:
            parser.error(f"no such file or directory: {arg}")
    if not files:
        parser.error("no capture files found")
    return files


def describe(d):
    ours, ts = d["ours"], d["tshark"]
    if ours is None:
        got = "no output line"
    elif "flow" in ours:
        got = f"no flow (parse={ours['parse']})"
    else:
        got = ", ".join(f"{k}={ours[k]!r}" for k in d["diff"]) + f" (parse={ours['parse']})"
    want = ", ".join(f"{k}={ts[k]!r}" for k in (FLOW_KEYS if d["diff"] == ["flow"] else d["diff"]))
    extra = f"; caplen {ts['caplen']} of {ts['wirelen']}" if ts["caplen"] != ts["wirelen"] else ""
    notes = f"; tshark notes {','.join(ts['notes'])}" if ts["notes"] else ""
    return f"  {d['file']}#{d['frame']}: ours {got}; tshark {want} [{ts['protocols']}{extra}{notes}]"


def kind(d):
    """One-line class of a disagreement, for the summary's tally."""
    ours, notes = d["ours"], d["tshark"]["notes"]
    text = ("no output line" if ours is None else
            f"no flow, parse={ours['parse']}" if "flow" in ours else
            "differs in " + "+".join(d["diff"]) + f", parse={ours['parse']}")
    return text + (f" (tshark notes {','.join(notes)})" if notes else "")


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Compare `dromos explain` flows with tshark, frame by frame.",
        epilog="Example: tshark_diff.py --dromos .build/debug/dromos --jobs 2 captures/")
    parser.add_argument("--dromos", required=True, metavar="PATH", help="dromos binary")
    parser.add_argument("--tshark", default="tshark", metavar="PATH", help="tshark binary (default: tshark)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, metavar="N",
                        help="captures checked in parallel (default: CPU count)")
    parser.add_argument("--json", action="store_true",
                        help="JSON lines on stdout (disagreements, then a summary); human text on stderr")
    parser.add_argument("--show", type=int, default=25, metavar="N",
                        help="disagreements listed in the human summary (default: 25)")
    parser.add_argument("--timeout", type=float, default=300, metavar="S",
                        help="seconds allowed per dromos/tshark run (default: 300)")
    parser.add_argument("paths", nargs="+", metavar="FILE_OR_DIR",
                        help="capture files, or directories searched for *.pcap/*.pcapng/*.cap")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    for name in ("dromos", "tshark"):
        if not shutil.which(getattr(args, name)):
            parser.error(f"--{name}: {getattr(args, name)} is not an executable")
    files = collect(args.paths, parser)

    start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        results = list(pool.map(lambda f: check_file(f, args), files))
    elapsed = time.monotonic() - start

    human = sys.stderr if args.json else sys.stdout
    disagreements = [d for r in results for d in r["disagreements"]]
    compared = sum(r["compared"] for r in results)
    agreed = sum(r["agreed"] for r in results)
    skipped = [r for r in results if r["status"] == "skipped"]
    failed = [r for r in results if r["status"] == "failed"]
    not_compared = sum((r["not_compared"] for r in results), Counter())

    def say(text=""):
        print(text, file=human)

    for r in skipped:
        say(f"skipped {r['file']}: {r['message']}")
    for r in failed:
        say(f"FAILED {r['file']}: {r['message']}")
    for r in results:
        for w in r["warnings"]:
            say(f"warning {r['file']}: {w}")
    if not_compared:
        say("not compared: " + ", ".join(f"{k} {v}" for k, v in sorted(not_compared.items())))
    if disagreements:
        kinds = Counter(kind(d) for d in disagreements)
        say("disagreements by kind:")
        for k, v in kinds.most_common():
            say(f"  {v:6d}  {k}")
        for d in disagreements[:args.show]:
            say(describe(d))
        if len(disagreements) > args.show:
            say(f"  ... {len(disagreements) - args.show} more (--show N or --json for all)")
    say(f"{len(skipped)} skipped, {len(failed)} failed files; {elapsed:.1f}s with --jobs {args.jobs}")
    say(f"tshark-diff: {compared} compared, {agreed} agreed, {len(disagreements)} disagreed, {len(files)} files")

    if args.json:
        for d in disagreements:
            print(json.dumps(d))
        print(json.dumps({"summary": {
            "compared": compared, "agreed": agreed, "disagreed": len(disagreements),
            "files": len(files), "skipped": [r["file"] for r in skipped],
            "failed": [r["file"] for r in failed], "not_compared": dict(sorted(not_compared.items())),
            "seconds": round(elapsed, 1)}}))
    return 2 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
