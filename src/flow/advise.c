/* The anchoring advisor (advise.h): the subset of prompts, the model's
 * answers, the comparison through anc_ab_run, the verdict and its records. */
#define _GNU_SOURCE /* asprintf, mkdtemp */
#include "flow/advise.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fileutil.h"
#include "core/paths.h"
#include "core/rng.h"
#include "core/strbuf.h"
#include "data/jsonl.h"
#include "eval/gen.h"
#include "eval/graders.h"
#include "jinja/chat_template.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

#define T anc_advise_opts
const anc_option anc_advise_option_table[] = {
    {"model", ANC_OPT_STR, ANC_ROLE_IN_DIR, ANC_OPT_REQUIRED, offsetof(T, model), NULL, "DIR",
     "the start model (Hugging Face folder) whose answers are compared with the chosen answers"},
    {"data", ANC_OPT_STR, ANC_ROLE_IN_FILE, ANC_OPT_REQUIRED, offsetof(T, data), NULL, "PAIRS",
     "preference rows (TRL: prompt/chosen/rejected as strings or message lists)"},
    {"samples", ANC_OPT_COUNT, 0, 0, offsetof(T, samples), "64", "N",
     "distinct prompts compared: a random subset, seed --sample-seed (default 64; 0 = all)"},
    {"sample-seed", ANC_OPT_INT, 0, 0, offsetof(T, sample_seed), NULL, "S", "seed of the subset of prompts (default 0)"},
    {"grader", ANC_OPT_STR, 0, 0, offsetof(T, grader), NULL, "G",
     "score both answers against the row's reference instead of judging: exact | regex | numeric | exec:CMD"},
    {"pattern", ANC_OPT_STR, 0, 0, offsetof(T, pattern), NULL, "RE", "regex grader: this pattern instead of each row's reference"},
    {"tolerance", ANC_OPT_FLOAT, 0, 0, offsetof(T, tolerance), "1e-6", "T", "numeric grader: |x - ref| <= T * max(1, |ref|) (default 1e-6)"},
    {"reference-field", ANC_OPT_STR, 0, 0, offsetof(T, reference_field), NULL, "KEY",
     "reference field of the rows (default \"reference\", else \"answer\")"},
    {"template", ANC_OPT_STR, ANC_ROLE_IN_FILE, 0, offsetof(T, template_path), NULL, "FILE",
     "judge prompt with {prompt}, {response_a}, {response_b} and a 'Verdict: A|B|tie' line (default: ab's)"},
    {"out", ANC_OPT_STR, ANC_ROLE_OUT, 0, offsetof(T, out), NULL, "FILE",
     "per-prompt records (JSONL: model and chosen answers, the outcome); the run store defaults to OUT.store.db"},
    {"summary", ANC_OPT_STR, ANC_ROLE_OUT, 0, offsetof(T, summary), NULL, "FILE", "the verdict and its evidence as JSON (as --json prints it)"},
    {"json", ANC_OPT_FLAG, 0, 0, offsetof(T, json), NULL, NULL, "print the verdict as JSON instead of a table"},
    {"resamples", ANC_OPT_COUNT, 0, 0, offsetof(T, resamples), "10000", "N", "bootstrap resamples (default 10000)"},
    {"bootstrap-seed", ANC_OPT_INT, 0, 0, offsetof(T, bootstrap_seed), NULL, "S", "bootstrap seed (default 0)"},
    {"max-new-tokens", ANC_OPT_COUNT, 0, 0, offsetof(T, max_new_tokens), "256", "N", "generation: tokens per answer at most (default 256)"},
    {"gen-temperature", ANC_OPT_FLOAT, 0, 0, offsetof(T, gen_temperature), NULL, "T", "generation: sampling temperature (default 0 = greedy)"},
    {"gen-seed", ANC_OPT_INT, 0, 0, offsetof(T, gen_seed), NULL, "S", "generation: random seed (default 0)"},
    {"parallel", ANC_OPT_COUNT, 0, 0, offsetof(T, parallel), "8", "N", "generation: sequences decoded together (default 8)"},
    {"bf16", ANC_OPT_FLAG, 0, 0, offsetof(T, bf16), NULL, NULL, "generation: matrix products in bf16 with fp32 accumulation"},
    {"model-chat-template", ANC_OPT_STR, ANC_ROLE_MAYBE_PATH, 0, offsetof(T, model_chat_template), NULL, "NAME|FILE",
     "generation: chat template for message prompts"},
    ANC_LLM_STEP_OPTIONS(T, "judge", 0, "0", "1024"),
    {0},
};
#undef T

