/* SPDX-License-Identifier: MIT */
/*
 * The one barrier header.  Everything xvio shares with another domain
 * (ring indices, descriptors, flags) is read and written through these,
 * and each call site says in a comment which barrier on the other side it
 * pairs with.
 *
 * The peer is another process, usually on another CPU, mapping the same
 * pages: C11 atomics on the shared words give the compiler and the CPU the
 * ordering the virtio protocol relies on.  On x86 the acquire/release
 * forms cost nothing beyond a compiler barrier; xvio_mb() is a real fence
 * (needed where a store must be visible before a later load, the one
 * reordering x86 allows).
 *
 * Shared memory is untrusted: a value read with xvio_load_*() is a private
 * copy; validate the copy and never read the same field again for the
 * same decision.
 */
#ifndef XVIO_BARRIER_H
#define XVIO_BARRIER_H

#include <stdint.h>

/* Full fence: orders earlier loads and stores before later ones.  Used
 * between publishing an index and reading the peer's suppression field
 * (virtio's "notify after full barrier"), in both roles. */
static inline void xvio_mb(void)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

/* Orders earlier loads before later loads (consumer side, after reading
 * an index and before reading the entries it covers).  Pairs with
 * xvio_wmb() on the producer. */
static inline void xvio_rmb(void)
{
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
}

/* Orders earlier stores before later stores (producer side, after writing
 * entries and before writing the index that publishes them).  Pairs with
 * xvio_rmb() on the consumer. */
static inline void xvio_wmb(void)
{
	__atomic_thread_fence(__ATOMIC_RELEASE);
}

/*
 * Single loads and stores of shared words: one access of the full width,
 * never torn, never repeated or invented by the compiler.  Relaxed: the
 * ordering comes from the fences above, placed where the protocol needs
 * them, so each use documents its pairing.
 */
static inline uint16_t xvio_load16(const volatile void *p)
{
	return __atomic_load_n((const volatile uint16_t *)p, __ATOMIC_RELAXED);
}

static inline uint32_t xvio_load32(const volatile void *p)
{
	return __atomic_load_n((const volatile uint32_t *)p, __ATOMIC_RELAXED);
}

static inline uint64_t xvio_load64(const volatile void *p)
{
	return __atomic_load_n((const volatile uint64_t *)p, __ATOMIC_RELAXED);
}

static inline void xvio_store16(volatile void *p, uint16_t v)
{
	__atomic_store_n((volatile uint16_t *)p, v, __ATOMIC_RELAXED);
}

static inline void xvio_store32(volatile void *p, uint32_t v)
{
	__atomic_store_n((volatile uint32_t *)p, v, __ATOMIC_RELAXED);
}

static inline void xvio_store64(volatile void *p, uint64_t v)
{
	__atomic_store_n((volatile uint64_t *)p, v, __ATOMIC_RELAXED);
}

/* Index loads and stores with the ordering built in, for the common case:
 * a producer publishing entries and a consumer picking them up. */

/* Producer: entries written before are visible before the new index.
 * Pairs with xvio_load_acquire16() in the consumer. */
static inline void xvio_store_release16(volatile void *p, uint16_t v)
{
	__atomic_store_n((volatile uint16_t *)p, v, __ATOMIC_RELEASE);
}

/* Consumer: entries read after see at least what the index covers.
 * Pairs with xvio_store_release16() in the producer. */
static inline uint16_t xvio_load_acquire16(const volatile void *p)
{
	return __atomic_load_n((const volatile uint16_t *)p, __ATOMIC_ACQUIRE);
}

/* Exchange with a full fence on both sides: the one read-modify-write of
 * shared memory (the simulator's event-channel lines, sim_proto.h).  Each
 * use says which fence or exchange on the other side it pairs with. */
static inline uint32_t xvio_xchg32(volatile void *p, uint32_t v)
{
	return __atomic_exchange_n((volatile uint32_t *)p, v, __ATOMIC_SEQ_CST);
}

/* A CPU hint inside spin loops (PAUSE on x86). */
static inline void xvio_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#endif
}

#endif /* XVIO_BARRIER_H */
