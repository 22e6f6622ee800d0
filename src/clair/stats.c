#include "clair/stats.h"

#include <stdlib.h>
#include <string.h>

/* ---- Levenshtein: Myers (1999) / Hyyrö (2003) bit-parallel blocks -------- */

/* One 64-row block of the DP column: Pv/Mv are the +1/-1 vertical deltas,
 * eq the rows whose pattern symbol equals the text symbol, hin the
 * horizontal delta entering at the block's top row. Returns the horizontal
 * delta leaving at row bit hb (bit 63, or the last pattern row in the last
 * block). Myers' "advance_block", Fig. 5 of his 1999 JACM paper. */
static inline int advance_block(uint64_t *pv_, uint64_t *mv_, uint64_t eq, int hin, uint64_t hb) {
    uint64_t pv = *pv_, mv = *mv_;
    uint64_t xv = eq | mv;
    if (hin < 0) eq |= 1;
    uint64_t xh = (((eq & pv) + pv) ^ pv) | eq;
    uint64_t ph = mv | ~(xh | pv);
    uint64_t mh = pv & xh;
    int hout = (ph & hb) ? 1 : (mh & hb) ? -1 : 0;
    ph <<= 1;
    mh <<= 1;
    if (hin < 0) mh |= 1;
    else if (hin > 0) ph |= 1;
    *pv_ = mh | ~(xv | ph);
    *mv_ = ph & xv;
    return hout;
}

typedef struct {
    uint32_t cp;
    uint32_t pos;
} cp_pos;

static int cmp_cp_pos(const void *x, const void *y) {
    const cp_pos *a = x, *b = y;
    if (a->cp != b->cp) return a->cp < b->cp ? -1 : 1;
    return a->pos < b->pos ? -1 : a->pos > b->pos;
}

static long find_sym(const uint32_t *syms, size_t n, uint32_t cp) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (syms[mid] < cp) lo = mid + 1;
        else hi = mid;
    }
    return lo < n && syms[lo] == cp ? (long)lo : -1;
}

