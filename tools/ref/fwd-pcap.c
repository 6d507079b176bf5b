// C yardstick for `dromos run --io pcap` in tools/rate-bench.sh. Not part of the product.
// libpcap as its manual suggests for a forwarder: immediate mode (libpcap then uses a TPACKET_V2 ring and
// hands each frame over at once), pcap_dispatch over what the ring holds, pcap_inject per frame (one
// send() each; libpcap has no batch transmit). libpcap has no vnet header: the rate lab's frames carry
// finished checksums and are never larger than the MTU.
// AF_PACKET, under libpcap, is a tap: the caller drops the VIP's frames with an nftables netdev ingress
// rule, as dromos does.
// Usage: fwd-pcap [-f] INTERFACE SECONDS VIP BALANCER_MAC BACKEND_MAC...   closing counts on stderr
//        -f: a BPF filter for the balancer's MAC and the VIP (see below), to measure what it costs.
#include "ref.h"
#include <pcap/pcap.h>

static pcap_t *handle;
static struct ref_args a;
static struct ref_counts c;
static unsigned long inject_errors;

static void on_signal(int signal) {
    (void)signal;
    ref_stop = 1;
    // A blocking pcap_dispatch does not return for a signal by itself; pcap_breakloop is meant to be
    // called from a handler.
    if (handle) pcap_breakloop(handle);
}

static void on_frame(u_char *user, const struct pcap_pkthdr *header, const u_char *bytes) {
    (void)user;
    // libpcap's ring is read-only by contract: rewrite a copy.
    uint8_t frame[2048];
    c.received++;
    if (header->caplen != header->len || header->caplen > sizeof frame) {
        c.passed++;
        return;
    }
    memcpy(frame, bytes, header->caplen);
    if (!ref_rewrite(frame, header->caplen, &a)) {
        c.passed++;
        return;
    }
    if (pcap_inject(handle, frame, header->caplen) < 0) {
        c.not_sent++;
        inject_errors++;
        return;
    }
    c.forwarded++;
}

static void check(int status, const char *call) {
    if (status < 0) {
        fprintf(stderr, "fwd-pcap: %s: %s\n", call, pcap_geterr(handle));
        exit(1);
    }
}

int main(int argc, char **argv) {
    int first = 1, filter = 0;
    if (argc > 1 && strcmp(argv[1], "-f") == 0) {
        filter = 1;
        first = 2;
    }
    ref_parse_args(argc, argv, first, "[-f] ", &a);
    char error[PCAP_ERRBUF_SIZE];
    handle = pcap_create(a.interface, error);
    if (!handle) {
        fprintf(stderr, "fwd-pcap: pcap_create: %s\n", error);
        return 1;
    }
    check(pcap_set_immediate_mode(handle, 1), "pcap_set_immediate_mode");
    // In immediate mode (TPACKET_V2) every slot is as large as the largest frame libpcap expects: with
    // segmentation offloads on (veth's default) that is the snapshot length, capped near 64 KiB, so the
    // 16 MiB ring (dromos's default size) would hold a few hundred frames; with 2,048 about 8,000.
    // Nothing longer arrives in the lab (GRO is off on the balancer's interface).
    check(pcap_set_snaplen(handle, 2048), "pcap_set_snaplen");
    check(pcap_set_buffer_size(handle, 16 << 20), "pcap_set_buffer_size");
    check(pcap_activate(handle), "pcap_activate");
    // Only what arrives (libpcap 1.10 drops the host's outgoing frames in user space, after the copy;
    // our own injected frames never reach the ring: the kernel does not loop them back to their socket).
    check(pcap_setdirection(handle, PCAP_D_IN), "pcap_setdirection");
    // No BPF filter by default: in the rate lab every frame at the interface is for the VIP, so a filter
    // would only add its cost. On an interface that carries other traffic it runs in the kernel before
    // the copy into the ring and spares the copy of every frame that is not ours.
    if (filter) {
        char expression[160];
        struct in_addr vip = { a.vip };
        snprintf(expression, sizeof expression, "ether dst %02x:%02x:%02x:%02x:%02x:%02x and ip dst %s and (udp or tcp)",
                 a.balancer[0], a.balancer[1], a.balancer[2], a.balancer[3], a.balancer[4], a.balancer[5], inet_ntoa(vip));
        struct bpf_program program;
        check(pcap_compile(handle, &program, expression, 1, PCAP_NETMASK_UNKNOWN), "pcap_compile");
        check(pcap_setfilter(handle, &program), "pcap_setfilter");
        pcap_freecode(&program);
    }
    if (pcap_datalink(handle) != DLT_EN10MB) {
        fprintf(stderr, "fwd-pcap: %s is not Ethernet\n", a.interface);
        return 1;
    }

    ref_install_signals(a.seconds, on_signal);
    fprintf(stderr, "fwd-pcap: running on %s (%s; immediate mode, pcap_dispatch + pcap_inject%s)\n", a.interface,
            pcap_lib_version(), filter ? ", BPF filter" : ", no filter");
    while (!ref_stop) {
        int status = pcap_dispatch(handle, -1, on_frame, NULL);
        if (status == PCAP_ERROR_BREAK) break;
        check(status, "pcap_dispatch");
    }
    struct pcap_stat s = {0};
    pcap_stats(handle, &s);
    char extra[160];
    snprintf(extra, sizeof extra, "into the ring %u, ring drops %u, inject errors %lu", s.ps_recv, s.ps_drop, inject_errors);
    ref_report("fwd-pcap", &c, extra);
    pcap_close(handle);
    return 0;
}
