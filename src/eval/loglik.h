/* Log-likelihood evaluation on a model: scores of continuations given
 * contexts (lm-evaluation-harness "loglikelihood" requests), multiple-choice
 * accuracy and perplexity, all through the packed forward
 * (anc_model_forward with a score mask).
 *
 * A request is (context ids, continuation ids); its score is the sum over
 * the continuation's tokens of log p(token | everything before it), i.e. the
 * sequence context + continuation with score_mask = 1 exactly on the
 * continuation. Requests are packed into batches of at most max_tokens
 * tokens (a request is never split; a longer one runs alone). Per-token
 * log-probs are summed in double.
 *
 * Multiple choice (lm-eval's acc / acc_norm): each choice i is scored as the
 * continuation of the question, ll_i. acc picks argmax_i ll_i; acc_norm
 * picks argmax_i ll_i / len_i where len_i is the choice's length in
 * characters (Unicode code points of the choice text, without the " "
 * delimiter — lm-eval's completion_len; equal to bytes for ASCII). Ties
 * take the first maximum (numpy argmax).
 *
 * Perplexity of texts: every token after the first of each text is scored
 * (given all earlier tokens of that text); ppl = exp(total NLL / number of
 * scored tokens) over all texts together (a token-weighted mean). */
#ifndef ANCHOR_EVAL_LOGLIK_H
#define ANCHOR_EVAL_LOGLIK_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/progress.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

typedef struct anc_ll_request {
    const int32_t *context;       /* borrowed; n_context >= 1 */
    size_t n_context;
    const int32_t *continuation;  /* borrowed; n_continuation >= 1 */
    size_t n_continuation;
} anc_ll_request;

/* Scores reqs[0..n) into ll[0..n) (sum of continuation log-probs) and, when
 * n_tokens is not NULL, n_tokens[i] = n_continuation. max_tokens <= 0 means
 * 4096. Ids are checked against the model (ANC_ERR_INVALID naming the
 * request index). progress (may be NULL) counts requests. */
anc_status anc_loglik(const anc_model *m, const anc_ll_request *reqs, size_t n, int64_t max_tokens, double *ll,
                      anc_progress_fn progress, void *progress_ctx, anc_error *err);

/* Index of the first maximum of ll[i] (norm == NULL) or of ll[i] / norm[i]
 * (norm[i] > 0; a choice with norm[i] <= 0 is divided by 1). n >= 1. */
size_t anc_mc_argmax(const double *ll, const double *norm, size_t n);

/* Number of Unicode code points in the UTF-8 string s (bytes that are not
 * continuation bytes). */
size_t anc_utf8_chars(const char *s);

/* Encodes a multiple-choice (or any) context/continuation pair the way
 * lm-eval does: trailing spaces of context move to the front of the
 * continuation; whole = ids(context + continuation) and ctx = ids(context)
 * (both with the tokenizer's BOS when it adds one, never EOS); the
 * continuation ids are whole[len(ctx):] when whole starts with ctx, else
 * the raw encoding of the continuation. *ctx_ids and *cont_ids are malloc'd.
 * ANC_ERR_INVALID when the context or continuation encodes to nothing. */
anc_status anc_ll_encode_pair(anc_tokenizer *tok, const char *context, const char *continuation, int32_t **ctx_ids,
                              size_t *n_ctx, int32_t **cont_ids, size_t *n_cont, anc_error *err);

/* Perplexity of texts[0..n) (each >= 2 tokens): *nll_sum (total negative
 * log-likelihood, nats), *n_scored (tokens scored) and *ppl =
 * exp(nll_sum / n_scored). */
anc_status anc_perplexity(const anc_model *m, const int32_t *const *texts, const size_t *lens, size_t n,
                          int64_t max_tokens, double *nll_sum, size_t *n_scored, double *ppl, anc_error *err);

#endif
