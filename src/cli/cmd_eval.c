/* anchor eval: evaluates one model on a data file, by task (detected from
 * the first row unless --task says):
 *
 *   generate    rows {prompt, reference} (or {prompt, answer}): the model
 *               generates (greedy, --max-new-tokens) and a grader scores the
 *               response (eval/graders.h: exact after SQuAD normalisation,
 *               regex, numeric with tolerance, exec:CMD); reports the mean
 *               score and, for 0/1 scores, the 95% Wilson interval.
 *   mc          rows {question, choices: [...], answer: index} or the
 *               pre-tokenised {question_ids, choices_ids: [[...]], answer}:
 *               lm-evaluation-harness log-likelihood accuracy (eval/loglik.h):
 *               each choice is scored as the continuation " " + choice of the
 *               question; acc = argmax of the summed log-prob, acc_norm =
 *               argmax of log-prob / characters of the choice (tokens for
 *               pre-tokenised rows).
 *   perplexity  rows {text} or {text_ids}: exp(total NLL / tokens scored),
 *               every token after the first of each row scored (text rows
 *               start with the tokenizer's BOS when it adds one). */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/blas.h"
#include "flow/llm_step.h"
#include "core/fileutil.h"
#include "data/dataset.h"
#include "data/jsonl.h"
#include "eval/gen.h"
#include "eval/graders.h"
#include "eval/loglik.h"
#include "eval/stats.h"
#include "model/lora.h"


/* Appends line + '\n' to a growing buffer; returns 0 when out of memory. */
static int buf_line(char **buf, size_t *len, size_t *cap, json_t *o) {
    char *line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (!line) return 0;
    size_t n = strlen(line);
    if (*len + n + 2 > *cap) {
        size_t nc = *cap ? *cap : 4096;
        while (*len + n + 2 > nc) nc *= 2;
        char *nb = realloc(*buf, nc);
        if (!nb) {
            free(line);
            return 0;
        }
        *buf = nb;
        *cap = nc;
    }
    memcpy(*buf + *len, line, n);
    *len += n;
    (*buf)[(*len)++] = '\n';
    free(line);
    return 1;
}

static void add_acc(json_t *j, const char *name, double k, size_t n, int as_json, int binary) {
    double lo = 0, hi = 0;
    anc_error e = {0};
    double acc = n ? k / (double)n : 0;
    if (n && binary) anc_wilson_interval(k, n, ANC_Z95, &lo, &hi, &e);
    if (as_json) {
        json_object_set_new(j, name, json_real(acc));
        if (binary) {
            char key[64];
            snprintf(key, sizeof key, "%s_wilson_95", name);
            json_object_set_new(j, key, json_pack("[f,f]", lo, hi));
        }
    } else if (binary) {
        printf("  %-10s %.4f  (Wilson 95%% [%.4f, %.4f])\n", name, acc, lo, hi);
    } else {
        printf("  %-10s %.4f\n", name, acc);
    }
}

