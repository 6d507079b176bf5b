// Dromos's XDP program for `--io xdp`: frames to a VIP go to the AF_XDP socket of their receive queue;
// ARP requests and IPv6 neighbor solicitations for a VIP go there too (the datapath answers them when
// the service has `announce: arp`; the kernel would not, as the VIP is not local here); everything else
// (the host's own traffic, ARP and NDP for other addresses) passes to the kernel.
// The VIP sets are maps the daemon rewrites at every table publication. Compiled at build time with
// `clang -target bpf` (Plugins/XDPProgram); no binary is committed.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

// The VIP maps' value: present means a VIP.
#define VIP_FORWARD 1

struct ipv6_key {
    __u8 address[16];
};

struct {
    __uint(type, BPF_MAP_TYPE_XSKMAP);
    __uint(max_entries, 64);
    __type(key, __u32);
    __type(value, __u32);
} dromos_xsks SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 4096);
    __type(key, __u32);    // network order
    __type(value, __u8);
} dromos_vips4 SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 4096);
    __type(key, struct ipv6_key);
    __type(value, __u8);
} dromos_vips6 SEC(".maps");

// Per CPU: [0] redirected to the socket, [1] passed to the kernel.
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 2);
    __type(key, __u32);
    __type(value, __u64);
} dromos_counts SEC(".maps");

struct arp_ipv4 {
    __be16 hardware;
    __be16 protocol;
    __u8 hardware_length;
    __u8 protocol_length;
    __be16 operation;
    __u8 sender_mac[6];
    __u8 sender_ip[4];
    __u8 target_mac[6];
    __u8 target_ip[4];
} __attribute__((packed));

static __always_inline int pass(void) {
    __u32 key = 1;
    __u64 *count = bpf_map_lookup_elem(&dromos_counts, &key);
    if (count) *count += 1;
    return XDP_PASS;
}

static __always_inline int to_socket(struct xdp_md *ctx) {
    __u32 key = 0;
    __u64 *count = bpf_map_lookup_elem(&dromos_counts, &key);
    if (count) *count += 1;
    // No socket on this queue (yet, or any more): the kernel gets the frame rather than nobody.
    return bpf_redirect_map(&dromos_xsks, ctx->rx_queue_index, XDP_PASS);
}

SEC("xdp")
int dromos_xdp(struct xdp_md *ctx) {
    void *data = (void *)(long)ctx->data;
    void *end = (void *)(long)ctx->data_end;
    struct ethhdr *ethernet = data;
    if ((void *)(ethernet + 1) > end) return pass();
    void *next = ethernet + 1;
    __be16 type = ethernet->h_proto;
    // One 802.1Q or 802.1ad tag, as the datapath parses it.
    if (type == bpf_htons(ETH_P_8021Q) || type == bpf_htons(ETH_P_8021AD)) {
        __be16 *inner = (__be16 *)next + 1;
        if ((void *)(inner + 1) > end) return pass();
        type = *inner;
        next = inner + 1;
    }
    if (type == bpf_htons(ETH_P_IP)) {
        struct iphdr *ip = next;
        if ((void *)(ip + 1) > end) return pass();
        __u32 destination = ip->daddr;
        __u8 *flags = bpf_map_lookup_elem(&dromos_vips4, &destination);
        return flags && (*flags & VIP_FORWARD) ? to_socket(ctx) : pass();
    }
    if (type == bpf_htons(ETH_P_IPV6)) {
        struct ipv6hdr *ip = next;
        if ((void *)(ip + 1) > end) return pass();
        struct ipv6_key destination;
        __builtin_memcpy(destination.address, &ip->daddr, 16);
        __u8 *flags = bpf_map_lookup_elem(&dromos_vips6, &destination);
        if (flags && (*flags & VIP_FORWARD)) return to_socket(ctx);
        // A neighbor solicitation for a VIP goes to its solicited-node address: its target says which.
        if (ip->nexthdr == IPPROTO_ICMPV6) {
            __u8 *icmp = (__u8 *)(ip + 1);
            if ((void *)(icmp + 24) > end) return pass();
            if (icmp[0] != 135) return pass();
            struct ipv6_key target;
            __builtin_memcpy(target.address, icmp + 8, 16);
            flags = bpf_map_lookup_elem(&dromos_vips6, &target);
            return flags && (*flags & VIP_FORWARD) ? to_socket(ctx) : pass();
        }
        return pass();
    }
    if (type == bpf_htons(ETH_P_ARP)) {
        struct arp_ipv4 *arp = next;
        if ((void *)(arp + 1) > end) return pass();
        if (arp->operation != bpf_htons(1)) return pass();
        __u32 target;
        __builtin_memcpy(&target, arp->target_ip, 4);
        __u8 *flags = bpf_map_lookup_elem(&dromos_vips4, &target);
        return flags && (*flags & VIP_FORWARD) ? to_socket(ctx) : pass();
    }
    return pass();
}

char _license[] SEC("license") = "GPL";