anc_status anc_levenshtein(const uint32_t *a, size_t na, const uint32_t *b, size_t nb, size_t *out, anc_error *err) {
    /* common prefix and suffix never change the distance */
    while (na && nb && a[0] == b[0]) a++, b++, na--, nb--;
    while (na && nb && a[na - 1] == b[nb - 1]) na--, nb--;
    if (na > nb) { /* the pattern (bit-vector side) is the shorter text */
        const uint32_t *t = a;
        a = b;
        b = t;
        size_t tn = na;
        na = nb;
        nb = tn;
    }
    if (na == 0) {
        *out = nb;
        return ANC_OK;
    }
    if (na > UINT32_MAX) return anc_error_set(err, ANC_ERR_INVALID, "Levenshtein: text of %zu code points is too long", na);
    size_t m = na, n = nb, words = (m + 63) / 64;
    /* Sparse match table: for each distinct pattern symbol, the (block,
     * mask) entries of the blocks it occurs in, in block order. At most m
     * entries in all, whatever the alphabet. */
    cp_pos *cps = malloc(m * sizeof *cps);
    uint32_t *syms = malloc(m * sizeof *syms);
    size_t *sym_first = malloc((m + 1) * sizeof *sym_first);
    uint32_t *ent_block = malloc(m * sizeof *ent_block);
    uint64_t *ent_mask = malloc(m * sizeof *ent_mask);
    long *tsym = malloc(n * sizeof *tsym);
    uint64_t *pv = malloc(words * sizeof *pv), *mv = malloc(words * sizeof *mv);
    anc_status st = ANC_OK;
    if (!cps || !syms || !sym_first || !ent_block || !ent_mask || !tsym || !pv || !mv) {
        st = anc_error_set(err, ANC_ERR_NOMEM, "out of memory for a Levenshtein distance of %zu x %zu", m, n);
        goto done;
    }
    for (size_t i = 0; i < m; i++) {
        cps[i].cp = a[i];
        cps[i].pos = (uint32_t)i;
    }
    qsort(cps, m, sizeof *cps, cmp_cp_pos);
    size_t n_syms = 0, n_ent = 0;
    for (size_t i = 0; i < m; i++) {
        if (i == 0 || cps[i].cp != cps[i - 1].cp) {
            syms[n_syms] = cps[i].cp;
            sym_first[n_syms++] = n_ent;
        }
        uint32_t blk = cps[i].pos / 64;
        uint64_t bit = (uint64_t)1 << (cps[i].pos % 64);
        if (n_ent > sym_first[n_syms - 1] && ent_block[n_ent - 1] == blk) {
            ent_mask[n_ent - 1] |= bit;
        } else {
            ent_block[n_ent] = blk;
            ent_mask[n_ent++] = bit;
        }
    }
    sym_first[n_syms] = n_ent;
    for (size_t j = 0; j < n; j++) tsym[j] = find_sym(syms, n_syms, b[j]);
    for (size_t w = 0; w < words; w++) {
        pv[w] = ~(uint64_t)0;
        mv[w] = 0;
    }
    uint64_t last_hb = (uint64_t)1 << ((m - 1) % 64), top = (uint64_t)1 << 63;
    size_t score = m;
    for (size_t j = 0; j < n; j++) {
        size_t k = 0, k_end = 0;
        if (tsym[j] >= 0) {
            k = sym_first[tsym[j]];
            k_end = sym_first[tsym[j] + 1];
        }
        int h = 1; /* D[0][j] - D[0][j-1] = 1 for a global distance */
        for (size_t w = 0; w + 1 < words; w++) {
            uint64_t eq = 0;
            if (k < k_end && ent_block[k] == w) eq = ent_mask[k++];
            h = advance_block(&pv[w], &mv[w], eq, h, top);
        }
        uint64_t eq = (k < k_end && ent_block[k] == words - 1) ? ent_mask[k] : 0;
        h = advance_block(&pv[words - 1], &mv[words - 1], eq, h, last_hb);
        score = (size_t)((long long)score + h);
    }
    *out = score;
done:
    free(cps);
    free(syms);
    free(sym_first);
    free(ent_block);
    free(ent_mask);
    free(tsym);
    free(pv);
    free(mv);
    return st;
}

anc_status anc_levenshtein_utf8(const char *a, size_t alen, const char *b, size_t blen, size_t *out, anc_error *err) {
    uint32_t *ca = NULL, *cb = NULL;
    size_t na = 0, nb = 0;
    anc_status st = anc_text_decode(a, alen, &ca, &na, err);
    if (!st) st = anc_text_decode(b, blen, &cb, &nb, err);
    if (!st) st = anc_levenshtein(ca, na, cb, nb, out, err);
    free(ca);
    free(cb);
    return st;
}

/* ---- Jaccard -------------------------------------------------------------- */

static int cmp_span(const void *x, const void *y) {
    const anc_span *a = x, *b = y;
    size_t n = a->len < b->len ? a->len : b->len;
    int c = n ? memcmp(a->p, b->p, n) : 0;
    if (c) return c;
    return a->len < b->len ? -1 : a->len > b->len;
}

/* Sorts and dedupes words in place; returns the new count. */
static size_t unique_words(anc_span *w, size_t n) {
    if (n < 2) return n;
    qsort(w, n, sizeof *w, cmp_span);
    size_t k = 1;
    for (size_t i = 1; i < n; i++)
        if (cmp_span(&w[i], &w[k - 1]) != 0) w[k++] = w[i];
    return k;
}

