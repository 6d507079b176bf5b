#!/usr/bin/env bash
# Checks on the release binary that the daemon's worker loop is specialized for each live port kind,
# with direct per-frame calls (docs/ARCHITECTURE.md, "Worker loop (`DatapathWorker`)").
#
# Usage: tools/specialization-check.sh [DROMOS_BINARY]   (default: builds swift build -c release --product dromos)
#
# For AFPacketPort, PcapLivePort and AFXDPPort, from `nm` and `objdump -d` of the binary, demangled:
#   1. `generic pre-specialization <DromosIO.PORT> of DatapathWorker.runBatch(now:)` and `….run(…)` exist
#      (emitted by the @_specialize lines in DatapathWorker.swift);
#   2. the daemon uses them: the specialized `run` is referenced from outside itself (the worker
#      thread's closure in DromosControl), and it calls the specialized `runBatch`;
#   3. no code of that loop makes an indirect call: every function whose name is a specialization of
#      `DatapathWorker.runBatch` for the port, or has its per-frame closure propagated into it (the
#      AF_PACKET V3 receive loop), has no `call *…` and no `jmp *` through memory (a witness-table or
#      vtable call); `jmp *%reg` stays allowed, that is a switch's jump table. The specialized `run`
#      may call its `until` closure (`call *%reg`, once per batch), nothing through memory.
# Prints what it found per port; exit 0 when every check passed, 1 otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/env.sh

binary=${1:-}
if [[ -z "$binary" ]]; then
    swift build -c release --product dromos >/dev/null
    binary="$(swift build -c release --show-bin-path)/dromos"
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
objdump -d --no-show-raw-insn "$binary" | swift demangle --compact > "$work/disassembly"

python3 - "$work/disassembly" <<'EOF'
import re, sys

functions, order, current = {}, [], None
for line in open(sys.argv[1], errors="replace"):
    header = re.match(r"^([0-9a-f]+) <(.+)>:$", line)
    if header:
        current = header.group(2)
        functions.setdefault(current, []).append(line)
        order.append((int(header.group(1), 16), current))
        continue
    if current:
        functions[current].append(line)

def short(name):
    return name if len(name) <= 150 else "…" + name[-149:]

def named(pattern):
    return [name for name in functions if re.search(pattern, name)]

# Any indirect call; an indirect jump only through memory (`jmp *%reg` is a switch's jump table).
indirect = re.compile(r"\bcall\s+\*|\bjmp\s+\*(?!%[a-z0-9]+\s*$)")
# `run` calls its `until` closure once per batch (`call *%reg`): only calls through memory count there.
through_memory = re.compile(r"\b(call|jmp)\s+\*(?!%[a-z0-9]+\s*$)")
failed = False
for module, port in [("DromosIO", "AFPacketPort"), ("DromosIO", "PcapLivePort"), ("DromosXDP", "AFXDPPort")]:
    def check(ok, text):
        global failed
        print(f"  {'ok  ' if ok else 'FAIL'} {text}")
        failed |= not ok
    print(f"{port}:")
    prefix = f"generic pre-specialization <{module}.{port}> of DromosDatapath.DatapathWorker."
    batch = named(re.escape(prefix + "runBatch(now:"))
    run = named(re.escape(prefix + "run(idleMilliseconds:"))
    check(len(batch) == 1, f"specialized runBatch: {len(batch)}")
    check(len(run) == 1, f"specialized run: {len(run)}")
    if len(batch) != 1 or len(run) != 1:
        continue
    referenced = [name for name, lines in functions.items() if name != run[0]
                  and any(run[0] in line for line in lines[1:])]
    check(bool(referenced), f"specialized run used by: {', '.join(name[:150] for name in referenced) or 'nothing'}")
    check(any(re.search(r"\bcall\s", line) and batch[0] in line for line in functions[run[0]]),
          "specialized run calls specialized runBatch directly")
    loop = [name for name in functions if port in name and (name in batch + run
            or re.search(r"DatapathWorker(\.|C8)runBatch", name) and "specialization" in name)]
    for name in loop:
        pattern = through_memory if name in run else indirect
        calls = [line.split("\t")[-1].strip() for line in functions[name] if pattern.search(line)]
        check(not calls, f"no indirect call in {short(name)}"
              + (f": {calls}" if calls else f" ({len(functions[name])} lines)"))
sys.exit(1 if failed else 0)
EOF