void anc_advise_opts_init(anc_advise_opts *o) {
    memset(o, 0, sizeof *o);
    anc_error err;
    (void)anc_options_defaults(anc_advise_option_table, o, &err); /* the table's literals */
}

anc_status anc_advise_opts_check(const anc_advise_opts *o, const anc_store *store, anc_error *err) {
    if (!o->model || !o->data) return anc_error_set(err, ANC_ERR_INVALID, "--model DIR and --data PAIRS are required");
    if (!!o->llm.spec == !!o->grader)
        return anc_error_set(err, ANC_ERR_INVALID, "give exactly one of --judge SPEC and --grader G");
    if (o->llm.spec && !o->out && !o->llm.store && !store)
        return anc_error_set(err, ANC_ERR_INVALID, "--judge needs --out or --store (the run store that lets a run resume)");
    if (o->resamples < 1 || o->max_new_tokens < 1 || o->parallel < 1 || o->gen_temperature < 0 || o->tolerance < 0)
        return anc_error_set(err, ANC_ERR_INVALID,
                             "--resamples, --max-new-tokens and --parallel must be >= 1; --gen-temperature, --tolerance >= 0");
    return ANC_OK;
}

void anc_advise_result_free(anc_advise_result *r) {
    anc_ab_result_free(&r->ab);
    free(r->store_path);
    memset(r, 0, sizeof *r);
}

/* ---- the rows --------------------------------------------------------------- */

/* One distinct prompt of the data with its chosen answer. */
typedef struct adv_item {
    size_t row;          /* index in the rows */
    json_t *prompt;      /* owned reference */
    const char *chosen;  /* borrowed from the row */
    const json_t *ref;   /* borrowed; may be NULL */
    char *key;           /* the prompt as canonical JSON (malloc'd) */
} adv_item;

typedef struct adv_set {
    anc_rows rows;
    adv_item *items;     /* one per row, then only the subset (in row order) */
    size_t n;
    size_t prompts;      /* distinct prompts */
    char **answers;      /* the model's, [n] */
} adv_set;

static void adv_set_free(adv_set *s) {
    for (size_t i = 0; s->items && i < s->n; i++) {
        json_decref(s->items[i].prompt);
        free(s->items[i].key);
    }
    free(s->items);
    anc_eval_texts_free(s->answers, s->n);
    anc_rows_free(&s->rows);
    memset(s, 0, sizeof *s);
}

/* The answer text of a "chosen" value: a string, or the content of the last
 * message of a list. NULL when neither. */
static const char *answer_text(const json_t *v) {
    if (json_is_string(v)) return json_string_value(v);
    if (!json_is_array(v) || !json_array_size(v)) return NULL;
    return json_string_value(json_object_get(json_array_get(v, json_array_size(v) - 1), "content"));
}

/* The prompt of a row (new reference): "prompt", else, for a conversational
 * row, every message of "chosen" but the last. NULL when there is none. */
static json_t *row_prompt(const json_t *row) {
    const json_t *p = json_object_get(row, "prompt");
    if (json_is_string(p) || (json_is_array(p) && json_array_size(p))) return json_incref((json_t *)p);
    const json_t *c = json_object_get(row, "chosen");
    if (p || !json_is_array(c) || json_array_size(c) < 2) return NULL;
    json_t *msgs = json_array();
    for (size_t i = 0; msgs && i + 1 < json_array_size(c); i++) json_array_append(msgs, json_array_get(c, i));
    return msgs;
}

static const json_t *row_reference(const json_t *row, const char *field) {
    if (field) return json_object_get(row, field);
    const json_t *r = json_object_get(row, "reference");
    return r ? r : json_object_get(row, "answer");
}

