/* eval, the ifeval task: IFEval's verifiable instructions (eval/ifeval.h)
 * checked on given responses or on the model's own greedy answers. */
#include <stdlib.h>
#include <string.h>

#include "core/fileutil.h"
#include "eval/gen.h"
#include "eval/ifeval.h"
#include "flow/eval_internal.h"
#include "model/lora.h"

/* What is scored: response i answers input row in_row[i]. */
typedef struct ifeval_work {
    anc_rows input;
    anc_rows given;          /* the --responses rows (empty when generating) */
    size_t n;
    size_t *in_row;
    const char **text;       /* borrowed from given, or generated */
    char **generated;        /* owned when generating */
    const json_t **key;      /* the response row's "key" (NULL: none) */
} ifeval_work;

static void work_free(ifeval_work *w) {
    anc_eval_texts_free(w->generated, w->generated ? w->n : 0);
    free(w->in_row);
    free(w->text);
    free(w->key);
    anc_rows_free(&w->given);
    anc_rows_free(&w->input);
}

static anc_status alloc_work(ifeval_work *w, size_t n, anc_error *err) {
    w->n = n;
    w->in_row = calloc(n ? n : 1, sizeof *w->in_row);
    w->text = calloc(n ? n : 1, sizeof *w->text);
    w->key = calloc(n ? n : 1, sizeof *w->key);
    return w->in_row && w->text && w->key ? ANC_OK : anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
}

/* The input row whose prompt is p (the official evaluator finds the
 * response of a prompt by its text); -1 when none. */
static long find_prompt(const anc_rows *in, const char *p) {
    for (size_t i = 0; i < in->n; i++) {
        const char *q = json_string_value(json_object_get(in->rows[i], "prompt"));
        if (q && !strcmp(q, p)) return (long)i;
    }
    return -1;
}

static anc_status match_responses(const anc_eval_opts *o, ifeval_work *w, anc_error *err) {
    if (anc_rows_load(&w->given, o->responses, err)) return err->code;
    if (alloc_work(w, w->given.n, err)) return err->code;
    for (size_t i = 0; i < w->given.n; i++) {
        const json_t *r = w->given.rows[i];
        const char *p = json_string_value(json_object_get(r, "prompt"));
        const char *t = json_string_value(json_object_get(r, "response"));
        if (!p || !t)
            return anc_error_set(err, ANC_ERR_FORMAT, "%s:%zu: expected \"prompt\" and \"response\" (strings)",
                                 o->responses, w->given.lines[i]);
        long k = find_prompt(&w->input, p);
        if (k < 0)
            return anc_error_set(err, ANC_ERR_FORMAT, "%s:%zu: this prompt is not one of %s", o->responses,
                                 w->given.lines[i], o->input);
        w->in_row[i] = (size_t)k;
        w->text[i] = t;
        w->key[i] = json_object_get(r, "key");
    }
    return ANC_OK;
}

/* The model answers every input prompt, as one user message through its
 * chat template, greedily. */
static anc_status generate_responses(eval_env *e, ifeval_work *w, anc_error *err) {
    const anc_eval_opts *o = e->o;
    if (anc_model_load_adapted(&e->m, o->model, o->adapter, err) || (o->bf16 && anc_model_set_bf16(e->m, 1, err)) ||
        eval_load_tokenizer(e, err) || alloc_work(w, w->input.n, err))
        return err->code;
    json_t **msgs = calloc(w->n ? w->n : 1, sizeof *msgs);
    if (!msgs) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    anc_status st = ANC_OK;
    for (size_t i = 0; i < w->n && !st; i++) {
        w->in_row[i] = i;
        w->key[i] = json_object_get(w->input.rows[i], "key");
        const char *p = json_string_value(json_object_get(w->input.rows[i], "prompt"));
        msgs[i] = p ? json_pack("[{s:s, s:s}]", "role", "user", "content", p) : NULL;
        if (!msgs[i])
            st = anc_error_set(err, p ? ANC_ERR_NOMEM : ANC_ERR_FORMAT, "%s:%zu: expected a \"prompt\" string", o->input,
                               w->input.lines[i]);
    }
    if (!st) {
        anc_eval_gen_opts go;
        anc_eval_gen_opts_init(&go);
        go.max_new_tokens = (int)o->max_new_tokens;
        go.parallel = (int)o->parallel;
        anc_flow_progress p0 = {"responses", 0, 0, w->n, 0};
        anc_flow_progress_report(e->hooks, &p0);
        eval_progress prog = {e->hooks, "responses"};
        st = anc_eval_generate(e->m, e->tok, e->tmpl, o->model, (const json_t *const *)msgs, w->n, &go, &w->generated,
                               eval_progress_cb, &prog, err);
    }
    for (size_t i = 0; i < w->n; i++) json_decref(msgs[i]);
    free(msgs);
    for (size_t i = 0; !st && i < w->n; i++) w->text[i] = w->generated[i];
    return st;
}

