#include "eval/loglik.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/dataset.h"

anc_status anc_loglik(const anc_model *m, const anc_ll_request *reqs, size_t n, int64_t max_tokens, double *ll,
                      anc_progress_fn progress, void *progress_ctx, anc_error *err) {
    if (max_tokens <= 0) max_tokens = 4096;
    int64_t longest = 0;
    for (size_t i = 0; i < n; i++) {
        if (!reqs[i].n_context || !reqs[i].n_continuation)
            return anc_error_set(err, ANC_ERR_INVALID, "log-likelihood request %zu: expected a non-empty context and continuation", i);
        int64_t t = (int64_t)(reqs[i].n_context + reqs[i].n_continuation);
        if (t > longest) longest = t;
        ll[i] = 0;
    }
    if (!n) return ANC_OK;
    int64_t cap = longest > max_tokens ? longest : max_tokens;
    int32_t *tokens = malloc((size_t)cap * sizeof *tokens);
    uint8_t *mask = malloc((size_t)cap);
    float *tlp = malloc((size_t)cap * sizeof *tlp);
    int64_t *offs = malloc((n + 1) * sizeof *offs);
    anc_acts *acts = anc_acts_create_forward_only();
    anc_status st = ANC_OK;
    if (!tokens || !mask || !tlp || !offs || !acts) {
        st = anc_error_set(err, ANC_ERR_NOMEM, "log-likelihood: out of memory for a %lld-token batch", (long long)cap);
        goto done;
    }
    size_t i = 0;
    while (i < n) {
        size_t first = i;
        int64_t t = 0;
        int ns = 0;
        offs[0] = 0;
        while (i < n) {
            int64_t len = (int64_t)(reqs[i].n_context + reqs[i].n_continuation);
            if (ns > 0 && t + len > max_tokens) break;
            memcpy(tokens + t, reqs[i].context, reqs[i].n_context * sizeof *tokens);
            memcpy(tokens + t + (int64_t)reqs[i].n_context, reqs[i].continuation, reqs[i].n_continuation * sizeof *tokens);
            memset(mask + t, 0, reqs[i].n_context);
            memset(mask + t + (int64_t)reqs[i].n_context, 1, reqs[i].n_continuation);
            t += len;
            offs[++ns] = t;
            i++;
        }
        anc_batch b = {t, tokens, ns, offs, mask};
        if ((st = anc_batch_validate(m, &b, err))) {
            anc_error_prefix(err, "log-likelihood requests %zu..%zu", first, i - 1);
            goto done;
        }
        if ((st = anc_model_forward(m, acts, &b, tlp, NULL, NULL, err))) goto done;
        for (int s = 0; s < ns; s++) {
            double sum = 0;
            for (int64_t k = offs[s]; k < offs[s + 1]; k++)
                if (mask[k]) sum += (double)tlp[k];
            ll[first + (size_t)s] = sum;
        }
        if (progress) progress(progress_ctx, i, n, t);
    }
done:
    anc_acts_free(acts);
    free(tokens);
    free(mask);
    free(tlp);
    free(offs);
    return st;
}

size_t anc_mc_argmax(const double *ll, const double *norm, size_t n) {
    size_t best = 0;
    double bv = 0;
    for (size_t i = 0; i < n; i++) {
        double v = ll[i];
        if (norm && norm[i] > 0) v /= norm[i];
        if (i == 0 || v > bv) {
            best = i;
            bv = v;
        }
    }
    return best;
}

size_t anc_utf8_chars(const char *s) {
    size_t n = 0;
    for (; *s; s++) n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static anc_status prompt_ids(anc_tokenizer *tok, const char *text, int32_t **ids, size_t *n, anc_error *err) {
    json_t *j = json_string(text);
    if (!j) return anc_error_set(err, ANC_ERR_INVALID, "expected valid UTF-8 text");
    anc_status st = anc_prompt_ids(tok, NULL, j, ids, n, err);
    json_decref(j);
    return st;
}

anc_status anc_ll_encode_pair(anc_tokenizer *tok, const char *context, const char *continuation, int32_t **ctx_ids,
                              size_t *n_ctx, int32_t **cont_ids, size_t *n_cont, anc_error *err) {
    *ctx_ids = *cont_ids = NULL;
    *n_ctx = *n_cont = 0;
    size_t lc = strlen(context), lk = strlen(continuation), spaces = 0;
    while (spaces < lc && context[lc - 1 - spaces] == ' ') spaces++;
    char *ctx = malloc(lc + 1), *whole = malloc(lc + lk + 1), *cont = malloc(lk + spaces + 1);
    int32_t *w = NULL;
    size_t nw = 0;
    anc_status st = ANC_OK;
    if (!ctx || !whole || !cont) {
        st = anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
        goto done;
    }
    memcpy(ctx, context, lc - spaces);
    ctx[lc - spaces] = '\0';
    memset(cont, ' ', spaces);
    memcpy(cont + spaces, continuation, lk + 1);
    memcpy(whole, context, lc);
    memcpy(whole + lc, continuation, lk + 1);
    if ((st = prompt_ids(tok, ctx, ctx_ids, n_ctx, err)) || (st = prompt_ids(tok, whole, &w, &nw, err))) goto done;
    if (nw > *n_ctx && !memcmp(w, *ctx_ids, *n_ctx * sizeof *w)) {
        *n_cont = nw - *n_ctx;
        *cont_ids = malloc(*n_cont * sizeof **cont_ids);
        if (!*cont_ids) {
            st = anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
            goto done;
        }
        memcpy(*cont_ids, w + *n_ctx, *n_cont * sizeof *w);
    } else if ((st = anc_tokenizer_encode(tok, cont, strlen(cont), 0, cont_ids, n_cont, err))) {
        goto done;
    }
    if (!*n_ctx || !*n_cont)
        st = anc_error_set(err, ANC_ERR_INVALID, "the %s encodes to no tokens", !*n_ctx ? "context" : "continuation");
done:
    free(w);
    free(ctx);
    free(whole);
    free(cont);
    if (st) {
        free(*ctx_ids);
        free(*cont_ids);
        *ctx_ids = *cont_ids = NULL;
        *n_ctx = *n_cont = 0;
    }
    return st;
}

anc_status anc_perplexity(const anc_model *m, const int32_t *const *texts, const size_t *lens, size_t n,
                          int64_t max_tokens, double *nll_sum, size_t *n_scored, double *ppl, anc_error *err) {
    *nll_sum = 0;
    *n_scored = 0;
    *ppl = NAN;
    anc_ll_request *reqs = calloc(n ? n : 1, sizeof *reqs);
    double *ll = calloc(n ? n : 1, sizeof *ll);
    anc_status st = ANC_OK;
    if (!reqs || !ll) {
        st = anc_error_set(err, ANC_ERR_NOMEM, "perplexity: out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        if (lens[i] < 2) {
            st = anc_error_set(err, ANC_ERR_INVALID, "perplexity: text %zu has %zu token(s); expected at least 2", i, lens[i]);
            goto done;
        }
        reqs[i] = (anc_ll_request){texts[i], 1, texts[i] + 1, lens[i] - 1};
    }
    if ((st = anc_loglik(m, reqs, n, max_tokens, ll, NULL, NULL, err))) goto done;
    for (size_t i = 0; i < n; i++) {
        *nll_sum -= ll[i];
        *n_scored += lens[i] - 1;
    }
    if (*n_scored) *ppl = exp(*nll_sum / (double)*n_scored);
done:
    free(reqs);
    free(ll);
    return st;
}