/* Every row as an item with its prompt, chosen answer and key. */
static anc_status read_items(const anc_advise_opts *o, adv_set *s, anc_error *err) {
    if (anc_rows_load(&s->rows, o->data, err)) return err->code;
    s->items = calloc(s->rows.n + 1, sizeof *s->items);
    if (!s->items) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < s->rows.n; i++) {
        const json_t *row = s->rows.rows[i];
        adv_item *it = &s->items[s->n++];
        it->row = i;
        it->prompt = row_prompt(row);
        it->chosen = answer_text(json_object_get(row, "chosen"));
        it->ref = row_reference(row, o->reference_field);
        if (!it->prompt || !it->chosen)
            return anc_error_set(err, ANC_ERR_FORMAT,
                                 "%s:%zu: expected \"prompt\" (a string or a message list) and \"chosen\" (a string, or "
                                 "messages ending with the answer); the advisor needs the text of both",
                                 o->data, s->rows.lines[i]);
        if (!(it->key = json_dumps(it->prompt, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY)))
            return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    }
    return ANC_OK;
}

static int by_key(const void *a, const void *b) {
    const adv_item *x = *(const adv_item *const *)a, *y = *(const adv_item *const *)b;
    int c = strcmp(x->key, y->key);
    return c ? c : (x->row > y->row) - (x->row < y->row);
}

static int by_row(const void *a, const void *b) {
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x > y) - (x < y);
}

/* Keeps the first row of each distinct prompt, then a seeded random subset
 * of o->samples of them (all when 0 or fewer), in row order. */
static anc_status pick_subset(const anc_advise_opts *o, adv_set *s, anc_error *err) {
    adv_item **order = calloc(s->n + 1, sizeof *order);
    size_t *firsts = calloc(s->n + 1, sizeof *firsts);
    adv_item *kept = NULL;
    anc_status st = !order || !firsts ? anc_error_set(err, ANC_ERR_NOMEM, "out of memory") : ANC_OK;
    size_t nd = 0;
    if (!st) {
        for (size_t i = 0; i < s->n; i++) order[i] = &s->items[i];
        qsort(order, s->n, sizeof *order, by_key);
        for (size_t i = 0; i < s->n; i++)
            if (i == 0 || strcmp(order[i]->key, order[i - 1]->key)) firsts[nd++] = order[i]->row;
        qsort(firsts, nd, sizeof *firsts, by_row); /* row order, so the subset does not depend on the keys */
        anc_rng r;
        anc_rng_seed(&r, (uint64_t)o->sample_seed);
        anc_rng_shuffle(&r, firsts, nd);
        size_t k = o->samples > 0 && (size_t)o->samples < nd ? (size_t)o->samples : nd;
        qsort(firsts, k, sizeof *firsts, by_row);
        s->prompts = nd;
        if (!(kept = calloc(k + 1, sizeof *kept))) st = anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
        for (size_t j = 0; !st && j < k; j++) {
            kept[j] = s->items[firsts[j]]; /* items[i].row == i */
            s->items[firsts[j]].prompt = NULL;
            s->items[firsts[j]].key = NULL;
        }
        if (!st) {
            size_t old_n = s->n;
            for (size_t i = 0; i < old_n; i++) {
                json_decref(s->items[i].prompt);
                free(s->items[i].key);
            }
            free(s->items);
            s->items = kept;
            s->n = k;
            kept = NULL;
        }
    }
    free(kept);
    free(order);
    free(firsts);
    return st;
}

/* Each compared row has what the comparison needs: a user message for the
 * judge, a reference for a grader that scores against one. */