anc_status anc_word_jaccard(const char *a, size_t alen, const char *b, size_t blen, double *out, anc_error *err) {
    anc_span *wa = NULL, *wb = NULL;
    size_t na = 0, nb = 0;
    anc_status st = anc_text_split_words(a, alen, &wa, &na, err);
    if (!st) st = anc_text_split_words(b, blen, &wb, &nb, err);
    if (!st) {
        na = unique_words(wa, na);
        nb = unique_words(wb, nb);
        size_t i = 0, j = 0, inter = 0;
        while (i < na && j < nb) {
            int c = cmp_span(&wa[i], &wb[j]);
            if (c == 0) inter++, i++, j++;
            else if (c < 0) i++;
            else j++;
        }
        size_t uni = na + nb - inter;
        *out = uni ? (double)inter / (double)uni : 1.0;
    }
    free(wa);
    free(wb);
    return st;
}

static int cmp_i32(const void *x, const void *y) {
    int32_t a = *(const int32_t *)x, b = *(const int32_t *)y;
    return a < b ? -1 : a > b;
}

static size_t unique_i32(int32_t *v, size_t n) {
    if (n < 2) return n;
    qsort(v, n, sizeof *v, cmp_i32);
    size_t k = 1;
    for (size_t i = 1; i < n; i++)
        if (v[i] != v[k - 1]) v[k++] = v[i];
    return k;
}

anc_status anc_token_jaccard(const int32_t *a, size_t na, const int32_t *b, size_t nb, double *out, anc_error *err) {
    int32_t *sa = malloc((na ? na : 1) * sizeof *sa), *sb = malloc((nb ? nb : 1) * sizeof *sb);
    if (!sa || !sb) {
        free(sa);
        free(sb);
        return anc_error_set(err, ANC_ERR_NOMEM, "out of memory for a token Jaccard of %zu x %zu ids", na, nb);
    }
    if (na) memcpy(sa, a, na * sizeof *sa);
    if (nb) memcpy(sb, b, nb * sizeof *sb);
    na = unique_i32(sa, na);
    nb = unique_i32(sb, nb);
    size_t i = 0, j = 0, inter = 0;
    while (i < na && j < nb) {
        if (sa[i] == sb[j]) inter++, i++, j++;
        else if (sa[i] < sb[j]) i++;
        else j++;
    }
    size_t uni = na + nb - inter;
    *out = uni ? (double)inter / (double)uni : 1.0;
    free(sa);
    free(sb);
    return ANC_OK;
}

/* ---- the accumulator ------------------------------------------------------ */

struct anc_contrast {
    size_t rows, cap;
    size_t *len[4];          /* chosen chars, rejected chars, chosen words, rejected words */
    double sum_jaccard, sum_levenshtein;
    size_t identical;
    size_t token_rows;
    double sum_token_jaccard;
};

anc_status anc_contrast_create(anc_contrast **out, anc_error *err) {
    *out = calloc(1, sizeof **out);
    if (!*out) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    return ANC_OK;
}

void anc_contrast_free(anc_contrast *c) {
    if (!c) return;
    for (int k = 0; k < 4; k++) free(c->len[k]);
    free(c);
}

anc_status anc_contrast_add(anc_contrast *c, const char *chosen, size_t chosen_len, const char *rejected,
                            size_t rejected_len, anc_error *err) {
    if (c->rows == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 256;
        for (int k = 0; k < 4; k++) {
            size_t *p = realloc(c->len[k], cap * sizeof *p);
            if (!p) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory collecting statistics");
            c->len[k] = p;
        }
        c->cap = cap;
    }
    double jac;
    size_t lev;
    anc_status st = anc_word_jaccard(chosen, chosen_len, rejected, rejected_len, &jac, err);
    if (!st) st = anc_levenshtein_utf8(chosen, chosen_len, rejected, rejected_len, &lev, err);
    if (st) return st;
    size_t i = c->rows++;
    c->len[0][i] = anc_text_count_cps(chosen, chosen_len);
    c->len[1][i] = anc_text_count_cps(rejected, rejected_len);
    c->len[2][i] = anc_text_count_words(chosen, chosen_len);
    c->len[3][i] = anc_text_count_words(rejected, rejected_len);
    c->sum_jaccard += jac;
    c->sum_levenshtein += (double)lev;
    c->identical += chosen_len == rejected_len && (chosen_len == 0 || memcmp(chosen, rejected, chosen_len) == 0);
    return ANC_OK;
}

