// Reference forwarder in C for tools/afpacket-bench.sh: the same technique as Dromos's default port
// (TPACKET_V3 RX ring, V3 TX ring on the same socket, one send() per RX block), without a vnet header,
// so the Swift figures can be compared with C in the same run. Not part of the product.
// Usage: afpacket-ref IN OUT SECONDS      prints one JSON line like `dromos lab-bridge`.
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { BLOCK = 1 << 18, RX_BLOCKS = 64, TX_BLOCKS = 16, FRAME = 2048 };

struct port { int fd; uint8_t *rx, *tx; unsigned rx_block, tx_slot; };

static void die(const char *what) { perror(what); exit(1); }

static void open_port(struct port *p, const char *name) {
    p->fd = socket(AF_PACKET, SOCK_RAW, 0);
    if (p->fd < 0) die("socket");
    int v = TPACKET_V3, one = 1;
    if (setsockopt(p->fd, SOL_PACKET, PACKET_VERSION, &v, sizeof v)) die("PACKET_VERSION");
    if (setsockopt(p->fd, SOL_PACKET, PACKET_LOSS, &one, sizeof one)) die("PACKET_LOSS");
    struct tpacket_req3 rx = { BLOCK, RX_BLOCKS, FRAME, BLOCK / FRAME * RX_BLOCKS, 1, 0, 0 };
    struct tpacket_req3 tx = { BLOCK, TX_BLOCKS, FRAME, BLOCK / FRAME * TX_BLOCKS, 0, 0, 0 };
    if (setsockopt(p->fd, SOL_PACKET, PACKET_RX_RING, &rx, sizeof rx)) die("PACKET_RX_RING");
    if (setsockopt(p->fd, SOL_PACKET, PACKET_TX_RING, &tx, sizeof tx)) die("PACKET_TX_RING");
    p->rx = mmap(NULL, (size_t)BLOCK * (RX_BLOCKS + TX_BLOCKS), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, p->fd, 0);
    if (p->rx == MAP_FAILED) die("mmap");
    p->tx = p->rx + (size_t)BLOCK * RX_BLOCKS;
    if (setsockopt(p->fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one)) die("PACKET_IGNORE_OUTGOING");
    struct sockaddr_ll a = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL), .sll_ifindex = (int)if_nametoindex(name) };
    if (bind(p->fd, (struct sockaddr *)&a, sizeof a)) die("bind");
}

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }

int main(int argc, char **argv) {
    if (argc != 4) { fprintf(stderr, "usage: %s IN OUT SECONDS\n", argv[0]); return 2; }
    struct port in = {0}, out = {0};
    open_port(&in, argv[1]);
    open_port(&out, argv[2]);
    double seconds = atof(argv[3]), end = now() + seconds;
    unsigned long forwarded = 0, calls = 0, full = 0;
    const unsigned tx_slots = BLOCK / FRAME * TX_BLOCKS, data = TPACKET_ALIGN(sizeof(struct tpacket3_hdr));
    for (unsigned rounds = 0;; rounds++) {
        if ((rounds & 63) == 0 && now() >= end) break;
        struct tpacket_block_desc *b = (void *)(in.rx + (size_t)in.rx_block * BLOCK);
        if (!(__atomic_load_n(&b->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER)) {
            struct pollfd p = { in.fd, POLLIN, 0 };
            poll(&p, 1, 1);
            continue;
        }
        struct tpacket3_hdr *h = (void *)((uint8_t *)b + b->hdr.bh1.offset_to_first_pkt);
        for (unsigned i = 0; i < b->hdr.bh1.num_pkts; i++) {
            uint8_t *slot = out.tx + (size_t)out.tx_slot * FRAME;
            struct tpacket3_hdr *t = (void *)slot;
            if ((__atomic_load_n(&t->tp_status, __ATOMIC_ACQUIRE) & ~(TP_STATUS_TS_SOFTWARE | TP_STATUS_TS_RAW_HARDWARE)) != TP_STATUS_AVAILABLE) {
                send(out.fd, NULL, 0, MSG_DONTWAIT);
                calls++;
            }
            if ((__atomic_load_n(&t->tp_status, __ATOMIC_ACQUIRE) & ~(TP_STATUS_TS_SOFTWARE | TP_STATUS_TS_RAW_HARDWARE)) != TP_STATUS_AVAILABLE) {
                full++;
            } else if (h->tp_snaplen <= FRAME - data) {
                memcpy(slot + data, (uint8_t *)h + h->tp_mac, h->tp_snaplen);
                t->tp_len = h->tp_snaplen;
                t->tp_next_offset = 0;
                __atomic_store_n(&t->tp_status, TP_STATUS_SEND_REQUEST, __ATOMIC_RELEASE);
                out.tx_slot = (out.tx_slot + 1) % tx_slots;
                forwarded++;
            }
            h = (void *)((uint8_t *)h + h->tp_next_offset);
        }
        send(out.fd, NULL, 0, MSG_DONTWAIT);
        calls++;
        __atomic_store_n(&b->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
        in.rx_block = (in.rx_block + 1) % RX_BLOCKS;
    }
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    double cpu = (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e6 + u.ru_utime.tv_usec + u.ru_stime.tv_usec;
    double per = forwarded ? cpu * 1000 / forwarded : 0;
    struct tpacket_stats_v3 s; socklen_t l = sizeof s;
    getsockopt(in.fd, SOL_PACKET, PACKET_STATISTICS, &s, &l);
    printf("{\"rx\": \"v3\", \"tx\": \"c-ring\", \"seconds\": %.1f, \"forwarded\": %lu, \"pps\": %.0f, \"kernel_packets\": %u, "
           "\"kernel_drops\": %u, \"tx_calls\": %lu, \"tx_ring_full\": %lu, \"cpu_ns_per_frame\": %.0f, \"capacity_pps\": %.0f}\n",
           seconds, forwarded, forwarded / seconds, s.tp_packets, s.tp_drops, calls, full, per, per > 0 ? 1e9 / per : 0);
    return 0;
}
