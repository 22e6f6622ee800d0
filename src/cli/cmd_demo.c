/* anchor demo: the building blocks of the offline demonstration (the
 * built-in task family of src/eval/demo_task.h):
 *   anchor demo init --out DIR          a tiny random Llama + its tokenizer
 *   anchor demo data --kind sft|prompts task rows (demonstrations with mistakes, or prompts + references)
 *   anchor demo grade --input FILE      accuracy of completions with the task's grader
 *   anchor demo teacher revise|stronger|judge
 *                                       an exec: backend (request JSON on stdin): the programmatic
 *                                       teacher as reviser, stronger model, or grader-judge */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_pairs_out.h"
#include "cli/cmd_demo.h"
#include "core/fileutil.h"
#include "core/hash.h"
#include "core/rng.h"
#include "data/jsonl.h"
#include "eval/demo_task.h"
#include "eval/demo_tokenizer.h"
#include "model/model.h"

static int demo_init(int argc, char **argv) {
    const char *out = NULL;
    long hidden = 128, layers = 4, heads = 4, kv_heads = 2, inter = 384, seed = 1;
    cli_opt opts[] = {
        {"out", OPT_STR, &out, "DIR", "model folder to create"},
        {"hidden", OPT_COUNT, &hidden, "N", "hidden size (default 128)"},
        {"layers", OPT_COUNT, &layers, "N", "layers (default 4)"},
        {"heads", OPT_COUNT, &heads, "N", "attention heads (default 4)"},
        {"kv-heads", OPT_COUNT, &kv_heads, "N", "key/value heads (default 2)"},
        {"intermediate", OPT_COUNT, &inter, "N", "MLP size (default 384)"},
        {"seed", OPT_INT, &seed, "S", "initialisation seed (default 1)"},
        {0},
    };
    int rc = cli_parse(argc, argv, opts, "demo init", "--out DIR [options]",
                       "Creates a tiny random Llama (normal(0, 0.02) weights) with the demo task's tokenizer.", NULL, NULL);
    if (rc) return rc == 1 ? 0 : rc;
    if (!out) return cli_usage_error("demo init", "--out DIR is required");
    anc_error err = {0};
    char *tj = NULL, *tc = NULL;
    if (anc_demo_tokenizer_json(&tj, &tc, &err)) return cli_fail("demo init", &err);
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
    cfg.hidden_size = (int)hidden;
    cfg.intermediate_size = (int)inter;
    cfg.num_layers = (int)layers;
    cfg.num_heads = (int)heads;
    cfg.num_kv_heads = (int)kv_heads;
    cfg.head_dim = heads > 0 ? (int)(hidden / heads) : 0;
    cfg.max_position_embeddings = 256;
    cfg.rms_norm_eps = 1e-5f;
    cfg.rope_theta = 10000.0f;
    cfg.tie_word_embeddings = 1;
    cfg.bos_token_id = 1;
    cfg.eos_token_id = 2;
    cfg.torch_dtype = ANC_DT_F32;
    anc_model *m = NULL;
    int code = 0;
    if (anc_model_create(&m, &cfg, &err)) {
        code = cli_fail("demo init", &err);
        goto done;
    }
    anc_rng r;
    anc_rng_seed(&r, (uint64_t)seed);
    for (size_t i = 0; i < m->n_specs; i++) {
        const anc_param_spec *s = &m->specs[i];
        for (size_t k = 0; k < s->n_elems; k++)
            m->params[s->offset + k] = s->ndim == 1 ? 1.0f : (float)(anc_rng_normal(&r) * 0.02);
    }
    char *p1 = anc_path_join(out, "tokenizer.json"), *p2 = anc_path_join(out, "tokenizer_config.json");
    if (anc_model_save_hf(m, out, ANC_DT_F32, &err) || anc_write_file_atomic(p1, tj, strlen(tj), &err) ||
        anc_write_file_atomic(p2, tc, strlen(tc), &err))
        code = cli_fail("demo init", &err);
    else
        fprintf(stderr, "anchor demo init: %s (%zu parameters, vocabulary %d)\n", out, m->n_params, cfg.vocab_size);
    free(p1);
    free(p2);
done:
    anc_model_free(m);
    free(tj);
    free(tc);
    return code;
}

