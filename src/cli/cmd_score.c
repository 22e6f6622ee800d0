/* anchor score: sequence log-probabilities of preference pairs, and with a
 * reference model the implicit rewards beta * (log pi - log pi_ref). */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/blas.h"
#include "data/jsonl.h"
#include "core/fileutil.h"
#include "data/dataset.h"
#include "data/pairs.h"
#include "model/lora.h"
#include "model/model.h"
#include "train/score.h"

static anc_status score_with(const char *dir, const char *adapter, const anc_pairset *ps, long batch_tokens, int bf16,
                             float *c, float *r, const char *label, double *secs, anc_error *err) {
    anc_model *m = NULL;
    anc_status st = anc_model_load_adapted(&m, dir, adapter, err);
    if (st) return st;
    if (bf16 && (st = anc_model_set_bf16(m, 1, err))) {
        anc_model_free(m);
        return st;
    }
    for (size_t i = 0; i < ps->n; i++) {
        const anc_pair *p = &ps->pairs[i];
        for (size_t k = 0; k < p->n_prompt + p->n_chosen + p->n_rejected; k++) {
            int32_t id = k < p->n_prompt ? p->prompt[k]
                       : k < p->n_prompt + p->n_chosen ? p->chosen[k - p->n_prompt]
                       : p->rejected[k - p->n_prompt - p->n_chosen];
            if (id >= m->cfg.vocab_size) {
                int vocab = m->cfg.vocab_size;
                anc_model_free(m);
                return anc_error_set(err, ANC_ERR_FORMAT, "line %zu: token id %d is outside %s's vocabulary of %d",
                                     p->line, id, dir, vocab);
            }
        }
    }
    anc_acts *a = anc_acts_create_forward_only();
    cli_progress prog;
    cli_progress_init(&prog, label, "pairs");
    double t0 = cli_now();
    st = anc_score_pairs(m, a, ps, batch_tokens, c, r, cli_progress_cb, &prog, err);
    *secs = cli_now() - t0;
    cli_progress_done(&prog);
    anc_acts_free(a);
    anc_model_free(m);
    return st;
}