static struct anc_eval_ifeval_type *type_slot(anc_eval_result *res, const char *id) {
    const anc_ifeval_kind *k = anc_ifeval_find(id);
    if (!k) return NULL;
    for (size_t i = 0; i < res->n_types; i++)
        if (res->types[i].id == k->id) return &res->types[i];
    if (res->n_types == sizeof res->types / sizeof *res->types) return NULL;
    res->types[res->n_types].id = k->id;
    return &res->types[res->n_types++];
}

static json_t *bools(const int *v, size_t n) {
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(a, json_boolean(v[i]));
    return a;
}

/* Scores response i: counts, per-type counts and its record. */
static anc_status score_one(eval_env *e, const ifeval_work *w, size_t i, size_t counts[4], anc_eval_result *res,
                            anc_error *err) {
    const json_t *in = w->input.rows[w->in_row[i]];
    int *s = NULL, *l = NULL;
    size_t m = 0;
    if (anc_ifeval_score(in, w->text[i], &s, &l, &m, err))
        return anc_error_prefix(err, "%s:%zu", e->o->input, w->input.lines[w->in_row[i]]);
    int all_s = 1, all_l = 1;
    const json_t *ids = json_object_get(in, "instruction_id_list");
    for (size_t k = 0; k < m; k++) {
        all_s &= s[k];
        all_l &= l[k];
        counts[1] += (size_t)s[k];
        counts[3] += (size_t)l[k];
        struct anc_eval_ifeval_type *t = type_slot(res, json_string_value(json_array_get(ids, k)));
        if (t) {
            t->n++;
            t->strict += (size_t)s[k];
            t->loose += (size_t)l[k];
        }
    }
    counts[0] += (size_t)all_s;
    counts[2] += (size_t)all_l;
    res->instructions += m;
    anc_status st = ANC_OK;
    if (e->o->out) {
        json_t *rec = json_object();
        if (w->key[i]) json_object_set(rec, "key", (json_t *)w->key[i]);
        json_object_set(rec, "prompt", json_object_get(in, "prompt"));
        json_object_set(rec, "instruction_id_list", (json_t *)ids);
        json_object_set_new(rec, "strict", bools(s, m));
        json_object_set_new(rec, "loose", bools(l, m));
        st = eval_record(e, rec, err);
    }
    free(s);
    free(l);
    return st;
}

anc_status eval_ifeval(eval_env *e, anc_eval_result *res, anc_error *err) {
    const anc_eval_opts *o = e->o;
    ifeval_work w;
    memset(&w, 0, sizeof w);
    anc_status st = anc_rows_load(&w.input, o->input, err);
    if (!st && !w.input.n) st = anc_error_set(err, ANC_ERR_FORMAT, "%s: no rows", o->input);
    if (!st) st = o->responses ? match_responses(o, &w, err) : generate_responses(e, &w, err);
    if (!st) {
        res->task = "ifeval";
        res->n = w.n;
        size_t counts[4] = {0};
        for (size_t i = 0; i < w.n && !st; i++) st = score_one(e, &w, i, counts, res, err);
        if (!st) {
            eval_metric(&res->metrics[0], "prompt_strict", (double)counts[0], w.n, 1);
            eval_metric(&res->metrics[1], "instruction_strict", (double)counts[1], res->instructions, 1);
            eval_metric(&res->metrics[2], "prompt_loose", (double)counts[2], w.n, 1);
            eval_metric(&res->metrics[3], "instruction_loose", (double)counts[3], res->instructions, 1);
            res->n_metrics = 4;
            res->scored = 1;
        }
    }
    if (!st && o->out) st = anc_write_file_atomic(o->out, anc_sbuf_str(&e->out), e->out.len, err);
    work_free(&w);
    anc_sbuf_free(&e->out);
    anc_template_free(e->tmpl);
    anc_tokenizer_free(e->tok);
    anc_model_free(e->m);
    return st;
}