static json_t *user_msg(const char *text) {
    return json_pack("[{s:s, s:s}]", "role", "user", "content", text);
}

static json_t *assistant_msg(const char *text) {
    return json_pack("[{s:s, s:s}]", "role", "assistant", "content", text);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The sorted prompt texts of the rows of path (for --exclude). */
static int load_prompts(const char *path, char ***out, size_t *n, anc_error *err) {
    anc_rows rows;
    *out = NULL, *n = 0;
    if (anc_rows_load(&rows, path, err)) return -1;
    char **v = calloc(rows.n ? rows.n : 1, sizeof *v);
    int rc = v ? 0 : ((void)anc_error_set(err, ANC_ERR_NOMEM, "out of memory"), -1);
    for (size_t i = 0; !rc && i < rows.n; i++) {
        json_t *p = json_object_get(rows.rows[i], "prompt");
        if (!p || !(v[i] = cli_prompt_text(p)))
            rc = (anc_error_set(err, ANC_ERR_FORMAT, "%s:%zu: expected a \"prompt\" (string or messages)", path,
                               rows.lines[i]), -1);
    }
    size_t count = rows.n;
    anc_rows_free(&rows);
    if (rc) {
        for (size_t i = 0; v && i < count; i++) free(v[i]);
        free(v);
        return -1;
    }
    qsort(v, count, sizeof *v, cmp_str);
    *out = v, *n = count;
    return 0;
}

static int demo_data(int argc, char **argv) {
    const char *out = NULL, *kind = "prompts", *exclude = NULL;
    long n = 100, seed = 1, min_n = 4, max_n = 8, max_value = 99, n_conds = 4;
    double mistakes = 0.35, habit = 0.0;
    cli_opt opts[] = {
        {"kind", OPT_STR, &kind, "KIND", "sft (demonstrations with injected mistakes) or prompts (prompt + reference)"},
        {"n", OPT_COUNT, &n, "N", "rows (default 100)"},
        {"seed", OPT_INT, &seed, "S", "task seed (default 1); use different seeds for train and held-out sets"},
        {"mistake-rate", OPT_FLOAT, &mistakes, "R", "share of demonstrations with one mistake (default 0.35)"},
        {"habit-rate", OPT_FLOAT, &habit, "R", "share of tasks selecting 3+ numbers whose sum leaves out the last number, a habit (default 0)"},
        {"min-numbers", OPT_COUNT, &min_n, "N", "numbers per task, at least (default 4)"},
        {"max-numbers", OPT_COUNT, &max_n, "N", "numbers per task, at most (default 8)"},
        {"max-value", OPT_COUNT, &max_value, "N", "numbers drawn from 1..N (default 99)"},
        {"conditions", OPT_COUNT, &n_conds, "N", "conditions used: 2 = odd/even, 4 = also above/below K (default 4)"},
        {"exclude", OPT_STR, &exclude, "FILE", "skip tasks whose prompt is a prompt of FILE (e.g. the held-out set)"},
        {"out", OPT_STR, &out, "FILE", "JSONL to write"},
        {0},
    };
    int rc = cli_parse(argc, argv, opts, "demo data", "--kind sft|prompts --n N --seed S --out FILE", NULL, NULL, NULL);
    if (rc) return rc == 1 ? 0 : rc;
    if (!out || (strcmp(kind, "sft") && strcmp(kind, "prompts"))) return cli_usage_error("demo data", "--out FILE and --kind sft|prompts are required");
    anc_error err = {0};
    char **skip = NULL;
    size_t n_skip = 0;
    if (exclude && load_prompts(exclude, &skip, &n_skip, &err)) return cli_fail("demo data", &err);
    anc_rng r;
    anc_rng_seed(&r, (uint64_t)seed);
    FILE *f = fopen(out, "w");
    if (!f) {
        anc_error_set(&err, ANC_ERR_IO, "%s: cannot write", out);
        rc = cli_fail("demo data", &err);
        goto done;
    }
    for (long i = 0, misses = 0; i < n; i++) {
        anc_demo_task t;
        anc_demo_spec spec = {(int)min_n, (int)max_n, (int)max_value, (int)n_conds};
        anc_demo_task_make_spec(&r, &spec, &t);
        const char *key = t.prompt;
        if (n_skip && bsearch(&key, skip, n_skip, sizeof *skip, cmp_str)) {
            if (++misses > 100000) {
                anc_error_set(&err, ANC_ERR_INVALID, "%s: nearly every task of this family is in %s; widen the family",
                              out, exclude);
                fclose(f);
                rc = cli_fail("demo data", &err);
                goto done;
            }
            i--;
            continue;
        }
        json_t *row;
        if (!strcmp(kind, "sft")) {
            char *demo = NULL;
            if (anc_demo_demonstration(&t, &r, mistakes, habit, &demo, &err)) {
                fclose(f);
                rc = cli_fail("demo data", &err);
                goto done;
            }
            /* sft rows are pairs whose rejected side is unused by the sft loss */
            row = json_pack("{s:o, s:o, s:o}", "prompt", user_msg(t.prompt), "chosen", assistant_msg(demo), "rejected",
                            assistant_msg(demo));
            free(demo);
        } else {
            char id[32];
            snprintf(id, sizeof id, "t%ld-%ld", seed, i);
            row = json_pack("{s:s, s:o, s:s}", "id", id, "prompt", user_msg(t.prompt), "reference", t.answer);
        }
        char *line = json_dumps(row, JSON_COMPACT | JSON_PRESERVE_ORDER);
        fprintf(f, "%s\n", line);
        free(line);
        json_decref(row);
    }
    if (fclose(f) != 0) {
        anc_error_set(&err, ANC_ERR_IO, "%s: write failed", out);
        rc = cli_fail("demo data", &err);
    }
done:
    for (size_t i = 0; i < n_skip; i++) free(skip[i]);
    free(skip);
    return rc;
}

int demo_grade_file(const char *path, const char *field, demo_scores *out, anc_error *err) {
    memset(out, 0, sizeof *out);
    anc_rows rows;
    if (anc_rows_load(&rows, path, err)) return -1;
    for (size_t i = 0; i < rows.n; i++) {
        json_t *p = json_object_get(rows.rows[i], "prompt");
        char *ptext = p ? cli_prompt_text(p) : NULL;
        anc_demo_task t;
        if (!ptext || anc_demo_task_parse(ptext, &t, err)) {
            free(ptext);
            if (!ptext) anc_error_set(err, ANC_ERR_FORMAT, "%s:%zu: no prompt", path, rows.lines[i]);
            else anc_error_prefix(err, "%s:%zu", path, rows.lines[i]);
            anc_rows_free(&rows);
            return -1;
        }
        free(ptext);
        /* the answer: a string, or the last message of a message list (pairs' chosen/rejected) */
        json_t *v = json_object_get(rows.rows[i], field);
        if (json_is_array(v)) v = json_object_get(json_array_get(v, json_array_size(v) - 1), "content");
        anc_demo_grade_result g;
        anc_demo_grade(&t, json_string_value(v), &g);
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
    return 0;
}

static int demo_grade(int argc, char **argv) {
    const char *input = NULL, *field = "completion";
    int json = 0;
    cli_opt opts[] = {
        {"input", OPT_STR, &input, "FILE", "rows with a prompt (string or messages) and a completion"},
        {"response-field", OPT_STR, &field, "KEY", "field holding the answer: a string or messages (default completion; e.g. chosen)"},
        {"json", OPT_FLAG, &json, NULL, "print JSON"},
        {0},
    };
    int rc = cli_parse(argc, argv, opts, "demo grade", "--input FILE", NULL, NULL, NULL);
    if (rc) return rc == 1 ? 0 : rc;
    if (!input) return cli_usage_error("demo grade", "--input FILE is required");
    anc_error err = {0};
    demo_scores s;
    if (demo_grade_file(input, field, &s, &err)) return cli_fail("demo grade", &err);
    if (json)
        printf("{\"n\": %zu, \"solved\": %.4f, \"accuracy\": %.4f, \"list_accuracy\": %.4f, \"sum_accuracy\": %.4f, "
               "\"score\": %.4f, \"habit\": %.4f}\n", s.n, s.solved, s.accuracy, s.list, s.sum, s.score, s.habit);
    else
        printf("%zu answers: solved %.3f (list and sum right, any phrasing), accuracy %.3f (the reference answer; "
               "list %.3f, sum %.3f), mean score %.3f, habit %.3f\n", s.n, s.solved, s.accuracy, s.list, s.sum, s.score,
               s.habit);
    return 0;
}

/* The text between two markers of s (malloc'd), or NULL. */
static char *between(const char *s, const char *a, const char *b) {
    const char *x = strstr(s, a);
    if (!x) return NULL;
    x += strlen(a);
    const char *y = strstr(x, b);
    return y ? strndup(x, (size_t)(y - x)) : NULL;
}

static int demo_teacher(int argc, char **argv) {
    if (argc < 2 || (strcmp(argv[1], "revise") && strcmp(argv[1], "stronger") && strcmp(argv[1], "judge"))) {
        fprintf(stderr, "usage: anchor demo teacher revise|stronger|judge   (an exec: backend: request JSON on stdin)\n");
        return 2;
    }
    anc_error err = {0};
    json_error_t je;
    json_t *req = json_loadf(stdin, 0, &je);
    json_t *msgs = req ? json_object_get(req, "messages") : NULL;
    const char *content = json_string_value(json_object_get(json_array_get(msgs, json_array_size(msgs) - 1), "content"));
    if (!content) {
        json_decref(req);
        anc_error_set(&err, ANC_ERR_FORMAT, "stdin: expected an OpenAI chat request with messages");
        return cli_fail("demo teacher", &err);
    }
    char *reply = NULL;
    anc_status st = ANC_OK;
    if (!strcmp(argv[1], "revise")) {
        st = anc_demo_reviser_reply(content, NULL, &reply, &err);
    } else if (!strcmp(argv[1], "stronger")) {
        anc_demo_task t;
        anc_rng r;
        /* a phrasing chosen by the prompt, so reruns answer the same */
        anc_rng_seed(&r, anc_hash_bytes(ANC_HASH_INIT, content, strlen(content)));
        st = anc_demo_task_parse(content, &t, &err);
        if (!st) st = anc_demo_stronger_answer(&t, &r, &reply, &err);
    } else {
        /* grader-judge: the response with the higher task score wins; equal scores tie */
        anc_demo_task t;
        char *a = between(content, "[The Start of Response A]\n", "\n[The End of Response A]");
        char *b = between(content, "[The Start of Response B]\n", "\n[The End of Response B]");
        st = a && b ? anc_demo_task_parse(content, &t, &err)
                    : anc_error_set(&err, ANC_ERR_FORMAT, "judge request without the default judge prompt's response markers");
        if (!st) {
            anc_demo_grade_result ga, gb;
            anc_demo_grade(&t, a, &ga);
            anc_demo_grade(&t, b, &gb);
            const char *v = ga.score > gb.score ? "A" : gb.score > ga.score ? "B" : "tie";
            size_t cap = 64;
            reply = malloc(cap);
            if (reply) snprintf(reply, cap, "Scores %.1f and %.1f.\nVerdict: %s\n", ga.score, gb.score, v);
        }
        free(a);
        free(b);
    }
    json_decref(req);
    if (st) return cli_fail("demo teacher", &err);
    fputs(reply, stdout);
    free(reply);
    return 0;
}

int cmd_demo(int argc, char **argv) {
    if (argc < 2 || argv[1][0] == '-') return demo_run(argc, argv);
    if (!strcmp(argv[1], "init")) return demo_init(argc - 1, argv + 1);
    if (!strcmp(argv[1], "data")) return demo_data(argc - 1, argv + 1);
    if (!strcmp(argv[1], "grade")) return demo_grade(argc - 1, argv + 1);
    if (!strcmp(argv[1], "teacher")) return demo_teacher(argc - 1, argv + 1);
    fprintf(stderr, "anchor demo: unknown subcommand '%s' (init, data, grade, teacher; none runs the whole demo: "
                    "anchor demo --help)\n", argv[1]);
    return 2;
}