int cmd_score(int argc, char **argv) {
    const char *model = NULL, *data = NULL, *ref = NULL, *out = NULL, *adapter = NULL;
    double beta = 0.1;
    long batch_tokens = 4096, max_length = 0;
    const char *chat_template = NULL;
    int bf16 = 0;
    cli_opt opts[] = {
        {"model", OPT_STR, &model, "DIR", "policy model (Hugging Face folder)"},
        {"adapter", OPT_STR, &adapter, "DIR", "PEFT LoRA adapter merged into --model (the reference stays as given)"},
        {"data", OPT_STR, &data, "FILE", "pairs (JSONL/JSON): TRL standard or conversational rows, implicit prompts, or pre-tokenised *_ids"},
        {"ref", OPT_STR, &ref, "DIR", "reference model: adds ref log-probs and rewards beta*(logp - ref_logp)"},
        {"beta", OPT_FLOAT, &beta, "B", "reward scale (default 0.1)"},
        {"out", OPT_STR, &out, "FILE", "write JSONL here (default: stdout)"},
        {"chat-template", OPT_STR, &chat_template, "NAME|FILE", "override the tokenizer's chat template for conversational rows"},
        {"max-length", OPT_COUNT, &max_length, "N", "truncate rows to N tokens (dropped rows are counted)"},
        {"batch-tokens", OPT_COUNT, &batch_tokens, "N", "tokens per micro-batch (default 4096; a pair is never split)"},
        {"bf16", OPT_FLAG, &bf16, NULL, "matrix products in bf16 with fp32 accumulation (as train --bf16)"},
        {0},
    };
    int rc = cli_parse(argc, argv, opts, "score", "--model DIR --data FILE [--ref DIR] [--beta 0.1] [--out FILE]",
                       "Prints one JSON line per pair: chosen_logp, rejected_logp (summed over response tokens),\n"
                       "chosen_tokens, rejected_tokens; with --ref also ref_chosen_logp, ref_rejected_logp,\n"
                       "reward_chosen and reward_rejected. A summary goes to stderr.", NULL, NULL);
    if (rc) return rc == 1 ? 0 : rc;
    if (!model || !data) return cli_usage_error("score", "--model DIR and --data FILE are required");

    anc_error err = {0};
    anc_rows rows;
    /* a pair is never split: longer than a micro-batch it cannot be scored */
    anc_dataset_opts dopt = {max_length, 0, ANC_TRUNC_KEEP_END, 0,
                             anc_dataset_byte_limit(max_length > 0 ? max_length : batch_tokens)};
    if (anc_rows_load_limited(&rows, data, anc_dataset_line_limit(&dopt), &err)) return cli_fail("score", &err);
    anc_pairset ps;
    memset(&ps, 0, sizeof ps);
    anc_tokenizer *tok = NULL;
    anc_template *tmpl = NULL;
    {
        char *tj = anc_path_join(model, "tokenizer.json");
        anc_status st = ANC_OK;
        if (tj && anc_path_exists(tj)) st = anc_tokenizer_load_dir(&tok, model, &err);
        free(tj);
        if (!st) st = anc_chat_template_resolve(tok, chat_template, &tmpl, &err);
        anc_dataset_stats dst;
        if (!st) st = anc_dataset_build(tok, tmpl, &rows, data, &dopt, 0, &ps, NULL, &dst, &err);
        if (!st && dst.dropped)
            fprintf(stderr, "anchor score: %zu of %zu rows dropped (longer than %s %ld tokens%s); first at line %zu\n",
                    dst.dropped, dst.rows, max_length > 0 ? "--max-length" : "--batch-tokens", max_length > 0 ? max_length : batch_tokens,
                    dst.dropped_bytes ? ", or so long in bytes that they cannot fit and were not tokenized" : "", dst.first_dropped_line);
        anc_tokenizer_free(tok);
        anc_template_free(tmpl);
        if (st) {
            anc_rows_free(&rows);
            return cli_fail("score", &err);
        }
    }
    size_t n = ps.n;
    float *c = calloc(n + 1, sizeof *c), *r = calloc(n + 1, sizeof *r);
    float *rc_ = calloc(n + 1, sizeof *rc_), *rr = calloc(n + 1, sizeof *rr);
    double secs = 0, ref_secs = 0;
    int code = 0;
    if (bf16) anc_blas_set_threads(1); /* one parallel runtime: see core/blas.h */
    if (score_with(model, adapter, &ps, batch_tokens, bf16, c, r, "score", &secs, &err) ||
        (ref && score_with(ref, NULL, &ps, batch_tokens, bf16, rc_, rr, "ref  ", &ref_secs, &err))) {
        code = cli_fail("score", &err);
        goto done;
    }
    FILE *f = out ? fopen(out, "w") : stdout;
    if (!f) {
        anc_error_set(&err, ANC_ERR_IO, "%s: cannot write", out);
        code = cli_fail("score", &err);
        goto done;
    }
    int64_t tokens = 0;
    double acc = 0, margin = 0;
    size_t row_at = 0;
    for (size_t i = 0; i < n; i++) {
        const anc_pair *p = &ps.pairs[i];
        tokens += anc_pair_tokens(p);
        json_t *o = json_object();
        while (row_at < rows.n && rows.lines[row_at] != p->line) row_at++;  /* dropped rows are skipped */
        json_t *id = row_at < rows.n ? json_object_get(rows.rows[row_at], "id") : NULL;
        if (id) json_object_set(o, "id", id);
        json_object_set_new(o, "chosen_logp", json_real(c[i]));
        json_object_set_new(o, "rejected_logp", json_real(r[i]));
        json_object_set_new(o, "chosen_tokens", json_integer((json_int_t)p->n_chosen));
        json_object_set_new(o, "rejected_tokens", json_integer((json_int_t)p->n_rejected));
        double m;
        if (ref) {
            double rwc = beta * ((double)c[i] - rc_[i]), rwr = beta * ((double)r[i] - rr[i]);
            json_object_set_new(o, "ref_chosen_logp", json_real(rc_[i]));
            json_object_set_new(o, "ref_rejected_logp", json_real(rr[i]));
            json_object_set_new(o, "reward_chosen", json_real(rwc));
            json_object_set_new(o, "reward_rejected", json_real(rwr));
            m = rwc - rwr;
        } else {
            m = (double)c[i] - r[i];
        }
        acc += m > 0;
        margin += m;
        char *line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9));
        fprintf(f, "%s\n", line);
        free(line);
        json_decref(o);
    }
    if (out && fclose(f) != 0) {
        anc_error_set(&err, ANC_ERR_IO, "%s: write failed", out);
        code = cli_fail("score", &err);
        goto done;
    }
    if (!out) fflush(stdout);
    fprintf(stderr, "anchor score: %zu pairs, %lld tokens; %s accuracy %.3f, mean %s %.4f; %.0f tokens/s%s\n", n,
            (long long)tokens, ref ? "reward" : "log-prob", n ? acc / n : 0.0, ref ? "reward margin" : "log-prob margin",
            n ? margin / n : 0.0, secs > 0 ? tokens / secs : 0.0, ref ? " (policy)" : "");
done:
    free(c); free(r); free(rc_); free(rr);
    anc_pairset_free(&ps);
    anc_rows_free(&rows);
    return code;
}