anc_status anc_contrast_add_tokens(anc_contrast *c, const int32_t *chosen, size_t n_chosen, const int32_t *rejected,
                                   size_t n_rejected, anc_error *err) {
    double j;
    anc_status st = anc_token_jaccard(chosen, n_chosen, rejected, n_rejected, &j, err);
    if (st) return st;
    c->token_rows++;
    c->sum_token_jaccard += j;
    return ANC_OK;
}

static int cmp_size(const void *x, const void *y) {
    size_t a = *(const size_t *)x, b = *(const size_t *)y;
    return a < b ? -1 : a > b;
}

static anc_status length_stats(const size_t *v, size_t n, anc_length_stats *out, anc_error *err) {
    out->mean = out->median = 0;
    if (n == 0) return ANC_OK;
    size_t *s = malloc(n * sizeof *s);
    if (!s) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory computing medians");
    memcpy(s, v, n * sizeof *s);
    qsort(s, n, sizeof *s, cmp_size);
    double sum = 0;
    for (size_t i = 0; i < n; i++) sum += (double)s[i];
    out->mean = sum / (double)n;
    out->median = n % 2 ? (double)s[n / 2] : ((double)s[n / 2 - 1] + (double)s[n / 2]) / 2.0;
    free(s);
    return ANC_OK;
}

anc_status anc_contrast_result(const anc_contrast *c, anc_contrast_stats *out, anc_error *err) {
    memset(out, 0, sizeof *out);
    out->rows = c->rows;
    anc_length_stats *dst[4] = {&out->chosen_chars, &out->rejected_chars, &out->chosen_words, &out->rejected_words};
    for (int k = 0; k < 4; k++) {
        anc_status st = length_stats(c->len[k], c->rows, dst[k], err);
        if (st) return st;
    }
    if (c->rows) {
        out->jaccard = c->sum_jaccard / (double)c->rows;
        out->levenshtein = c->sum_levenshtein / (double)c->rows;
        out->identical_share = (double)c->identical / (double)c->rows;
    }
    out->token_rows = c->token_rows;
    if (c->token_rows) out->token_jaccard = c->sum_token_jaccard / (double)c->token_rows;
    return ANC_OK;
}

/* ---- output --------------------------------------------------------------- */

#define TABLE_COLS 10

