/* ab leaderboard (--system NAME=FILE, flow/ab.h): the systems' rows, the
 * union of their prompts, the pairs compared on each prompt (judged as the
 * two-system ab does, through ab_judge, or graded once per response), and
 * the per-comparison records. */
#include <stdlib.h>
#include <string.h>

#include "core/fileutil.h"
#include "core/rng.h"
#include "core/strbuf.h"
#include "flow/ab_internal.h"

anc_status ab_lb_check_systems(const anc_ab_opts *o, const anc_store *store, anc_error *err) {
    if (o->a || o->b || o->model_a || o->model_b)
        return anc_error_set(err, ANC_ERR_INVALID, "--system excludes --a, --b, --model-a and --model-b");
    if (o->systems.n < 2) return anc_error_set(err, ANC_ERR_INVALID, "--system needs at least two systems (NAME=FILE)");
    for (int i = 0; i < o->systems.n; i++) {
        const char *v = o->systems.v[i], *eq = strchr(v, '=');
        if (!eq || eq == v || !eq[1])
            return anc_error_set(err, ANC_ERR_INVALID, "--system expects NAME=FILE, NAME=DIR or NAME=SPEC, got '%s'", v);
        if (ab_system_kind(eq + 1) != AB_SYS_FILE && !o->prompts)
            return anc_error_set(err, ANC_ERR_INVALID, "--system %s: a model or backend system needs --prompts FILE", v);
        if (ab_system_kind(eq + 1) == AB_SYS_BACKEND && !o->out && !o->llm.store && !store)
            return anc_error_set(err, ANC_ERR_INVALID,
                                 "--system %s: a backend system needs --out or --store (the run store that keeps its answers)",
                                 v);
        for (int j = 0; j < i; j++) {
            const char *w = o->systems.v[j];
            if (strcspn(w, "=") == (size_t)(eq - v) && !strncmp(w, v, (size_t)(eq - v)))
                return anc_error_set(err, ANC_ERR_INVALID, "--system: the name '%.*s' is given twice", (int)(eq - v), v);
        }
    }
    return ANC_OK;
}

static void lb_free(ab_lb *lb) {
    for (size_t p = 0; p < lb->np; p++) {
        free(lb->prompts[p].key);
        free(lb->prompts[p].resp);
        free(lb->prompts[p].score);
    }
    free(lb->prompts);
    for (size_t s = 0; lb->names && s < lb->ns; s++) free(lb->names[s]);
    for (size_t s = 0; lb->rows && s < lb->ns; s++) anc_rows_free(&lb->rows[s]);
    free(lb->names);
    free(lb->files);
    free(lb->rows);
    anc_rows_free(&lb->rp);
    ab_set_free(&lb->cmp);
    free(lb->cmp_prompt);
    free(lb->cmp_sys);
    memset(lb, 0, sizeof *lb);
}

/* The prompt with key k, added (with room for every system) if new; NULL
 * when out of memory. Linear search: a leaderboard has few prompts. */
static ab_lb_prompt *lb_prompt(ab_lb *lb, const char *k, size_t *cap) {
    for (size_t p = lb->np; p-- > 0;)
        if (!strcmp(lb->prompts[p].key, k)) return &lb->prompts[p];
    if (lb->np == *cap) {
        size_t nc = *cap ? 2 * *cap : 64;
        ab_lb_prompt *np = realloc(lb->prompts, nc * sizeof *np);
        if (!np) return NULL;
        lb->prompts = np;
        *cap = nc;
    }
    ab_lb_prompt *q = &lb->prompts[lb->np];
    memset(q, 0, sizeof *q);
    q->key = strdup(k);
    q->resp = calloc(lb->ns, sizeof *q->resp);
    q->score = calloc(lb->ns, sizeof *q->score);
    lb->np++;
    return q->key && q->resp && q->score ? q : NULL;
}

/* Adds the rows of system s to the prompts; the k-th row with a key pairs
 * with the k-th row with that key in the other files. */
static anc_status lb_add_rows(const anc_ab_opts *o, ab_lb *lb, size_t s, size_t *cap, anc_error *err) {
    const anc_rows *r = &lb->rows[s];
    char (*keys)[96] = calloc(r->n + 1, sizeof *keys);
    if (!keys) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    anc_status st = ANC_OK;
    for (size_t i = 0; i < r->n && !st; i++) {
        const json_t *row = r->rows[i];
        const char *resp = json_string_value(json_object_get(row, o->response_field));
        if (!ab_row_prompt(row) || !resp) {
            st = anc_error_set(err, ANC_ERR_FORMAT, "%s:%zu: expected \"prompt\" (or \"messages\") and a string \"%s\"",
                               lb->files[s], r->lines[i], o->response_field);
            break;
        }
        char k[128];
        ab_item_key(row, keys[i], sizeof keys[i]);
        size_t occ = 0;
        for (size_t j = 0; j < i; j++) occ += !strcmp(keys[j], keys[i]);
        snprintf(k, sizeof k, "%s#%zu", keys[i], occ);
        ab_lb_prompt *q = lb_prompt(lb, k, cap);
        if (!q) {
            st = anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
            break;
        }
        if (!q->prompt) {
            q->prompt = ab_row_prompt(row);
            q->line = r->lines[i];
        }
        if (!q->ref) q->ref = ab_row_reference(row, o->reference_field);
        q->resp[s] = resp;
    }
    free(keys);
    return st;
}

