#!/usr/bin/env python3
"""Pure-Python (stdlib only) reader for pcap and pcapng capture files.

Supported formats:
  * pcap: both byte orders, microsecond (0xa1b2c3d4) and nanosecond
    (0xa1b23c4d) magic.
  * pcapng: Section Header, Interface Description, Enhanced Packet, Simple
    Packet and obsolete Packet blocks; both byte orders; multiple sections
    (interface numbering restarts in each section). Unknown blocks are skipped.

The reader is defensive: a malformed or truncated file yields every frame
read before the problem, then stops with a one-line message on stderr (or
raises CaptureError with strict=True). It never raises anything else for bad
input.

Library use:
    from pcap_frames import iter_frames
    for linktype, caplen, wirelen, data in iter_frames("x.pcap"):
        ...

Command line:
    pcap_frames.py seeds --out DIR FILE...
        Write every Ethernet (link type 1) frame's captured bytes to
        DIR/<capture-stem>-<frameno>.bin (frameno is 1-based, as in tshark;
        a -<sha1 prefix> suffix is added if that name is taken), skipping
        frames whose bytes were already written (sha1; *.bin files already in
        DIR count too), and print a count. Used to seed a libFuzzer corpus.
"""

import argparse
import hashlib
import struct
import sys
from pathlib import Path

LINKTYPE_ETHERNET = 1

PCAP_MAGICS = {  # first 4 bytes as read -> (endianness, nanosecond)
    b"\xd4\xc3\xb2\xa1": ("<", False),
    b"\xa1\xb2\xc3\xd4": (">", False),
    b"\x4d\x3c\xb2\xa1": ("<", True),
    b"\xa1\xb2\x3c\x4d": (">", True),
}
PCAPNG_SHB = b"\x0a\x0d\x0d\x0a"
BYTE_ORDER_MAGIC = 0x1A2B3C4D

BLOCK_IDB, BLOCK_PB, BLOCK_SPB, BLOCK_EPB = 1, 2, 3, 6

# Sanity bound for a single frame or block; anything larger is treated as
# corruption (Wireshark uses a similar bound, 256 KiB frames / 16 MiB blocks).
MAX_FRAME = 256 * 1024
MAX_BLOCK = 16 * 1024 * 1024


class CaptureError(ValueError):
    """The capture file is malformed; frames before the problem were valid."""


def _read_exact(f, n, what):
    data = f.read(n)
    if len(data) != n:
        raise CaptureError(f"truncated {what} (wanted {n} bytes, got {len(data)})")
    return data


def _iter_pcap(f, magic):
    endian, _nano = PCAP_MAGICS[magic]
    rest = _read_exact(f, 20, "pcap file header")
    _vmaj, _vmin, _zone, _sigfigs, _snaplen, network = struct.unpack(endian + "HHiIII", rest)
    linktype = network & 0x03FFFFFF  # as libpcap: top bits may carry FCS information
    rec = struct.Struct(endian + "IIII")
    while True:
        hdr = f.read(16)
        if not hdr:
            return
        if len(hdr) < 16:
            raise CaptureError(f"truncated pcap record header ({len(hdr)} of 16 bytes)")
        _sec, _frac, caplen, wirelen = rec.unpack(hdr)
        if caplen > MAX_FRAME:
            raise CaptureError(f"pcap record caplen {caplen} exceeds {MAX_FRAME}")
        yield linktype, caplen, wirelen, _read_exact(f, caplen, "pcap record data")