int cmd_eval(int argc, char **argv) {
    const char *adapter = NULL;
    const char *model = NULL, *data = NULL, *task = "auto", *grader_spec = "exact", *pattern = NULL, *out = NULL;
    const char *chat_template = NULL;
    double tolerance = 1e-6;
    long max_new = 256, parallel = 8, batch_tokens = 4096;
    int as_json = 0, bf16 = 0;
    cli_opt opts[] = {
        {"model", OPT_STR, &model, "DIR", "model folder (weights; a tokenizer for text rows)"},
        {"data", OPT_STR, &data, "FILE", "JSONL rows: {prompt, reference|answer}, {question, choices, answer} or {text}"},
        {"task", OPT_STR, &task, "T", "auto (default: from the first row) | generate | mc | perplexity"},
        {"grader", OPT_STR, &grader_spec, "G", "generate: exact (default, SQuAD normalisation) | regex | numeric | exec:CMD"},
        {"pattern", OPT_STR, &pattern, "RE", "regex grader: this pattern instead of each row's reference"},
        {"tolerance", OPT_FLOAT, &tolerance, "T", "numeric grader: |x - ref| <= T * max(1, |ref|) (default 1e-6)"},
        {"max-new-tokens", OPT_COUNT, &max_new, "N", "generate: tokens per response at most (default 256; greedy)"},
        {"parallel", OPT_COUNT, &parallel, "N", "generate: sequences decoded together (default 8)"},
        {"chat-template", OPT_STR, &chat_template, "NAME|FILE", "generate: chat template for message prompts"},
        {"batch-tokens", OPT_COUNT, &batch_tokens, "N", "mc/perplexity: tokens per forward batch (default 4096)"},
        {"out", OPT_STR, &out, "FILE", "per-row records (JSONL)"},
        {"json", OPT_FLAG, &as_json, NULL, "print the results as JSON instead of a table"},
        {"bf16", OPT_FLAG, &bf16, NULL, "matrix products in bf16 with fp32 accumulation (as train --bf16)"},
        {"adapter", OPT_STR, &adapter, "DIR", "PEFT LoRA adapter merged into --model before evaluating"},
        {0},
    };
    int rc = cli_parse(argc, argv, opts, "eval", "--model DIR --data FILE [options]",
                       "Evaluates a model: graded generation (exact/regex/numeric/exec), multiple-choice\n"
                       "accuracy by log-likelihood (acc, acc_norm as lm-evaluation-harness), or perplexity.",
                       NULL, NULL);
    if (rc) return rc == 1 ? 0 : rc;
    if (!model || !data) return cli_usage_error("eval", "--model and --data are required");
    if (max_new < 1 || parallel < 1 || tolerance < 0) return cli_usage_error("eval", "--max-new-tokens, --parallel must be >= 1, --tolerance >= 0");

    anc_error err = {0};
    anc_model *m = NULL;
    anc_tokenizer *tok = NULL;
    anc_template *tmpl = NULL;
    anc_rows rows = {0};
    int code = 0;
    char *obuf = NULL;
    size_t olen = 0, ocap = 0;
    json_t *res = json_object();
    if (bf16) anc_blas_set_threads(1); /* one parallel runtime: see core/blas.h */
    if (anc_model_load_adapted(&m, model, adapter, &err) || (bf16 && anc_model_set_bf16(m, 1, &err))) {
        code = cli_fail("eval", &err);
        goto done;
    }
    {
        /* a row longer than the model's context (or a forward batch) cannot
         * be evaluated: lines too long for that are dropped unparsed, counted */
        int64_t limit = batch_tokens > m->cfg.max_position_embeddings ? batch_tokens : m->cfg.max_position_embeddings;
        anc_dataset_opts lo = {0};
        lo.max_row_bytes = anc_dataset_byte_limit(limit);
        if (anc_rows_load_limited(&rows, data, anc_dataset_line_limit(&lo), &err)) {
            code = cli_fail("eval", &err);
            goto done;
        }
        if (rows.n_too_long) {
            fprintf(stderr, "anchor eval: %zu rows dropped, not evaluated: too long for %lld tokens; first at line %zu\n",
                    rows.n_too_long, (long long)limit, rows.first_too_long_line);
            json_object_set_new(res, "dropped", json_integer((json_int_t)rows.n_too_long));
        }
    }
    if (!rows.n) {
        anc_error_set(&err, ANC_ERR_FORMAT, "%s: no rows", data);
        code = cli_fail("eval", &err);
        goto done;
    }
    const json_t *r0 = rows.rows[0];
    if (!strcmp(task, "auto"))
        task = json_object_get(r0, "choices") || json_object_get(r0, "choices_ids") ? "mc"
               : json_object_get(r0, "text") || json_object_get(r0, "text_ids")     ? "perplexity"
                                                                                     : "generate";
    if (strcmp(task, "mc") && strcmp(task, "perplexity") && strcmp(task, "generate")) {
        code = cli_usage_error("eval", "--task '%s': expected auto, generate, mc or perplexity", task);
        goto done;
    }
    int needs_tok = !strcmp(task, "generate");
    for (size_t i = 0; i < rows.n && !needs_tok; i++)
        needs_tok = json_object_get(rows.rows[i], "question") || json_object_get(rows.rows[i], "text");
    if (needs_tok && (anc_tokenizer_load_dir(&tok, model, &err) || anc_chat_template_resolve(tok, chat_template, &tmpl, &err))) {
        code = cli_fail("eval", &err);
        goto done;
    }
    json_object_set_new(res, "task", json_string(task));
    json_object_set_new(res, "n", json_integer((json_int_t)rows.n));
    if (!as_json) printf("eval %s: %s on %s (%zu rows)\n", task, model, data, rows.n);

    if (!strcmp(task, "generate")) {
        anc_grader g;
        if (anc_grader_parse(grader_spec, &g, &err)) {
            code = cli_fail("eval", &err);
            goto done;
        }
        g.pattern = pattern;
        g.tolerance = tolerance;
        const json_t **pv = calloc(rows.n, sizeof *pv);
        if (!pv) {
            anc_error_set(&err, ANC_ERR_NOMEM, "out of memory");
            code = cli_fail("eval", &err);
            goto done;
        }
        for (size_t i = 0; i < rows.n; i++) {
            const json_t *row = rows.rows[i];
            pv[i] = json_object_get(row, "prompt");
            if (!pv[i]) pv[i] = json_object_get(row, "messages");
            const json_t *ref = json_object_get(row, "reference");
            if (!ref) ref = json_object_get(row, "answer");
            if (!pv[i] || (!ref && g.kind != ANC_GRADER_EXEC && !(g.kind == ANC_GRADER_REGEX && pattern))) {
                free(pv);
                anc_error_set(&err, ANC_ERR_FORMAT, "%s:%zu: expected \"prompt\" (or \"messages\") and \"reference\" (or \"answer\")", data, rows.lines[i]);
                code = cli_fail("eval", &err);
                goto done;
            }
        }
        anc_eval_gen_opts go;
        anc_eval_gen_opts_init(&go);
        go.max_new_tokens = (int)max_new;
        go.parallel = (int)parallel;
        char **texts = NULL;
        cli_progress prog;
        cli_progress_init(&prog, "eval", "responses");
        anc_status st = anc_eval_generate(m, tok, tmpl, model, pv, rows.n, &go, &texts, cli_progress_cb, &prog, &err);
        cli_progress_done(&prog);
        free(pv);
        if (st) {
            code = cli_fail("eval", &err);
            goto done;
        }
        double sum = 0;
        int binary = 1;
        for (size_t i = 0; i < rows.n && !st; i++) {
            const json_t *row = rows.rows[i];
            const json_t *ref = json_object_get(row, "reference");
            if (!ref) ref = json_object_get(row, "answer");
            const json_t *p = json_object_get(row, "prompt");
            char *ptext = anc_prompt_text(p ? p : json_object_get(row, "messages"));
            double s = 0;
            st = anc_grade(&g, ptext, texts[i], ref, &s, &err);
            free(ptext);
            if (st) {
                anc_error_prefix(&err, "%s:%zu", data, rows.lines[i]);
                break;
            }
            sum += s;
            binary &= s == 0.0 || s == 1.0;
            if (out && !buf_line(&obuf, &olen, &ocap, json_pack("{s:I, s:s, s:O?, s:f}", "row", (json_int_t)i, "response", texts[i],
                                                                 "reference", (json_t *)ref, "score", s)))
                st = anc_error_set(&err, ANC_ERR_NOMEM, "out of memory");
        }
        anc_eval_texts_free(texts, rows.n);
        if (st) {
            code = cli_fail("eval", &err);
            goto done;
        }
        json_object_set_new(res, "grader", json_string(anc_grader_name(g.kind)));
        if (!as_json) printf("  grader     %s\n", anc_grader_name(g.kind));
        add_acc(res, "score", sum, rows.n, as_json, binary);
    } else if (!strcmp(task, "mc")) {
        size_t n_req = 0, cap = 0;
        anc_ll_request *reqs = NULL;
        int32_t **owned = NULL;
        size_t n_owned = 0;
        double *norm = NULL;
        size_t *first = calloc(rows.n + 1, sizeof *first);
        long *answer = calloc(rows.n + 1, sizeof *answer);
        anc_status st = first && answer ? ANC_OK : anc_error_set(&err, ANC_ERR_NOMEM, "out of memory");
        for (size_t i = 0; i < rows.n && !st; i++) {
            const json_t *row = rows.rows[i];
            const json_t *q = json_object_get(row, "question"), *ch = json_object_get(row, "choices");
            const json_t *ans = json_object_get(row, "answer");
            int ids_form = !q;
            if (ids_form) ch = json_object_get(row, "choices_ids");
            size_t nc = json_array_size(ch);
            first[i] = n_req;
            if ((!ids_form && !json_is_string(q)) || nc < 2 || !json_is_integer(ans) || json_integer_value(ans) < 0 ||
                (size_t)json_integer_value(ans) >= nc) {
                st = anc_error_set(&err, ANC_ERR_FORMAT, "%s:%zu: expected {question, choices: [2+ strings], answer: index} "
                                   "or {question_ids, choices_ids: [2+ id lists], answer: index}", data, rows.lines[i]);
                break;
            }
            answer[i] = (long)json_integer_value(ans);
            if (n_req + nc > cap) {
                cap = (n_req + nc) * 2;
                anc_ll_request *nr = realloc(reqs, cap * sizeof *reqs);
                double *nn = realloc(norm, cap * sizeof *norm);
                int32_t **no = realloc(owned, 2 * cap * sizeof *owned);
                if (nr) reqs = nr;
                if (nn) norm = nn;
                if (no) owned = no;
                if (!nr || !nn || !no) {
                    st = anc_error_set(&err, ANC_ERR_NOMEM, "out of memory");
                    break;
                }
            }
            int32_t *qids = NULL;
            size_t nq = 0;
            if (ids_form) {
                st = anc_row_ids(row, "question_ids", 0, m->cfg.vocab_size, &qids, &nq, data, rows.lines[i], &err);
                if (!st) owned[n_owned++] = qids;
                if (!st && !nq) st = anc_error_set(&err, ANC_ERR_FORMAT, "%s:%zu: question_ids is empty", data, rows.lines[i]);
            }
            for (size_t c = 0; c < nc && !st; c++) {
                anc_ll_request *r = &reqs[n_req];
                int32_t *cids = NULL;
                size_t ncid = 0;
                if (ids_form) {
                    json_t *tmp = json_pack("{s:O}", "ids", json_array_get(ch, c));
                    st = anc_row_ids(tmp, "ids", 0, m->cfg.vocab_size, &cids, &ncid, data, rows.lines[i], &err);
                    json_decref(tmp);
                    if (!st) owned[n_owned++] = cids;
                    if (!st && !ncid) st = anc_error_set(&err, ANC_ERR_FORMAT, "%s:%zu: choice %zu is empty", data, rows.lines[i], c);
                    *r = (anc_ll_request){qids, nq, cids, ncid};
                    norm[n_req] = (double)ncid;
                } else {
                    const char *cs = json_string_value(json_array_get(ch, c));
                    if (!cs) {
                        st = anc_error_set(&err, ANC_ERR_FORMAT, "%s:%zu: choice %zu is not a string", data, rows.lines[i], c);
                        break;
                    }
                    size_t lc = strlen(cs);
                    char *cont = malloc(lc + 2);
                    if (!cont) {
                        st = anc_error_set(&err, ANC_ERR_NOMEM, "out of memory");
                        break;
                    }
                    cont[0] = ' ';
                    memcpy(cont + 1, cs, lc + 1);
                    int32_t *ctx = NULL;
                    size_t nctx = 0;
                    st = anc_ll_encode_pair(tok, json_string_value(q), cont, &ctx, &nctx, &cids, &ncid, &err);
                    free(cont);
                    if (st) {
                        anc_error_prefix(&err, "%s:%zu: choice %zu", data, rows.lines[i], c);
                        break;
                    }
                    owned[n_owned++] = ctx;
                    owned[n_owned++] = cids;
                    *r = (anc_ll_request){ctx, nctx, cids, ncid};
                    norm[n_req] = (double)anc_utf8_chars(cs);
                }
                n_req++;
            }
        }
        first[rows.n] = n_req;
        double *ll = calloc(n_req + 1, sizeof *ll);
        if (!st && !ll) st = anc_error_set(&err, ANC_ERR_NOMEM, "out of memory");
        cli_progress prog;
        cli_progress_init(&prog, "eval", "choices");
        if (!st) st = anc_loglik(m, reqs, n_req, batch_tokens, ll, cli_progress_cb, &prog, &err);
        cli_progress_done(&prog);
        size_t acc = 0, acc_norm = 0;
        for (size_t i = 0; i < rows.n && !st; i++) {
            size_t nc = first[i + 1] - first[i];
            size_t p = anc_mc_argmax(ll + first[i], NULL, nc), pn = anc_mc_argmax(ll + first[i], norm + first[i], nc);
            acc += p == (size_t)answer[i];
            acc_norm += pn == (size_t)answer[i];
            if (out) {
                json_t *lls = json_array();
                for (size_t c = 0; c < nc; c++) json_array_append_new(lls, json_real(ll[first[i] + c]));
                if (!buf_line(&obuf, &olen, &ocap, json_pack("{s:I, s:I, s:I, s:I, s:o}", "row", (json_int_t)i, "answer",
                                                             (json_int_t)answer[i], "pred", (json_int_t)p, "pred_norm",
                                                             (json_int_t)pn, "loglik", lls)))
                    st = anc_error_set(&err, ANC_ERR_NOMEM, "out of memory");
            }
        }
        for (size_t k = 0; k < n_owned; k++) free(owned[k]);
        free(owned);
        free(reqs);
        free(norm);
        free(first);
        free(answer);
        free(ll);
        if (st) {
            code = cli_fail("eval", &err);
            goto done;
        }
        add_acc(res, "acc", (double)acc, rows.n, as_json, 1);
        add_acc(res, "acc_norm", (double)acc_norm, rows.n, as_json, 1);
    } else {
        int32_t **ids = calloc(rows.n, sizeof *ids);
        size_t *lens = calloc(rows.n, sizeof *lens);
        anc_status st = ids && lens ? ANC_OK : anc_error_set(&err, ANC_ERR_NOMEM, "out of memory");
        for (size_t i = 0; i < rows.n && !st; i++) {
            const json_t *row = rows.rows[i], *t = json_object_get(row, "text");
            if (json_is_string(t)) {
                if ((st = anc_prompt_ids(tok, NULL, t, &ids[i], &lens[i], &err))) anc_error_prefix(&err, "%s:%zu", data, rows.lines[i]);
            } else if (json_object_get(row, "text_ids")) {
                st = anc_row_ids(row, "text_ids", 0, m->cfg.vocab_size, &ids[i], &lens[i], data, rows.lines[i], &err);
            } else {
                st = anc_error_set(&err, ANC_ERR_FORMAT, "%s:%zu: expected a string \"text\" or \"text_ids\"", data, rows.lines[i]);
            }
            if (!st && lens[i] < 2) st = anc_error_set(&err, ANC_ERR_FORMAT, "%s:%zu: expected at least 2 tokens, got %zu", data, rows.lines[i], lens[i]);
        }
        double nll = 0, ppl = 0;
        size_t ntok = 0;
        if (!st) st = anc_perplexity(m, (const int32_t *const *)ids, lens, rows.n, batch_tokens, &nll, &ntok, &ppl, &err);
        for (size_t i = 0; ids && i < rows.n; i++) free(ids[i]);
        free(ids);
        free(lens);
        if (st) {
            code = cli_fail("eval", &err);
            goto done;
        }
        if (as_json) {
            json_object_set_new(res, "tokens_scored", json_integer((json_int_t)ntok));
            json_object_set_new(res, "nll_sum", json_real(nll));
            json_object_set_new(res, "mean_nll", json_real(nll / (double)ntok));
            json_object_set_new(res, "perplexity", json_real(ppl));
        } else {
            printf("  %-10s %zu\n  %-10s %.6f\n  %-10s %.6f\n", "tokens", ntok, "mean NLL", nll / (double)ntok, "perplexity", ppl);
        }
    }
    if (out && anc_write_file_atomic(out, obuf ? obuf : "", olen, &err)) {
        code = cli_fail("eval", &err);
        goto done;
    }
    if (as_json) {
        char *s = json_dumps(res, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        printf("%s\n", s);
        free(s);
    }
done:
    free(obuf);
    json_decref(res);
    anc_rows_free(&rows);
    anc_template_free(tmpl);
    anc_tokenizer_free(tok);
    anc_model_free(m);
    return code;
}