static anc_status check_items(const anc_advise_opts *o, const adv_set *s, anc_error *err) {
    anc_grader g = {0};
    if (o->grader && anc_grader_parse(o->grader, &g, err)) return err->code;
    int needs_ref = o->grader && !(g.kind == ANC_GRADER_EXEC || (g.kind == ANC_GRADER_REGEX && o->pattern));
    for (size_t i = 0; i < s->n; i++) {
        const adv_item *it = &s->items[i];
        size_t line = s->rows.lines[it->row];
        if (needs_ref && !it->ref)
            return anc_error_set(err, ANC_ERR_FORMAT, "%s:%zu: expected a reference field \"%s\" for --grader %s", o->data,
                                 line, o->reference_field ? o->reference_field : "reference", o->grader);
        char *text = o->llm.spec ? anc_prompt_text(it->prompt) : NULL;
        int ok = !o->llm.spec || text;
        free(text);
        if (!ok) return anc_error_set(err, ANC_ERR_FORMAT, "%s:%zu: the prompt has no user message for the judge", o->data, line);
    }
    return ANC_OK;
}

/* ---- the model's answers ---------------------------------------------------- */

/* The model's answer to every item's prompt, with the generation knobs of o. */
static anc_status generate_answers(const anc_advise_opts *o, adv_set *s, const anc_flow_hooks *hooks, anc_error *err) {
    const json_t **pv = calloc(s->n + 1, sizeof *pv);
    if (!pv) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < s->n; i++) pv[i] = s->items[i].prompt;
    anc_eval_gen_opts go;
    anc_eval_gen_opts_init(&go);
    go.max_new_tokens = (int)o->max_new_tokens;
    go.temperature = o->gen_temperature;
    go.seed = (uint64_t)o->gen_seed;
    go.parallel = (int)o->parallel;
    anc_status st = anc_ab_generate_dir(o->model, o->model_chat_template, pv, s->n, &go, o->bf16, hooks, &s->answers, err);
    free(pv);
    return st;
}

/* ---- the comparison through ab ---------------------------------------------- */

/* One response row for ab: the row's id (when it has one), the prompt, the
 * answer as "completion", and the reference on A's side. */
static json_t *ab_row(const adv_set *s, const adv_item *it, const char *answer, int with_ref) {
    json_t *o = json_object();
    const json_t *id = json_object_get(s->rows.rows[it->row], "id");
    if (json_is_string(id) || json_is_integer(id)) json_object_set(o, "id", (json_t *)id);
    json_object_set(o, "prompt", it->prompt);
    json_object_set_new(o, "completion", json_string(answer));
    if (with_ref && it->ref) json_object_set(o, "reference", (json_t *)it->ref);
    return o;
}

/* Writes the model's answers (A) and the chosen ones (B) into dir. */
static anc_status write_sides(const adv_set *s, const char *pa, const char *pb, anc_error *err) {
    anc_sbuf a = {0}, b = {0};
    for (size_t i = 0; i < s->n && !a.oom && !b.oom; i++) {
        (void)anc_jsonl_put(&a, ab_row(s, &s->items[i], s->answers[i], 1)); /* out of memory is sticky in oom */
        (void)anc_jsonl_put(&b, ab_row(s, &s->items[i], s->items[i].chosen, 0));
    }
    anc_status st = a.oom || b.oom ? anc_error_set(err, ANC_ERR_NOMEM, "out of memory")
                                   : anc_write_file_atomic(pa, anc_sbuf_str(&a), a.len, err);
    if (!st) st = anc_write_file_atomic(pb, anc_sbuf_str(&b), b.len, err);
    anc_sbuf_free(&a);
    anc_sbuf_free(&b);
    return st;
}

/* ab's record of a prompt with the advisor's names (model, chosen). */
static json_t *advise_record(const adv_set *s, const adv_item *it, const json_t *r) {
    static const char *const keep[] = {"outcome", "verdicts", "consistent", "error"};
    json_t *o = json_object();
    json_object_set_new(o, "line", json_integer((json_int_t)s->rows.lines[it->row]));
    const json_t *id = json_object_get(s->rows.rows[it->row], "id");
    if (id) json_object_set(o, "id", (json_t *)id);
    json_object_set(o, "prompt", it->prompt);
    json_object_set(o, "model", json_object_get(r, "response_a"));
    json_object_set(o, "chosen", json_object_get(r, "response_b"));
    for (size_t k = 0; k < sizeof keep / sizeof keep[0]; k++) {
        json_t *v = json_object_get(r, keep[k]);
        if (v) json_object_set(o, keep[k], v);
    }
    json_t *sa = json_object_get(r, "score_a"), *sb = json_object_get(r, "score_b");
    if (sa) json_object_set(o, "score_model", sa);
    if (sb) json_object_set(o, "score_chosen", sb);
    return o;
}

