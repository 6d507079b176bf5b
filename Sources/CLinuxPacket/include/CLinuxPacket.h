#ifndef DROMOS_CLINUXPACKET_H
#define DROMOS_CLINUXPACKET_H
// The kernel's AF_PACKET ABI for Swift. Glibc's module lacks sockaddr_ll, ETH_P_ALL, PACKET_* and the
// tpacket structs; the <linux/...> headers have them. <netpacket/packet.h> is left out on purpose: it
// defines sockaddr_ll too and the two clash.
//
// Only one-liners live here: macros Swift cannot import (function-like ones) and the atomic accesses
// to the status words the kernel shares with us through the rings. Those must be real atomic
// loads/stores with acquire/release ordering: a plain load may be hoisted out of a polling loop, and
// without ordering we could read a frame's bytes before the kernel's write of them is visible.
#include <stdint.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/if_packet.h>
#include <linux/if_ether.h>
#include <linux/virtio_net.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <linux/filter.h>

static inline uint32_t dromos_tpacket_align(uint32_t x) { return TPACKET_ALIGN(x); }
static inline uint32_t dromos_tpacket2_hdrlen(void) { return TPACKET2_HDRLEN; }
static inline uint32_t dromos_tpacket3_hdrlen(void) { return TPACKET3_HDRLEN; }

/// Acquire: the frame's bytes written by the kernel before it set the status are visible after.
static inline uint32_t dromos_load_acquire_u32(const uint32_t *word) {
    return __atomic_load_n(word, __ATOMIC_ACQUIRE);
}
/// Release: our reads (RX) or writes (TX) of the frame happen before the kernel sees the new status.
static inline void dromos_store_release_u32(uint32_t *word, uint32_t value) {
    __atomic_store_n(word, value, __ATOMIC_RELEASE);
}


/// Status words the kernel and we hand frames over with; the first is inside a union Swift cannot
/// take a stored-property offset of.
static inline uint32_t *dromos_block_status_word(void *block) {
    return &((struct tpacket_block_desc *)block)->hdr.bh1.block_status;
}
static inline uint32_t *dromos_v2_status_word(void *frame) { return &((struct tpacket2_hdr *)frame)->tp_status; }
static inline uint32_t *dromos_v3_status_word(void *frame) { return &((struct tpacket3_hdr *)frame)->tp_status; }

/// Swift's Glibc module is built without _GNU_SOURCE, so it lacks `struct mmsghdr` and sendmmsg(2).
/// Same layout as glibc's struct; the call goes straight to the system call.
struct dromos_mmsghdr {
    struct msghdr msg_hdr;
    unsigned int msg_len;
};
static inline int dromos_sendmmsg(int fd, struct dromos_mmsghdr *messages, unsigned int count, int flags) {
    return (int)syscall(SYS_sendmmsg, fd, messages, count, flags);
}

/// setns(2) into a network namespace for the calling thread (glibc declares setns only with
/// _GNU_SOURCE). 0x40000000 is CLONE_NEWNET; <linux/sched.h> would clash with glibc's <sched.h>.
static inline int dromos_setns_network(int fd) { return (int)syscall(SYS_setns, fd, 0x40000000); }

#endif