anc_status anc_contrast_table(const char *const *names, const anc_contrast_stats *stats, size_t n, anc_sbuf *out,
                              anc_error *err) {
    static const char *const HEAD[TABLE_COLS] = {
        "dataset", "rows", "chosen chars mean/median", "rejected chars mean/median", "chosen words mean/median",
        "rejected words mean/median", "Jaccard", "Levenshtein", "identical", "token Jaccard"};
    int tokens = 0;
    for (size_t i = 0; i < n; i++) tokens |= stats[i].token_rows > 0;
    size_t ncols = tokens ? TABLE_COLS : TABLE_COLS - 1;
    size_t ncells = (n + 1) * TABLE_COLS;
    char **cell = calloc(ncells, sizeof *cell);
    if (!cell) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory formatting the table");
    anc_status st = ANC_OK;
    for (size_t c = 0; c < ncols; c++) cell[c] = anc_text_dup(HEAD[c], strlen(HEAD[c]));
    for (size_t i = 0; i < n; i++) {
        const anc_contrast_stats *s = &stats[i];
        char **row = cell + (i + 1) * TABLE_COLS;
        anc_sbuf b = {0};
        const anc_length_stats *ls[4] = {&s->chosen_chars, &s->rejected_chars, &s->chosen_words, &s->rejected_words};
        anc_sbuf_puts(&b, names && names[i] ? names[i] : "-");
        row[0] = anc_sbuf_take(&b);
        anc_sbuf_printf(&b, "%zu", s->rows);
        row[1] = anc_sbuf_take(&b);
        for (int k = 0; k < 4; k++) {
            anc_sbuf_printf(&b, "%.1f / %.1f", ls[k]->mean, ls[k]->median);
            row[2 + k] = anc_sbuf_take(&b);
        }
        anc_sbuf_printf(&b, "%.4f", s->jaccard);
        row[6] = anc_sbuf_take(&b);
        anc_sbuf_printf(&b, "%.1f", s->levenshtein);
        row[7] = anc_sbuf_take(&b);
        anc_sbuf_printf(&b, "%.2f%%", 100.0 * s->identical_share);
        row[8] = anc_sbuf_take(&b);
        if (tokens) {
            if (s->token_rows) anc_sbuf_printf(&b, "%.4f", s->token_jaccard);
            else anc_sbuf_puts(&b, "-");
            row[9] = anc_sbuf_take(&b);
        }
    }
    size_t width[TABLE_COLS] = {0};
    for (size_t r = 0; r <= n; r++)
        for (size_t c = 0; c < ncols; c++) {
            if (!cell[r * TABLE_COLS + c]) {
                st = anc_error_set(err, ANC_ERR_NOMEM, "out of memory formatting the table");
                goto done;
            }
            size_t w = anc_text_count_cps(cell[r * TABLE_COLS + c], strlen(cell[r * TABLE_COLS + c]));
            if (w > width[c]) width[c] = w;
        }
    for (size_t r = 0; r <= n; r++) {
        for (size_t c = 0; c < ncols; c++) {
            const char *t = cell[r * TABLE_COLS + c];
            size_t w = anc_text_count_cps(t, strlen(t));
            anc_sbuf_puts(out, c ? " | " : "| ");
            /* text columns left-aligned, numbers right-aligned */
            if (c == 0 || r == 0) anc_sbuf_puts(out, t);
            for (size_t k = w; k < width[c]; k++) anc_sbuf_putc(out, ' ');
            if (!(c == 0 || r == 0)) anc_sbuf_puts(out, t);
        }
        anc_sbuf_puts(out, " |\n");
        if (r == 0) {
            for (size_t c = 0; c < ncols; c++) {
                anc_sbuf_puts(out, "|");
                for (size_t k = 0; k < width[c] + 2; k++) anc_sbuf_putc(out, k == width[c] + 1 && c ? ':' : '-');
            }
            anc_sbuf_puts(out, "|\n");
        }
    }
    anc_sbuf_puts(out,
                  "\nchars: Unicode code points; words: whitespace-split. Jaccard: mean similarity of the word sets "
                  "of chosen and rejected (higher = more contrastive);\nLevenshtein: mean character edit distance "
                  "between them (lower = more contrastive); identical: share of pairs with chosen == rejected.\n");
    if (out->oom) st = anc_error_set(err, ANC_ERR_NOMEM, "out of memory formatting the table");
done:
    for (size_t k = 0; k < ncells; k++) free(cell[k]);
    free(cell);
    return st;
}

static json_t *length_json(const anc_length_stats *l) {
    return json_pack("{s:f, s:f}", "mean", l->mean, "median", l->median);
}

json_t *anc_contrast_json(const anc_contrast_stats *s) {
    json_t *o = json_pack("{s:I, s:o, s:o, s:o, s:o, s:f, s:f, s:f}", "rows", (json_int_t)s->rows, "chosen_chars",
                          length_json(&s->chosen_chars), "rejected_chars", length_json(&s->rejected_chars),
                          "chosen_words", length_json(&s->chosen_words), "rejected_words",
                          length_json(&s->rejected_words), "jaccard", s->jaccard, "levenshtein", s->levenshtein,
                          "identical_share", s->identical_share);
    if (o && s->token_rows) {
        if (json_object_set_new(o, "token_jaccard", json_real(s->token_jaccard)) ||
            json_object_set_new(o, "token_rows", json_integer((json_int_t)s->token_rows))) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}