/* Rewrites ab's records (one per item, in item order) into o->out. */
static anc_status write_records(const anc_advise_opts *o, const adv_set *s, const char *ab_out, anc_error *err) {
    anc_rows recs = {0};
    if (anc_rows_load(&recs, ab_out, err)) return err->code;
    anc_status st = recs.n == s->n ? ANC_OK
                                   : anc_error_set(err, ANC_ERR_INTERNAL, "advise: %zu comparison records for %zu prompts",
                                                   recs.n, s->n);
    anc_sbuf b = {0};
    for (size_t i = 0; !st && i < s->n && !b.oom; i++) (void)anc_jsonl_put(&b, advise_record(s, &s->items[i], recs.rows[i]));
    if (!st) st = b.oom ? anc_error_set(err, ANC_ERR_NOMEM, "out of memory")
                        : anc_write_file_atomic(o->out, anc_sbuf_str(&b), b.len, err);
    anc_sbuf_free(&b);
    anc_rows_free(&recs);
    return st;
}

/* A private temporary folder (malloc'd path) for ab's input files. */
static anc_status make_tmpdir(char **dir, anc_error *err) {
    const char *base = getenv("TMPDIR");
    if (!base || !*base) base = "/tmp";
    if (asprintf(dir, "%s/anchor-advise-XXXXXX", base) < 0) {
        *dir = NULL;
        return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    }
    if (mkdtemp(*dir)) return ANC_OK;
    anc_status st = anc_error_set(err, ANC_ERR_IO, "%s: cannot create a temporary folder", *dir);
    free(*dir);
    *dir = NULL;
    return st;
}

/* Compares the answers with anc_ab_run (A = the model, B = chosen). */
static anc_status compare(const anc_advise_opts *o, anc_store *store, const adv_set *s, const anc_flow_hooks *hooks,
                          anc_advise_result *res, anc_error *err) {
    char *dir = NULL, *pa = NULL, *pb = NULL, *pr = NULL;
    anc_status st = make_tmpdir(&dir, err);
    if (!st && (!(pa = anc_path_join(dir, "model.jsonl")) || !(pb = anc_path_join(dir, "chosen.jsonl")) ||
                !(pr = anc_path_join(dir, "records.jsonl"))))
        st = anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    if (!st && o->llm.spec && !store) {
        res->store_path = o->llm.store ? strdup(o->llm.store) : NULL;
        if (!o->llm.store && asprintf(&res->store_path, "%s.store.db", o->out) < 0) res->store_path = NULL;
        if (!res->store_path) st = anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    }
    if (!st) st = write_sides(s, pa, pb, err);
    if (!st) {
        anc_ab_opts ab;
        anc_ab_opts_init(&ab);
        ab.a = pa, ab.b = pb, ab.out = pr;
        ab.grader = o->grader, ab.pattern = o->pattern, ab.tolerance = o->tolerance;
        ab.template_path = o->template_path;
        ab.resamples = o->resamples, ab.bootstrap_seed = o->bootstrap_seed;
        ab.llm = o->llm;
        ab.llm.store = res->store_path;
        st = anc_ab_run(&ab, store, hooks, &res->ab, err);
    }
    if (!st && o->out) st = write_records(o, s, pr, err);
    if (dir) {
        anc_error ignored;
        (void)anc_rmtree(dir, &ignored);
    }
    free(dir);
    free(pa);
    free(pb);
    free(pr);
    return st;
}

/* ---- the verdict ------------------------------------------------------------ */

static int excludes_half(double lo, double hi) { return hi < 0.5 || lo > 0.5; }

