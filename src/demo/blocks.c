/* The demo's building blocks (see blocks.h); `anchor demo init|data|grade|
 * teacher` parse flags around them (src/cli/cmd_demo.c). */
#include "demo/blocks.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/fileutil.h"
#include "core/hash.h"
#include "core/rng.h"
#include "data/jsonl.h"
#include "demo/tokenizer.h"
#include "model/model.h"


/* ---- demo init -------------------------------------------------------------- */

void anc_demo_model_opts_default(anc_demo_model_opts *o) {
    *o = (anc_demo_model_opts){.hidden = 128, .layers = 4, .heads = 4, .kv_heads = 2, .intermediate = 384, .seed = 1};
}

anc_status anc_demo_init_model(const anc_demo_model_opts *o, size_t *n_params, int *vocab_size, anc_error *err) {
    char *tj = NULL, *tc = NULL;
    anc_status st = anc_demo_tokenizer_json(&tj, &tc, err);
    if (st) return st;
    json_error_t je;
    json_t *root = json_loads(tj, 0, &je);
    json_t *vocab = json_object_get(json_object_get(root, "model"), "vocab");
    json_t *added = json_object_get(root, "added_tokens");
    size_t V = json_object_size(vocab);
    for (size_t i = 0; i < json_array_size(added); i++) {
        json_int_t id = json_integer_value(json_object_get(json_array_get(added, i), "id"));
        if ((size_t)id + 1 > V) V = (size_t)id + 1;
    }
    json_decref(root);
    anc_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.arch = ANC_ARCH_LLAMA;
    cfg.vocab_size = (int)V;
    cfg.hidden_size = (int)o->hidden;
    cfg.intermediate_size = (int)o->intermediate;
    cfg.num_layers = (int)o->layers;
    cfg.num_heads = (int)o->heads;
    cfg.num_kv_heads = (int)o->kv_heads;
    cfg.head_dim = o->heads > 0 ? (int)(o->hidden / o->heads) : 0;
    cfg.max_position_embeddings = 256;
    cfg.rms_norm_eps = 1e-5f;
    cfg.rope_theta = 10000.0f;
    cfg.tie_word_embeddings = 1;
    cfg.bos_token_id = 1;
    cfg.eos_token_id = 2;
    cfg.torch_dtype = ANC_DT_F32;
    anc_model *m = NULL;
    char *p1 = NULL, *p2 = NULL;
    if ((st = anc_model_create(&m, &cfg, err))) goto done;
    anc_rng r;
    anc_rng_seed(&r, o->seed);
    for (size_t i = 0; i < m->n_specs; i++) {
        const anc_param_spec *s = &m->specs[i];
        for (size_t k = 0; k < s->n_elems; k++)
            m->params[s->offset + k] = s->ndim == 1 ? 1.0f : (float)(anc_rng_normal(&r) * 0.02);
    }
    p1 = anc_path_join(o->out, "tokenizer.json"), p2 = anc_path_join(o->out, "tokenizer_config.json");
    if (!p1 || !p2) st = anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    else if (!(st = anc_model_save_hf(m, o->out, ANC_DT_F32, err)) && !(st = anc_write_file_atomic(p1, tj, strlen(tj), err)))
        st = anc_write_file_atomic(p2, tc, strlen(tc), err);
    if (!st && n_params) *n_params = m->n_params;
    if (!st && vocab_size) *vocab_size = cfg.vocab_size;
done:
    free(p1);
    free(p2);
    anc_model_free(m);
    free(tj);
    free(tc);
    return st;
}

/* ---- demo data -------------------------------------------------------------- */

void anc_demo_data_opts_default(anc_demo_data_opts *o) {
    *o = (anc_demo_data_opts){.n = 100, .seed = 1, .mistake_rate = 0.35, .spec = {4, 8, 99, 4}};
}

static json_t *user_msg(const char *text) {
    return json_pack("[{s:s, s:s}]", "role", "user", "content", text);
}

