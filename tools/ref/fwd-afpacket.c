// C yardstick for `dromos run --io afpacket` in tools/rate-bench.sh. Not part of the product.
// The same technique as Dromos's default port and tools/afpacket-ref.c, one-armed: one socket on the
// interface with a TPACKET_V3 RX ring and a V3 TX ring, rewrite in the RX block, copy into a TX slot,
// one send() per RX block. No vnet header: the rate lab's frames carry finished checksums and are never
// larger than the MTU.
// AF_PACKET is a tap: the kernel receives every frame too. The caller drops the VIP's frames with an
// nftables netdev ingress rule, as dromos does (taps run before the ingress hook).
// Usage: fwd-afpacket INTERFACE SECONDS VIP BALANCER_MAC BACKEND_MAC...   closing counts on stderr
#include "ref.h"
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>

enum { BLOCK = 1 << 18, RX_BLOCKS = 64, TX_BLOCKS = 16, FRAME = 2048, TX_SLOTS = BLOCK / FRAME * TX_BLOCKS };

static void die(const char *what) { perror(what); exit(1); }

static int tx_slot_free(const struct tpacket3_hdr *t) {
    // Timestamp bits may be set on a slot the kernel has finished with.
    return (__atomic_load_n(&t->tp_status, __ATOMIC_ACQUIRE) & ~(TP_STATUS_TS_SOFTWARE | TP_STATUS_TS_RAW_HARDWARE)) == TP_STATUS_AVAILABLE;
}

int main(int argc, char **argv) {
    struct ref_args a;
    ref_parse_args(argc, argv, 1, "", &a);
    unsigned ifindex = if_nametoindex(a.interface);
    if (!ifindex) die(a.interface);
    // Protocol 0 until the rings exist, bound last: no frames arrive into a half-built socket.
    int fd = socket(AF_PACKET, SOCK_RAW, 0);
    if (fd < 0) die("socket");
    int v3 = TPACKET_V3, one = 1;
    if (setsockopt(fd, SOL_PACKET, PACKET_VERSION, &v3, sizeof v3)) die("PACKET_VERSION");
    // A malformed frame in the TX ring is skipped instead of stalling the ring.
    if (setsockopt(fd, SOL_PACKET, PACKET_LOSS, &one, sizeof one)) die("PACKET_LOSS");
    struct tpacket_req3 rx = { BLOCK, RX_BLOCKS, FRAME, BLOCK / FRAME * RX_BLOCKS, 1, 0, 0 };
    struct tpacket_req3 tx = { BLOCK, TX_BLOCKS, FRAME, TX_SLOTS, 0, 0, 0 };
    if (setsockopt(fd, SOL_PACKET, PACKET_RX_RING, &rx, sizeof rx)) die("PACKET_RX_RING");
    if (setsockopt(fd, SOL_PACKET, PACKET_TX_RING, &tx, sizeof tx)) die("PACKET_TX_RING");
    uint8_t *rx_ring = mmap(NULL, (size_t)BLOCK * (RX_BLOCKS + TX_BLOCKS), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
    if (rx_ring == MAP_FAILED) die("mmap");
    uint8_t *tx_ring = rx_ring + (size_t)BLOCK * RX_BLOCKS;
    // Only what arrives: the host's own outgoing frames would be copied into the ring too (ours never
    // are: the kernel does not loop a frame back to the socket that sent it).
    if (setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one)) die("PACKET_IGNORE_OUTGOING");
    struct sockaddr_ll address = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL), .sll_ifindex = (int)ifindex };
    if (bind(fd, (struct sockaddr *)&address, sizeof address)) die("bind");

    ref_install_signals(a.seconds, NULL);
    fprintf(stderr, "fwd-afpacket: running on %s (TPACKET_V3 RX and TX rings, one send() per block)\n", a.interface);
    struct ref_counts c = {0};
    unsigned long sends = 0;
    const unsigned data = TPACKET_ALIGN(sizeof(struct tpacket3_hdr));
    unsigned rx_block = 0, tx_slot = 0;
    while (!ref_stop) {
        struct tpacket_block_desc *b = (void *)(rx_ring + (size_t)rx_block * BLOCK);
        if (!(__atomic_load_n(&b->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER)) {
            struct pollfd p = { fd, POLLIN, 0 };
            if (poll(&p, 1, 100) < 0 && errno != EINTR) die("poll");
            continue;
        }
        struct tpacket3_hdr *h = (void *)((uint8_t *)b + b->hdr.bh1.offset_to_first_pkt);
        for (unsigned i = 0; i < b->hdr.bh1.num_pkts; i++, h = (void *)((uint8_t *)h + h->tp_next_offset)) {
            c.received++;
            uint8_t *frame = (uint8_t *)h + h->tp_mac;
            if (h->tp_snaplen > FRAME - data || !ref_rewrite(frame, h->tp_snaplen, &a)) {
                c.passed++;
                continue;
            }
            uint8_t *slot = tx_ring + (size_t)tx_slot * FRAME;
            struct tpacket3_hdr *t = (void *)slot;
            if (!tx_slot_free(t)) {
                // The ring is full of frames not yet sent: send them, then look again.
                send(fd, NULL, 0, MSG_DONTWAIT);
                sends++;
                if (!tx_slot_free(t)) {
                    c.not_sent++;
                    continue;
                }
            }
            memcpy(slot + data, frame, h->tp_snaplen);
            t->tp_len = h->tp_snaplen;
            t->tp_next_offset = 0;
            __atomic_store_n(&t->tp_status, TP_STATUS_SEND_REQUEST, __ATOMIC_RELEASE);
            tx_slot = (tx_slot + 1) % TX_SLOTS;
            c.forwarded++;
        }
        // ENOBUFS/EAGAIN are not errors: the frames stay marked and go with the next send().
        send(fd, NULL, 0, MSG_DONTWAIT);
        sends++;
        __atomic_store_n(&b->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
        rx_block = (rx_block + 1) % RX_BLOCKS;
    }
    struct tpacket_stats_v3 s = {0};
    socklen_t length = sizeof s;
    getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &s, &length);
    char extra[128];
    snprintf(extra, sizeof extra, "ring drops %u, send() calls %lu", s.tp_drops, sends);
    ref_report("fwd-afpacket", &c, extra);
    return 0;
}
