// libxdp and libbpf from Debian (libxdp-dev, libbpf-dev) for the AF_XDP port; no logic here. The ring
// accessors (xsk_ring_prod__reserve, xsk_ring_cons__peek, …) are static inline in xsk.h and are
// imported into Swift as they are.
#ifndef CXDP_H
#define CXDP_H
#include <linux/if_link.h>
#include <linux/if_xdp.h>
#include <xdp/libxdp.h>
#include <xdp/xsk.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#endif