/* The systems' rows (answer files read; models and backends answer
 * --prompts, backends through store) and the prompts they answer. */
static anc_status lb_load(const anc_ab_opts *o, anc_store *store, ab_lb *lb, const anc_flow_hooks *hooks,
                          anc_error *err) {
    lb->ns = (size_t)o->systems.n;
    lb->names = calloc(lb->ns, sizeof *lb->names);
    lb->files = calloc(lb->ns, sizeof *lb->files);
    lb->rows = calloc(lb->ns, sizeof *lb->rows);
    if (!lb->names || !lb->files || !lb->rows) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    for (size_t s = 0; s < lb->ns; s++) {
        const char *v = o->systems.v[s], *eq = strchr(v, '=');
        lb->names[s] = strndup(v, (size_t)(eq - v));
        lb->files[s] = eq + 1;
        if (!lb->names[s]) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    }
    anc_status st = o->prompts ? anc_rows_load(&lb->rp, o->prompts, err) : ANC_OK;
    size_t cap = 0;
    for (size_t s = 0; s < lb->ns && !st; s++) {
        if (ab_system_kind(lb->files[s]) == AB_SYS_FILE) st = anc_rows_load(&lb->rows[s], lb->files[s], err);
        else st = ab_system_answer(o, store, lb->names[s], lb->files[s], &lb->rp, &lb->rows[s], hooks, err);
        if (!st) st = lb_add_rows(o, lb, s, &cap, err);
    }
    /* references from --prompts for prompts whose rows have none */
    for (size_t p = 0; p < lb->np && !st; p++)
        for (size_t i = 0; !lb->prompts[p].ref && i < lb->rp.n; i++) {
            char k[96];
            ab_item_key(lb->rp.rows[i], k, sizeof k);
            size_t kl = strlen(k);
            if (!strncmp(lb->prompts[p].key, k, kl) && lb->prompts[p].key[kl] == '#')
                lb->prompts[p].ref = ab_row_reference(lb->rp.rows[i], o->reference_field);
        }
    return st;
}

