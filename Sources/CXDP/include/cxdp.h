// libxdp and libbpf from Debian (libxdp-dev, libbpf-dev) for the AF_XDP port; no logic here. The ring
// accessors (xsk_ring_prod__reserve, xsk_ring_cons__peek, …) are static inline in xsk.h and are
// imported into Swift as they are.
#ifndef CXDP_H
#define CXDP_H
// The kernel's `struct bpf_insn` (linux/bpf.h) and libpcap's (pcap/bpf.h) share a name and differ.
// A Swift module that sees both Clang modules (DromosXDP imports DromosIO, which uses libpcap) may have
// Clang merge them and fail with an ODR error, depending on the order the module caches were built in.
// Renamed here; Dromos calls nothing that takes BPF instructions, and a pointer's ABI is the same.
#define bpf_insn cxdp_kernel_bpf_insn
#include <linux/if_link.h>
#include <linux/if_xdp.h>
#include <xdp/libxdp.h>
#include <xdp/xsk.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#undef bpf_insn
#endif