def _iter_pcapng(f):
    endian = None
    interfaces = []  # per section: list of (linktype, snaplen)
    first = True
    while True:
        head = f.read(8)
        if not head:
            return
        if len(head) < 8:
            raise CaptureError(f"truncated pcapng block header ({len(head)} of 8 bytes)")
        if head[:4] == PCAPNG_SHB:
            # The byte order is only known from the SHB's byte-order magic.
            bom = _read_exact(f, 4, "pcapng section header")
            if struct.unpack("<I", bom)[0] == BYTE_ORDER_MAGIC:
                endian = "<"
            elif struct.unpack(">I", bom)[0] == BYTE_ORDER_MAGIC:
                endian = ">"
            else:
                raise CaptureError(f"bad pcapng byte-order magic {bom.hex()}")
            interfaces = []
            btype = struct.unpack(endian + "I", head[:4])[0]
            total = struct.unpack(endian + "I", head[4:])[0]
            body_prefix = bom
        else:
            if first or endian is None:
                raise CaptureError("pcapng file does not start with a section header")
            btype, total = struct.unpack(endian + "II", head)
            body_prefix = b""
        first = False
        if total < (28 if body_prefix else 12) or total % 4 or total > MAX_BLOCK:
            raise CaptureError(f"bad pcapng block length {total} (block type {btype:#x})")
        body = body_prefix + _read_exact(f, total - 12 - len(body_prefix), f"pcapng block {btype:#x}")
        trailer = _read_exact(f, 4, f"pcapng block {btype:#x} trailer")
        if struct.unpack(endian + "I", trailer)[0] != total:
            raise CaptureError(f"pcapng block {btype:#x} trailing length does not match {total}")

        if btype == BLOCK_IDB:
            if len(body) < 8:
                raise CaptureError("pcapng interface description block too short")
            linktype, _res, snaplen = struct.unpack(endian + "HHI", body[:8])
            interfaces.append((linktype, snaplen))
            continue
        if btype == BLOCK_EPB:
            if len(body) < 20:
                raise CaptureError("pcapng enhanced packet block too short")
            ifid, _hi, _lo, caplen, wirelen = struct.unpack(endian + "IIIII", body[:20])
            data_off = 20
        elif btype == BLOCK_PB:
            if len(body) < 20:
                raise CaptureError("pcapng packet block too short")
            ifid, _drops, _hi, _lo, caplen, wirelen = struct.unpack(endian + "HHIIII", body[:20])
            data_off = 20
        elif btype == BLOCK_SPB:
            if len(body) < 4:
                raise CaptureError("pcapng simple packet block too short")
            ifid = 0
            wirelen = struct.unpack(endian + "I", body[:4])[0]
            data_off = 4
            caplen = min(wirelen, len(body) - 4)
            if ifid < len(interfaces) and interfaces[ifid][1]:
                caplen = min(caplen, interfaces[ifid][1])
        else:
            continue  # SHB, NRB, ISB, DSB, custom, ... : nothing to yield
        if ifid >= len(interfaces):
            raise CaptureError(f"pcapng packet references undefined interface {ifid}")
        if caplen > len(body) - data_off:
            raise CaptureError(f"pcapng packet caplen {caplen} exceeds its block")
        yield interfaces[ifid][0], caplen, wirelen, body[data_off:data_off + caplen]


def iter_frames(path, strict=False):
    """Yield (linktype, caplen, wirelen, bytes) for every frame in a capture.

    On a malformed file, the frames before the problem are yielded, then a
    message goes to stderr and iteration stops (strict=True raises
    CaptureError instead). Unreadable files are reported the same way.
    """
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
            if magic in PCAP_MAGICS:
                yield from _iter_pcap(f, magic)
            elif magic == PCAPNG_SHB:
                f.seek(0)
                yield from _iter_pcapng(f)
            else:
                raise CaptureError(f"not a pcap/pcapng file (magic {magic.hex() or 'empty'})")
    except (CaptureError, OSError, struct.error) as exc:
        if strict:
            raise CaptureError(str(exc)) from exc
        print(f"{path}: {exc}; stopping", file=sys.stderr)


def write_seeds(out_dir, files):
    """Write deduplicated Ethernet frames as seeds; return a stats dict."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    seen = {hashlib.sha1(p.read_bytes()).digest() for p in out.glob("*.bin") if p.is_file()}
    stats = {"written": 0, "duplicates": 0, "non_ethernet": 0, "frames": 0, "captures": 0}
    for name in files:
        stats["captures"] += 1
        stem = Path(name).stem
        for frameno, (linktype, _caplen, _wirelen, data) in enumerate(iter_frames(name), 1):
            stats["frames"] += 1
            if linktype != LINKTYPE_ETHERNET:
                stats["non_ethernet"] += 1
                continue
            digest = hashlib.sha1(data).digest()
            if digest in seen:
                stats["duplicates"] += 1
                continue
            seen.add(digest)
            target = out / f"{stem}-{frameno}.bin"
            if target.exists():  # same stem from another file (x.pcap, x.pcapng)
                target = out / f"{stem}-{frameno}-{digest.hex()[:8]}.bin"
            target.write_bytes(data)
            stats["written"] += 1
    return stats


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Read pcap/pcapng captures in pure Python.",
        epilog="Example: pcap_frames.py seeds --out fuzz/corpus captures/*.pcap*")
    sub = parser.add_subparsers(dest="command", required=True)
    seeds = sub.add_parser(
        "seeds", help="write deduplicated Ethernet frames as libFuzzer seeds",
        description="Write every Ethernet frame to DIR/<stem>-<frameno>.bin, "
                    "skipping frames identical (sha1) to one already written.")
    seeds.add_argument("--out", required=True, metavar="DIR", help="output directory (created)")
    seeds.add_argument("files", nargs="+", metavar="FILE", help="pcap or pcapng capture")
    args = parser.parse_args(argv)

    try:
        stats = write_seeds(args.out, args.files)
    except OSError as exc:
        print(f"pcap_frames: {exc}", file=sys.stderr)
        return 2
    print(f"seeds: {stats['written']} written to {args.out} "
          f"({stats['frames']} frames in {stats['captures']} captures, "
          f"{stats['duplicates']} duplicates, {stats['non_ethernet']} non-Ethernet skipped)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
