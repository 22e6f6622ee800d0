/* The NULL-safe wrappers of anc_comm (comm.h). */
#include "core/comm.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int anc_comm_rank(const anc_comm *c) { return c ? c->rank : 0; }
int anc_comm_size(const anc_comm *c) { return c && c->size > 0 ? c->size : 1; }

void anc_comm_share(const anc_comm *c, int r, size_t n, size_t *lo, size_t *hi) {
    size_t w = (size_t)anc_comm_size(c), q = n / w, extra = n % w, ur = (size_t)r;
    *lo = ur * q + (ur < extra ? ur : extra);
    *hi = *lo + q + (ur < extra ? 1 : 0);
}

static int many(const anc_comm *c) { return c && c->size > 1; }

anc_status anc_comm_allreduce_sum(anc_comm *c, float *buf, size_t n, anc_error *err) {
    if (!many(c) || n == 0) return ANC_OK;
    if (c->allreduce_sum_f32(c, buf, n))
        return anc_error_set(err, ANC_ERR_IO, "rank %d: summing %zu values across %d processes failed", c->rank, n, c->size);
    return ANC_OK;
}

anc_status anc_comm_allgather_shares(anc_comm *c, void *buf, size_t n, size_t item_bytes, anc_error *err) {
    if (!many(c)) return ANC_OK;
    size_t *bytes = malloc(sizeof(size_t) * (size_t)c->size), lo, hi;
    if (!bytes) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    for (int r = 0; r < c->size; r++) {
        anc_comm_share(c, r, n, &lo, &hi);
        bytes[r] = (hi - lo) * item_bytes;
    }
    anc_comm_share(c, c->rank, n, &lo, &hi);
    /* the send slice is copied out: MPI forbids overlapping buffers */
    size_t mine = bytes[c->rank];
    void *send = malloc(mine ? mine : 1);
    anc_status st = ANC_OK;
    if (!send) st = anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    else {
        if (mine) memcpy(send, (char *)buf + lo * item_bytes, mine);
        if (c->allgather(c, send, buf, bytes))
            st = anc_error_set(err, ANC_ERR_IO, "rank %d: exchanging results across %d processes failed", c->rank, c->size);
    }
    free(send);
    free(bytes);
    return st;
}

anc_status anc_comm_allgather_columns(anc_comm *c, float *const *cols, size_t ncols, size_t n, anc_error *err) {
    if (!many(c) || ncols == 0) return ANC_OK;
    /* one row of ncols floats per item, so one exchange moves them all */
    float *buf = malloc(sizeof(float) * ncols * (n ? n : 1));
    if (!buf) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    size_t lo, hi;
    anc_comm_share(c, c->rank, n, &lo, &hi);
    for (size_t k = lo; k < hi; k++)
        for (size_t j = 0; j < ncols; j++) buf[k * ncols + j] = cols[j][k];
    anc_status st = anc_comm_allgather_shares(c, buf, n, sizeof(float) * ncols, err);
    for (size_t k = 0; !st && k < n; k++)
        for (size_t j = 0; j < ncols; j++) cols[j][k] = buf[k * ncols + j];
    free(buf);
    return st;
}

anc_status anc_comm_bcast(anc_comm *c, void *buf, size_t n, anc_error *err) {
    if (!many(c) || n == 0) return ANC_OK;
    if (c->bcast(c, buf, n, 0))
        return anc_error_set(err, ANC_ERR_IO, "rank %d: receiving rank 0's data failed", c->rank);
    return ANC_OK;
}

anc_status anc_comm_bcast_str(anc_comm *c, char **s, anc_error *err) {
    if (!many(c)) return ANC_OK;
    /* the length + 1, or 0 for NULL */
    uint64_t len = c->rank == 0 ? (*s ? (uint64_t)strlen(*s) + 1 : 0) : 0;
    anc_status st = anc_comm_bcast(c, &len, sizeof len, err);
    if (st || len == 0) return st;
    if (c->rank == 0) return anc_comm_bcast(c, *s, (size_t)len, err);
    if (len > ((uint64_t)1 << 32)) return anc_error_set(err, ANC_ERR_IO, "rank %d: a string from rank 0 of %llu bytes", c->rank, (unsigned long long)len);
    *s = malloc((size_t)len);
    if (!*s) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    if ((st = anc_comm_bcast(c, *s, (size_t)len, err))) {
        free(*s);
        *s = NULL;
    }
    return st;
}

anc_status anc_comm_gather_bytes(anc_comm *c, const void *send, size_t n, void **out, size_t *lens, anc_error *err) {
    *out = NULL;
    if (!many(c)) {
        lens[0] = n;
        *out = malloc(n ? n : 1);
        if (!*out) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
        if (n) memcpy(*out, send, n);
        return ANC_OK;
    }
    int w = c->size;
    uint64_t mine = n, *all = malloc(sizeof(uint64_t) * (size_t)w);
    size_t *eight = malloc(sizeof(size_t) * (size_t)w);
    anc_status st = ANC_OK;
    if (!all || !eight) st = anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    for (int r = 0; !st && r < w; r++) eight[r] = sizeof(uint64_t);
    if (!st && c->allgather(c, &mine, all, eight))
        st = anc_error_set(err, ANC_ERR_IO, "rank %d: exchanging sizes across %d processes failed", c->rank, w);
    size_t total = 0;
    for (int r = 0; !st && r < w; r++) {
        lens[r] = (size_t)all[r];
        total += lens[r];
    }
    void *recv = NULL;
    if (!st && c->rank == 0 && !(recv = malloc(total ? total : 1))) st = anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    /* every rank must enter the gather even when rank 0 could not allocate:
     * then the job is ended by the caller's abort */
    if (!st && c->gather(c, send, recv, lens, 0))
        st = anc_error_set(err, ANC_ERR_IO, "rank %d: sending results to rank 0 failed", c->rank);
    if (st) free(recv);
    else *out = recv;
    free(all);
    free(eight);
    return st;
}

anc_status anc_comm_agree(anc_comm *c, anc_status st, anc_error *err) {
    if (!many(c)) return st;
    int w = c->size, mine = (int)st, *all = malloc(sizeof(int) * (size_t)w);
    size_t *four = malloc(sizeof(size_t) * (size_t)w);
    anc_status out = st;
    if (!all || !four) out = st ? st : anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    else {
        for (int r = 0; r < w; r++) four[r] = sizeof(int);
        if (c->allgather(c, &mine, all, four)) {
            if (!st) out = anc_error_set(err, ANC_ERR_IO, "rank %d: agreeing on the outcome failed", c->rank);
        } else if (!st) {
            for (int r = 0; r < w; r++)
                if (all[r]) {
                    out = anc_error_set(err, ANC_ERR_IO, "rank %d failed (its message is on its standard error)", r);
                    break;
                }
        }
    }
    free(all);
    free(four);
    return out;
}
