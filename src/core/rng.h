/* Deterministic random numbers (xoshiro256** seeded by splitmix64). The
 * state is a plain value: copy it, save it in a checkpoint, restore it. */
#ifndef ANCHOR_CORE_RNG_H
#define ANCHOR_CORE_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct anc_rng {
    uint64_t s[4];
} anc_rng;

/* Seeds r from seed (any value, 0 included). */
void anc_rng_seed(anc_rng *r, uint64_t seed);
uint64_t anc_rng_next(anc_rng *r);
/* Uniform in [0, 1) with 53 random bits. */
double anc_rng_uniform(anc_rng *r);
/* Uniform integer in [0, n) without modulo bias (n > 0). */
uint64_t anc_rng_below(anc_rng *r, uint64_t n);
/* Standard normal (Box-Muller). */
double anc_rng_normal(anc_rng *r);
/* Fisher-Yates shuffle of idx[0..n). */
void anc_rng_shuffle(anc_rng *r, size_t *idx, size_t n);

#endif