static int cmp_size(const void *a, const void *b) {
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

/* The comparisons: on every prompt the pairs of the systems answering it
 * (all, or K of them drawn with the seeded rng), lower index as system_a. */
static anc_status lb_pairs(const anc_ab_opts *o, ab_lb *lb, anc_error *err) {
    size_t maxp = lb->ns * (lb->ns - 1) / 2;
    size_t *pairs = calloc(maxp + 1, sizeof *pairs);
    size_t cap = lb->np * maxp + 1;
    lb->cmp.items = calloc(cap, sizeof *lb->cmp.items);
    lb->cmp_prompt = calloc(cap, sizeof *lb->cmp_prompt);
    lb->cmp_sys = calloc(cap, sizeof *lb->cmp_sys);
    if (!pairs || !lb->cmp.items || !lb->cmp_prompt || !lb->cmp_sys) {
        free(pairs);
        return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    }
    anc_rng rng;
    anc_rng_seed(&rng, (uint64_t)o->bootstrap_seed);
    lb->cmp.src = lb->files[0];
    for (size_t p = 0; p < lb->np; p++) {
        const ab_lb_prompt *q = &lb->prompts[p];
        size_t m = 0;
        for (size_t a = 0; a < lb->ns; a++)
            for (size_t b = a + 1; b < lb->ns; b++)
                if (q->resp[a] && q->resp[b]) pairs[m++] = a * lb->ns + b;
        if (o->pairs_per_prompt > 0 && (size_t)o->pairs_per_prompt < m) {
            anc_rng_shuffle(&rng, pairs, m);
            m = (size_t)o->pairs_per_prompt;
            qsort(pairs, m, sizeof *pairs, cmp_size);
        }
        for (size_t k = 0; k < m; k++) {
            ab_item *it = &lb->cmp.items[lb->cmp.n];
            size_t a = pairs[k] / lb->ns, b = pairs[k] % lb->ns;
            const char *id = q->key;
            snprintf(it->id, sizeof it->id, "%.*s", (int)strcspn(id, "#"), id);
            it->prompt = q->prompt;
            it->ref = q->ref;
            it->ya = q->resp[a];
            it->yb = q->resp[b];
            it->line = q->line;
            lb->cmp_prompt[lb->cmp.n] = p;
            lb->cmp_sys[lb->cmp.n][0] = a;
            lb->cmp_sys[lb->cmp.n][1] = b;
            lb->cmp.n++;
        }
    }
    free(pairs);
    return ANC_OK;
}

/* Grades every response once; a comparison is won by the higher score. */
static anc_status lb_grade(const anc_ab_opts *o, ab_scorer *sc, ab_lb *lb, anc_error *err) {
    int needs_ref = ab_scorer_needs_ref(sc, o);
    sc->input = &lb->rp;
    for (size_t p = 0; p < lb->np; p++) {
        ab_lb_prompt *q = &lb->prompts[p];
        int used = 0;
        for (size_t t = 0, m = 0; t < lb->ns; t++) used = (m += !!q->resp[t]) >= 2;
        if (!used) continue;
        if (!q->ref && needs_ref)
            return anc_error_set(err, ANC_ERR_FORMAT, "prompt %.*s: expected a reference field \"%s\" for --grader %s",
                                 (int)strcspn(q->key, "#"), q->key,
                                 o->reference_field ? o->reference_field : "reference", o->grader);
        char *ptext = anc_prompt_text(q->prompt);
        for (size_t s = 0; s < lb->ns; s++) {
            if (!q->resp[s]) continue;
            anc_status st = ab_score(sc, ptext, q->resp[s], q->ref, &q->score[s], err);
            if (st) {
                free(ptext);
                anc_error_prefix(err, "%s (system %s)", lb->files[s], lb->names[s]);
                return st;
            }
        }
        free(ptext);
    }
    for (size_t k = 0; k < lb->cmp.n; k++) {
        ab_item *it = &lb->cmp.items[k];
        const ab_lb_prompt *q = &lb->prompts[lb->cmp_prompt[k]];
        it->sa = q->score[lb->cmp_sys[k][0]];
        it->sb = q->score[lb->cmp_sys[k][1]];
        it->outcome = it->sa > it->sb ? AB_WIN : it->sa < it->sb ? AB_LOSS : AB_TIE;
        it->consistent = 1;
    }
    return ANC_OK;
}

static const char *const outcome_names[] = {"win", "tie", "loss", "failed"};

/* One JSONL record per comparison, outcome from system_a's side. */
static anc_status lb_records(const anc_ab_opts *o, const ab_lb *lb, int graded, anc_error *err) {
    anc_sbuf b = {0};
    for (size_t k = 0; k < lb->cmp.n && !b.oom; k++) {
        const ab_item *it = &lb->cmp.items[k];
        json_t *r = json_pack("{s:s, s:s, s:s, s:s}", "id", it->id, "system_a", lb->names[lb->cmp_sys[k][0]],
                              "system_b", lb->names[lb->cmp_sys[k][1]], "outcome", outcome_names[it->outcome]);
        if (r && graded) {
            json_object_set_new(r, "score_a", json_real(it->sa));
            json_object_set_new(r, "score_b", json_real(it->sb));
        } else if (r) {
            json_object_set_new(r, "verdicts", json_pack("[ss]", anc_verdict_name(it->v[0]), anc_verdict_name(it->v[1])));
            json_object_set_new(r, "consistent", json_boolean(it->consistent));
            if (it->outcome == AB_FAILED && it->error) json_object_set_new(r, "error", json_string(it->error));
        }
        (void)anc_jsonl_put(&b, r); /* out of memory is sticky in b.oom */
    }
    anc_status st = b.oom ? anc_error_set(err, ANC_ERR_NOMEM, "out of memory")
                          : anc_write_file_atomic(o->out, anc_sbuf_str(&b), b.len, err);
    anc_sbuf_free(&b);
    return st;
}

/* 1 when a system is a backend (its answers need the run store). */
static int lb_has_backend(const anc_ab_opts *o) {
    for (int i = 0; i < o->systems.n; i++)
        if (ab_system_kind(strchr(o->systems.v[i], '=') + 1) == AB_SYS_BACKEND) return 1;
    return 0;
}

anc_status ab_leaderboard(const anc_ab_opts *o, anc_store *store, const anc_flow_hooks *hooks, anc_ab_result *res,
                          anc_error *err) {
    ab_scorer scorer;
    anc_status st = ab_scorer_setup(o, &scorer, res, err);
    if (st) return st;
    anc_store *own = NULL;
    if (!store && (o->llm.spec || lb_has_backend(o))) {
        if ((st = anc_llm_step_store_open(&o->llm, o->out, &own, err))) return st;
        store = own;
    }
    ab_lb lb;
    memset(&lb, 0, sizeof lb);
    st = lb_load(o, store, &lb, hooks, err);
    if (!st) st = lb_pairs(o, &lb, err);
    if (!st) st = o->grader ? lb_grade(o, &scorer, &lb, err) : ab_judge(o, store, &lb.cmp, hooks, res, err);
    if (!st) st = ab_lb_rate(o, &lb, res, err);
    if (!st && o->out) st = lb_records(o, &lb, res->graded, err);
    lb_free(&lb);
    anc_store_close(own);
    return st;
}
