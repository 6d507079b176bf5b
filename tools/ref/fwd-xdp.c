// C yardstick for `dromos run --io xdp` in tools/rate-bench.sh. Not part of the product.
// AF_XDP through Debian's libxdp/libbpf, as xdp-notes.md found it fastest on veth: Dromos's own XDP
// program (Sources/CXDP/bpf/dromos_xdp.c, compiled by the caller) attached in native mode, so the
// comparison with dromos isolates the user-space side; one socket on queue 0 in copy mode (veth has no
// zero-copy) with XDP_USE_NEED_WAKEUP; a received frame is rewritten where it lies in the UMEM and goes
// to the TX ring from there (no copy); completed frames and frames we do not forward go straight back
// to the fill ring. The program hands the kernel everything that is not for the VIP (ARP included), and
// the kernel never sees what it redirects: no nftables drop rule is needed.
// Usage: fwd-xdp XDP_OBJECT INTERFACE SECONDS VIP BALANCER_MAC BACKEND_MAC...   closing counts on stderr
#include "ref.h"
#include <errno.h>
#include <net/if.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <linux/if_link.h>
#include <linux/if_xdp.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>
#include <xdp/xsk.h>

// The fill ring holds every UMEM frame, so recycling into it never has to wait for room.
enum { FRAMES = 4096, FRAME_SIZE = XSK_UMEM__DEFAULT_FRAME_SIZE, RING = 2048, FILL_RING = FRAMES, BATCH = 64 };

static struct xdp_program *program;
static int ifindex;

static void detach(void) {
    xdp_program__detach(program, ifindex, XDP_MODE_NATIVE, 0);
    xdp_program__close(program);
}

static void fail(const char *what, int code) {
    fprintf(stderr, "fwd-xdp: %s: %s\n", what, strerror(code < 0 ? -code : code));
    exit(1);  // atexit takes the program off the interface
}

struct port {
    struct xsk_ring_prod fill, tx;
    struct xsk_ring_cons completion, rx;
    int fd;
    uint32_t in_flight;  // submitted to TX, not yet back through the completion ring
};

static void recycle(struct port *p, const uint64_t *addresses, uint32_t count) {
    uint32_t index = 0;
    xsk_ring_prod__reserve(&p->fill, count, &index);  // cannot fail: the ring has room for every frame
    for (uint32_t i = 0; i < count; i++) *xsk_ring_prod__fill_addr(&p->fill, index + i) = addresses[i];
    xsk_ring_prod__submit(&p->fill, count);
}

static void reclaim(struct port *p) {
    uint32_t index, done = xsk_ring_cons__peek(&p->completion, RING, &index);
    if (!done) return;
    uint32_t fill_index = 0;
    xsk_ring_prod__reserve(&p->fill, done, &fill_index);
    for (uint32_t i = 0; i < done; i++)
        *xsk_ring_prod__fill_addr(&p->fill, fill_index + i) = *xsk_ring_cons__comp_addr(&p->completion, index + i);
    xsk_ring_prod__submit(&p->fill, done);
    xsk_ring_cons__release(&p->completion, done);
    p->in_flight -= done;
}

// Copy mode transmits inside sendto(), up to a budget per call (32 frames by default), so the TX ring
// always "needs wakeup". EAGAIN says more is left (or the completion ring is full): reclaim and call
// again, a few times, so that a batch leaves now rather than piling up in the ring. ENOBUFS and EBUSY
// only mean: later.
static void kick(struct port *p, unsigned long *kicks) {
    if (!xsk_ring_prod__needs_wakeup(&p->tx)) return;
    for (int tries = 0; tries < 4; tries++) {
        (*kicks)++;
        if (sendto(p->fd, NULL, 0, MSG_DONTWAIT, NULL, 0) >= 0 || errno != EAGAIN) return;
        reclaim(p);
    }
}

