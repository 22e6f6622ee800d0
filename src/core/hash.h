/* 64-bit content hashing (FNV-1a) for cache keys: reference log-probs are
 * keyed by the hash of the reference weights and of the tokenised data. Not
 * cryptographic. */
#ifndef ANCHOR_CORE_HASH_H
#define ANCHOR_CORE_HASH_H

#include <stddef.h>
#include <stdint.h>

#define ANC_HASH_INIT 0xcbf29ce484222325ull

/* Folds len bytes of data into h and returns the new hash. */
uint64_t anc_hash_bytes(uint64_t h, const void *data, size_t len);
/* Folds a 64-bit integer (as 8 little-endian bytes). */
uint64_t anc_hash_u64(uint64_t h, uint64_t v);

#endif
