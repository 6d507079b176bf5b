// Shared by the C yardsticks of tools/rate-bench.sh (fwd-afpacket.c, fwd-pcap.c, fwd-xdp.c): the command
// line, the stop signal, and the balancer's whole job on one frame. Not part of the product: these exist
// so that Dromos's ports can be compared with the same technique written plainly in C, in the same run.
//
// The job is what `dromos run` does in the rate lab, reduced to what the lab needs: an IPv4 UDP/TCP frame
// to the VIP, addressed to the balancer's MAC, gets source MAC = balancer and destination MAC = one of
// the backends, chosen by a hash of the 5-tuple; anything else is left alone. No VLAN tags, no IPv6, no
// flow table (Dromos's Maglev table and flow table are extra work the yardsticks do not do).
#ifndef DROMOS_REF_H
#define DROMOS_REF_H
#include <arpa/inet.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { REF_MAX_BACKENDS = 16 };

struct ref_args {
    const char *interface;
    unsigned seconds;  // 0: until SIGINT/SIGTERM
    uint32_t vip;      // network order, as it lies in the header
    uint8_t balancer[6];
    uint8_t backends[REF_MAX_BACKENDS][6];
    unsigned backend_count;
};

struct ref_counts {
    unsigned long received, forwarded, passed, not_sent;
};

static volatile sig_atomic_t ref_stop;

static void ref_on_signal(int signal) { (void)signal; ref_stop = 1; }

// No SA_RESTART, so a blocking poll() returns at once; SIGALRM carries the time limit, so the packet
// loops never read a clock.
static void ref_install_signals(unsigned seconds, void (*handler)(int)) {
    struct sigaction action = { .sa_handler = handler ? handler : ref_on_signal };
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
    sigaction(SIGALRM, &action, NULL);
    if (seconds) alarm(seconds);
}

static int ref_parse_mac(const char *text, uint8_t mac[6]) {
    unsigned b[6];
    char tail;
    if (sscanf(text, "%x:%x:%x:%x:%x:%x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &tail) != 6) return -1;
    for (int i = 0; i < 6; i++) {
        if (b[i] > 255) return -1;
        mac[i] = (uint8_t)b[i];
    }
    return 0;
}

// argv from `first` on: INTERFACE SECONDS VIP BALANCER_MAC BACKEND_MAC...
static void ref_parse_args(int argc, char **argv, int first, const char *usage_prefix, struct ref_args *a) {
    int n = argc - first;
    char *end = NULL;
    if (n < 5 || n - 4 > REF_MAX_BACKENDS) goto usage;
    a->interface = argv[first];
    long seconds = strtol(argv[first + 1], &end, 10);
    if (*end || seconds < 0) goto usage;
    a->seconds = (unsigned)seconds;
    struct in_addr vip;
    if (inet_pton(AF_INET, argv[first + 2], &vip) != 1) goto usage;
    a->vip = vip.s_addr;
    if (ref_parse_mac(argv[first + 3], a->balancer)) goto usage;
    a->backend_count = (unsigned)(n - 4);
    for (unsigned i = 0; i < a->backend_count; i++)
        if (ref_parse_mac(argv[first + 4 + (int)i], a->backends[i])) goto usage;
    return;
usage:
    fprintf(stderr, "usage: %s %sINTERFACE SECONDS(0: until SIGINT/SIGTERM) VIP BALANCER_MAC BACKEND_MAC...\n", argv[0], usage_prefix);
    exit(2);
}

static inline uint16_t ref_load16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

// Multiply-xorshift over the 5-tuple: a few cycles, and it spreads ports that differ in their low bits
// (trafgen counts the source port up) over both halves of the range.
static inline uint32_t ref_flow_hash(uint32_t source, uint32_t destination, uint32_t ports, uint8_t protocol) {
    uint64_t h = ((uint64_t)source << 32 | destination) * 0x9E3779B97F4A7C15ull;
    h ^= ((uint64_t)ports << 8 | protocol) * 0xC2B2AE3D27D4EB4Full;
    h ^= h >> 29;
    return (uint32_t)(h >> 32);
}

// The balancer's job on one frame, in place: 1 when it was rewritten and should go back out, 0 when it is
// not ours. Checking the destination MAC keeps a frame we sent from being forwarded again if the switch
// ever floods it back to us (it would then circulate at full speed).
static inline int ref_rewrite(uint8_t *frame, uint32_t length, const struct ref_args *a) {
    if (length < 14 + 20) return 0;
    if (memcmp(frame, a->balancer, 6) != 0 || ref_load16(frame + 12) != 0x0800) return 0;
    const uint8_t *ip = frame + 14;
    uint32_t header = (uint32_t)(ip[0] & 0x0f) * 4;
    uint8_t protocol = ip[9];
    if ((ip[0] >> 4) != 4 || header < 20 || (protocol != 6 && protocol != 17)) return 0;
    uint32_t destination;
    memcpy(&destination, ip + 16, 4);
    if (destination != a->vip) return 0;
    uint32_t source;
    memcpy(&source, ip + 12, 4);
    // Fragments hash on addresses only (a later one has no ports), so every piece of a datagram goes
    // to the same backend.
    uint32_t ports = 0;
    if ((ref_load16(ip + 6) & 0x3fff) == 0 && length >= 14 + header + 4)
        ports = (uint32_t)ref_load16(ip + header) << 16 | ref_load16(ip + header + 2);
    uint32_t h = ref_flow_hash(ntohl(source), ntohl(destination), ports, protocol);
    const uint8_t *backend = a->backends[(uint64_t)h * a->backend_count >> 32];
    memcpy(frame, backend, 6);
    memcpy(frame + 6, a->balancer, 6);
    return 1;
}

// The closing line, in the shape of dromos's so that rate-bench reads both alike.
static void ref_report(const char *name, const struct ref_counts *c, const char *extra) {
    fprintf(stderr, "%s: received %lu, forwarded %lu, passed %lu, not sent %lu%s%s\n", name, c->received, c->forwarded,
            c->passed, c->not_sent, extra && *extra ? "; " : "", extra ? extra : "");
}
#endif