int main(int argc, char **argv) {
    struct ref_args a;
    ref_parse_args(argc, argv, 2, "XDP_OBJECT ", &a);
    ifindex = (int)if_nametoindex(a.interface);
    if (!ifindex) fail(a.interface, errno);
    // Kernels before 5.11 charge BPF maps and the UMEM to the locked-memory limit.
    struct rlimit unlimited = { RLIM_INFINITY, RLIM_INFINITY };
    setrlimit(RLIMIT_MEMLOCK, &unlimited);

    program = xdp_program__open_file(argv[1], "xdp", NULL);
    long error = libxdp_get_error(program);
    if (error) fail(argv[1], (int)error);
    int result = xdp_program__attach(program, ifindex, XDP_MODE_NATIVE, 0);
    if (result) {
        fprintf(stderr, "fwd-xdp: native attach to %s: %s (on veth the peer's MTU must be at most 3506)\n", a.interface, strerror(-result));
        xdp_program__close(program);
        return 1;
    }
    atexit(detach);
    struct bpf_object *object = xdp_program__bpf_obj(program);
    int sockets_map = bpf_object__find_map_fd_by_name(object, "dromos_xsks");
    int vips_map = bpf_object__find_map_fd_by_name(object, "dromos_vips4");
    if (sockets_map < 0 || vips_map < 0) fail("the XDP object lacks dromos_xsks or dromos_vips4", ENOENT);
    uint8_t forward = 1;  // the program's VIP_FORWARD
    if ((result = bpf_map_update_elem(vips_map, &a.vip, &forward, BPF_ANY))) fail("adding the VIP to dromos_vips4", result);

    size_t area_size = (size_t)FRAMES * FRAME_SIZE;
    uint8_t *area = mmap(NULL, area_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (area == MAP_FAILED) fail("mmap of the UMEM", errno);
    struct port p = {0};
    struct xsk_umem *umem;
    struct xsk_umem_config umem_config = { .fill_size = FILL_RING, .comp_size = RING, .frame_size = FRAME_SIZE };
    if ((result = xsk_umem__create(&umem, area, area_size, &p.fill, &p.completion, &umem_config))) fail("xsk_umem__create", result);
    struct xsk_socket *xsk;
    struct xsk_socket_config socket_config = {
        .rx_size = RING, .tx_size = RING,
        // Our program is attached already; libxdp's default one would take every frame, ARP too.
        .libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD,
        .bind_flags = XDP_USE_NEED_WAKEUP | XDP_COPY,
    };
    if ((result = xsk_socket__create(&xsk, a.interface, 0, umem, &p.rx, &p.tx, &socket_config))) fail("xsk_socket__create (queue 0, copy mode)", result);
    if ((result = xsk_socket__update_xskmap(xsk, sockets_map))) fail("xsk_socket__update_xskmap", result);
    p.fd = xsk_socket__fd(xsk);
    uint64_t all[BATCH];
    for (uint32_t done = 0; done < FRAMES; done += BATCH) {
        for (uint32_t i = 0; i < BATCH; i++) all[i] = (uint64_t)(done + i) * FRAME_SIZE;
        recycle(&p, all, BATCH);
    }

    ref_install_signals(a.seconds, NULL);
    fprintf(stderr, "fwd-xdp: running on %s (native XDP, AF_XDP copy mode, need-wakeup, queue 0)\n", a.interface);
    struct ref_counts c = {0};
    unsigned long kicks = 0;
    while (!ref_stop) {
        uint32_t rx_index, received = xsk_ring_cons__peek(&p.rx, BATCH, &rx_index);
        if (!received) {
            if (p.in_flight) {
                kick(&p, &kicks);
                reclaim(&p);
            }
            // Frames to the VIP wake us; the short wait while frames are in flight keeps the TX kicks coming.
            struct pollfd wait = { p.fd, POLLIN, 0 };
            if (poll(&wait, 1, p.in_flight ? 1 : 100) < 0 && errno != EINTR) fail("poll", errno);
            continue;
        }
        c.received += received;
        struct xdp_desc out[BATCH];
        uint64_t dropped[BATCH];
        uint32_t forwarded = 0, left = 0;
        for (uint32_t i = 0; i < received; i++) {
            const struct xdp_desc *d = xsk_ring_cons__rx_desc(&p.rx, rx_index + i);
            uint8_t *frame = xsk_umem__get_data(area, xsk_umem__add_offset_to_addr(d->addr));
            if (ref_rewrite(frame, d->len, &a)) out[forwarded++] = (struct xdp_desc){ .addr = d->addr, .len = d->len };
            else dropped[left++] = d->addr;
        }
        xsk_ring_cons__release(&p.rx, received);
        // What the program redirected but is not ours (ICMP to the VIP, ARP for it) has nowhere else to go.
        if (left) recycle(&p, dropped, left);
        c.passed += left;
        if (forwarded) {
            uint32_t tx_index = 0;
            while (xsk_ring_prod__reserve(&p.tx, forwarded, &tx_index) < forwarded) {
                // The TX ring is full: let the kernel send and hand frames back.
                kick(&p, &kicks);
                reclaim(&p);
                if (ref_stop) break;
            }
            if (ref_stop) {
                for (uint32_t i = 0; i < forwarded; i++) dropped[i] = out[i].addr;
                recycle(&p, dropped, forwarded);
                c.not_sent += forwarded;
                break;
            }
            for (uint32_t i = 0; i < forwarded; i++) *xsk_ring_prod__tx_desc(&p.tx, tx_index + i) = out[i];
            xsk_ring_prod__submit(&p.tx, forwarded);
            p.in_flight += forwarded;
            c.forwarded += forwarded;
            kick(&p, &kicks);
        }
        reclaim(&p);
    }
    struct xdp_statistics s = {0};
    socklen_t length = sizeof s;
    getsockopt(p.fd, SOL_XDP, XDP_STATISTICS, &s, &length);
    char extra[200];
    snprintf(extra, sizeof extra, "rx ring full %llu, fill ring empty %llu, rx dropped %llu, sendto() calls %lu",
             (unsigned long long)s.rx_ring_full, (unsigned long long)s.rx_fill_ring_empty_descs, (unsigned long long)s.rx_dropped, kicks);
    ref_report("fwd-xdp", &c, extra);
    xsk_socket__delete(xsk);
    xsk_umem__delete(umem);
    return 0;  // atexit detaches the program
}