static json_t *assistant_msg(const char *text) {
    return json_pack("[{s:s, s:s}]", "role", "assistant", "content", text);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The sorted prompt texts of the rows of path (for exclude). */
static anc_status load_prompts(const char *path, char ***out, size_t *n, anc_error *err) {
    anc_rows rows;
    *out = NULL, *n = 0;
    anc_status st = anc_rows_load(&rows, path, err);
    if (st) return st;
    char **v = calloc(rows.n ? rows.n : 1, sizeof *v);
    if (!v) st = anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    for (size_t i = 0; !st && i < rows.n; i++) {
        json_t *p = json_object_get(rows.rows[i], "prompt");
        if (!p || !(v[i] = anc_prompt_text(p)))
            st = anc_error_set(err, ANC_ERR_FORMAT, "%s:%zu: expected a \"prompt\" (string or messages)", path,
                               rows.lines[i]);
    }
    size_t count = rows.n;
    anc_rows_free(&rows);
    if (st) {
        for (size_t i = 0; v && i < count; i++) free(v[i]);
        free(v);
        return st;
    }
    qsort(v, count, sizeof *v, cmp_str);
    *out = v, *n = count;
    return ANC_OK;
}

anc_status anc_demo_write_data(const anc_demo_data_opts *o, anc_error *err) {
    char **skip = NULL;
    size_t n_skip = 0;
    anc_status st = o->exclude ? load_prompts(o->exclude, &skip, &n_skip, err) : ANC_OK;
    if (st) return st;
    anc_rng r;
    anc_rng_seed(&r, (uint64_t)o->seed);
    FILE *f = fopen(o->out, "w");
    if (!f) {
        st = anc_error_set(err, ANC_ERR_IO, "%s: cannot write", o->out);
        goto done;
    }
    for (long i = 0, misses = 0; i < o->n; i++) {
        anc_demo_task t;
        anc_demo_task_make_spec(&r, &o->spec, &t);
        const char *key = t.prompt;
        if (n_skip && bsearch(&key, skip, n_skip, sizeof *skip, cmp_str)) {
            if (++misses > 100000) {
                st = anc_error_set(err, ANC_ERR_INVALID, "%s: nearly every task of this family is in %s; widen the family",
                                   o->out, o->exclude);
                fclose(f);
                goto done;
            }
            i--;
            continue;
        }
        json_t *row;
        if (o->sft) {
            char *demo = NULL;
            if ((st = anc_demo_demonstration(&t, &r, o->mistake_rate, o->habit_rate, &demo, err))) {
                fclose(f);
                goto done;
            }
            /* sft rows are pairs whose rejected side is unused by the sft loss */
            row = json_pack("{s:o, s:o, s:o}", "prompt", user_msg(t.prompt), "chosen", assistant_msg(demo), "rejected",
                            assistant_msg(demo));
            free(demo);
        } else {
            char id[32];
            snprintf(id, sizeof id, "t%ld-%ld", o->seed, i);
            row = json_pack("{s:s, s:o, s:s}", "id", id, "prompt", user_msg(t.prompt), "reference", t.answer);
        }
        char *line = json_dumps(row, JSON_COMPACT | JSON_PRESERVE_ORDER);
        fprintf(f, "%s\n", line);
        free(line);
        json_decref(row);
    }
    if (fclose(f) != 0) st = anc_error_set(err, ANC_ERR_IO, "%s: write failed", o->out);
done:
    for (size_t i = 0; i < n_skip; i++) free(skip[i]);
    free(skip);
    return st;
}

/* ---- demo grade ------------------------------------------------------------- */

anc_status anc_demo_grade_file(const char *path, const char *field, anc_demo_scores *out, anc_error *err) {
    return anc_demo_grade_rows(path, field, out, NULL, err);
}

anc_status anc_demo_grade_rows(const char *path, const char *field, anc_demo_scores *out, double **solved,
                               anc_error *err) {
    memset(out, 0, sizeof *out);
    if (solved) *solved = NULL;
    anc_rows rows;
    anc_status st = anc_rows_load(&rows, path, err);
    if (st) return st;
    double *each = solved ? calloc(rows.n + 1, sizeof *each) : NULL;
    if (solved && !each) {
        anc_rows_free(&rows);
        return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < rows.n; i++) {
        json_t *p = json_object_get(rows.rows[i], "prompt");
        char *ptext = p ? anc_prompt_text(p) : NULL;
        anc_demo_task t;
        if (!ptext || (st = anc_demo_task_parse(ptext, &t, err))) {
            free(ptext);
            if (!ptext) st = anc_error_set(err, ANC_ERR_FORMAT, "%s:%zu: no prompt", path, rows.lines[i]);
            else anc_error_prefix(err, "%s:%zu", path, rows.lines[i]);
            anc_rows_free(&rows);
            free(each);
            return st;
        }
        free(ptext);
        /* the answer: a string, or the last message of a message list (pairs' chosen/rejected) */
        json_t *v = json_object_get(rows.rows[i], field);
        if (json_is_array(v)) v = json_object_get(json_array_get(v, json_array_size(v) - 1), "content");
        anc_demo_grade_result g;
        anc_demo_grade(&t, json_string_value(v), &g);
        if (each) each[i] = g.list_correct && g.sum_correct;
        out->solved += g.list_correct && g.sum_correct;
        out->accuracy += g.correct;
        out->list += g.list_correct;
        out->sum += g.sum_correct;
        out->score += g.score;
        out->habit += g.habit;
        out->n++;
    }
    anc_rows_free(&rows);
    double d = out->n ? (double)out->n : 1.0;
    out->solved /= d;
    out->accuracy /= d;
    out->list /= d;
    out->sum /= d;
    out->score /= d;
    out->habit /= d;
    if (solved) *solved = each;
    return ANC_OK;
}

/* ---- demo teacher ----------------------------------------------------------- */

/* The text between two markers of s (malloc'd), or NULL. */
static char *between(const char *s, const char *a, const char *b) {
    const char *x = strstr(s, a);
    if (!x) return NULL;
    x += strlen(a);
    const char *y = strstr(x, b);
    return y ? strndup(x, (size_t)(y - x)) : NULL;
}

/* The grader-judge's verdict on the two responses of a default judge prompt. */
static anc_status judge_reply(const char *content, char **reply, anc_error *err) {
    anc_demo_task t;
    char *a = between(content, "[The Start of Response A]\n", "\n[The End of Response A]");
    char *b = between(content, "[The Start of Response B]\n", "\n[The End of Response B]");
    anc_status st = a && b ? anc_demo_task_parse(content, &t, err)
                           : anc_error_set(err, ANC_ERR_FORMAT, "judge request without the default judge prompt's response markers");
    if (!st) {
        anc_demo_grade_result ga, gb;
        anc_demo_grade(&t, a, &ga);
        anc_demo_grade(&t, b, &gb);
        const char *v = ga.score > gb.score ? "A" : gb.score > ga.score ? "B" : "tie";
        size_t cap = 64;
        *reply = malloc(cap);
        if (*reply) snprintf(*reply, cap, "Scores %.1f and %.1f.\nVerdict: %s\n", ga.score, gb.score, v);
        else st = anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    }
    free(a);
    free(b);
    return st;
}

anc_status anc_demo_teacher_reply(anc_demo_role role, FILE *in, char **reply, anc_error *err) {
    *reply = NULL;
    json_error_t je;
    json_t *req = json_loadf(in, 0, &je);
    json_t *msgs = req ? json_object_get(req, "messages") : NULL;
    const char *content = json_string_value(json_object_get(json_array_get(msgs, json_array_size(msgs) - 1), "content"));
    anc_status st = ANC_OK;
    if (!content) {
        st = anc_error_set(err, ANC_ERR_FORMAT, "stdin: expected an OpenAI chat request with messages");
    } else if (role == ANC_DEMO_REVISE) {
        st = anc_demo_reviser_reply(content, NULL, reply, err);
    } else if (role == ANC_DEMO_STRONGER) {
        anc_demo_task t;
        anc_rng r;
        /* a phrasing chosen by the prompt, so reruns answer the same */
        anc_rng_seed(&r, anc_hash_bytes(ANC_HASH_INIT, content, strlen(content)));
        st = anc_demo_task_parse(content, &t, err);
        if (!st) st = anc_demo_stronger_answer(&t, &r, reply, err);
    } else {
        st = judge_reply(content, reply, err);
    }
    json_decref(req);
    if (st) {
        free(*reply);
        *reply = NULL;
    }
    return st;
}