json_t *anc_advise_result_json(const anc_advise_result *r) {
    const anc_ab_result *a = &r->ab;
    json_t *j = json_pack("{s:s, s:f, s:[f,f], s:[f,f], s:I, s:b, s:s, s:s}", "recommendation",
                          r->recommendation ? r->recommendation : "", "win_rate", a->win_rate, "wilson", a->wilson_lo,
                          a->wilson_hi, "bootstrap", a->bootstrap_lo, a->bootstrap_hi, "n", (json_int_t)a->n,
                          "confident", r->confident, "rule", r->rule ? r->rule : ANC_ADVISE_RULE, "method",
                          a->graded ? "grader" : "judge");
    if (!j) return NULL;
    const char *by = a->graded ? a->grader : a->judge;
    json_object_set_new(j, a->graded ? "grader" : "judge", by ? json_string(by) : json_null());
    json_object_set_new(j, "wins", json_integer((json_int_t)a->wins));
    json_object_set_new(j, "ties", json_integer((json_int_t)a->ties));
    json_object_set_new(j, "losses", json_integer((json_int_t)a->losses));
    json_object_set_new(j, "failed", json_integer((json_int_t)a->failed));
    json_object_set_new(j, "sampled", json_integer((json_int_t)r->sampled));
    json_object_set_new(j, "prompts", json_integer((json_int_t)r->prompts));
    json_object_set_new(j, "rows", json_integer((json_int_t)r->rows));
    return j;
}

char *anc_advise_verdict_line(const anc_advise_result *r) {
    char *s = NULL;
    if (asprintf(&s, "%s (model vs chosen win rate %.2f [%.2f, %.2f], n=%zu; %s)",
                 r->recommendation ? r->recommendation : "?", r->ab.win_rate, r->ab.wilson_lo, r->ab.wilson_hi, r->ab.n,
                 r->confident ? "confident" : "weak evidence") < 0)
        s = NULL;
    return s;
}

static anc_status write_summary(const anc_advise_opts *o, const anc_advise_result *r, anc_error *err) {
    json_t *j = anc_advise_result_json(r);
    char *text = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
    json_decref(j);
    anc_sbuf b = {0};
    if (text) anc_sbuf_printf(&b, "%s\n", text);
    free(text);
    anc_status st = !text || b.oom ? anc_error_set(err, ANC_ERR_NOMEM, "out of memory")
                                   : anc_write_file_atomic(o->summary, anc_sbuf_str(&b), b.len, err);
    anc_sbuf_free(&b);
    return st;
}

anc_status anc_advise_run(const anc_advise_opts *o, anc_store *store, const anc_flow_hooks *hooks,
                          anc_advise_result *res, anc_error *err) {
    memset(res, 0, sizeof *res);
    res->rule = ANC_ADVISE_RULE;
    anc_status st = anc_advise_opts_check(o, store, err);
    if (st) return st;
    adv_set s;
    memset(&s, 0, sizeof s);
    st = read_items(o, &s, err);
    res->rows = s.rows.n;
    if (!st) st = pick_subset(o, &s, err);
    if (!st) st = check_items(o, &s, err);
    if (!st && !s.n) st = anc_error_set(err, ANC_ERR_FORMAT, "%s: no preference rows", o->data);
    res->prompts = s.prompts;
    res->sampled = s.n;
    if (!st)
        anc_flow_note(hooks, "comparing %s's answers with the chosen answers on %zu of %zu distinct prompts (%s %s)",
                      o->model, s.n, s.prompts, o->grader ? "grader" : "judge, both orders:",
                      o->grader ? o->grader : o->llm.spec);
    if (!st) st = generate_answers(o, &s, hooks, err);
    if (!st) st = compare(o, store, &s, hooks, res, err);
    adv_set_free(&s);
    if (st) return st;
    if (!res->ab.n)
        return anc_error_set(err, ANC_ERR_FORMAT,
                             "advise: no prompt got an outcome (%zu judge verdicts failed); rerun the same command to "
                             "retry them", res->ab.failed);
    res->recommendation = res->ab.win_rate > 0.5 ? "apo_down" : "apo_zero";
    res->confident = excludes_half(res->ab.wilson_lo, res->ab.wilson_hi) &&
                     excludes_half(res->ab.bootstrap_lo, res->ab.bootstrap_hi);
    if (o->summary) st = write_summary(o, res, err);
    return st;
}
