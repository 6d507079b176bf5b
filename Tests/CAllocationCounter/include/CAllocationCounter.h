#ifndef DROMOS_ALLOCATION_COUNTER_H
#define DROMOS_ALLOCATION_COUNTER_H
#include <stdint.h>

/// Heap allocations (malloc, calloc, realloc, aligned variants) made so far by the calling thread.
/// Per thread, so other tests running in parallel do not disturb a measurement.
uint64_t dromos_thread_allocation_count(void);

#endif
