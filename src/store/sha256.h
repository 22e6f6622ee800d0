/* SHA-256 (FIPS 180-4) for content keys that must not collide: the run store
 * keys paid LLM requests by the SHA-256 of their canonical form, so a
 * collision would hand one prompt another prompt's reply. Plain value state,
 * no allocation, no global state. */
#ifndef ANCHOR_STORE_SHA256_H
#define ANCHOR_STORE_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define ANC_SHA256_BYTES 32
/* 64 hex digits + NUL. */
#define ANC_SHA256_HEX 65

typedef struct anc_sha256 {
    uint32_t h[8];
    uint64_t total;          /* bytes folded so far */
    unsigned char buf[64];
    size_t used;             /* bytes waiting in buf */
} anc_sha256;

/* Starts a new digest in s. */
void anc_sha256_init(anc_sha256 *s);
/* Folds len bytes of data (data may be NULL when len == 0). */
void anc_sha256_update(anc_sha256 *s, const void *data, size_t len);
/* Writes the 32-byte digest to out; s must be re-initialised before reuse. */
void anc_sha256_final(anc_sha256 *s, unsigned char out[ANC_SHA256_BYTES]);
/* Writes the digest as 64 lowercase hex digits plus NUL into hex. */
void anc_sha256_final_hex(anc_sha256 *s, char hex[ANC_SHA256_HEX]);
/* One-shot helper: hex digest of len bytes of data. */
void anc_sha256_hex(const void *data, size_t len, char hex[ANC_SHA256_HEX]);

#endif
