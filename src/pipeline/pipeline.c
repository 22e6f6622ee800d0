/* Parsing and validation of pipeline files (see pipeline.h). Every error
 * names the file, the line and the key; nothing touches the disk. */
#include "pipeline/pipeline.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "core/fileutil.h"
#include "core/paths.h"
#include "core/yaml_load.h"
#include "flow/ab.h"
#include "pipeline/rounds.h"
#include "pipeline/steps.h"

/* malloc'd printf; NULL when out of memory. */
static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...) {
    va_list ap;
    va_start(ap, f);
    int n = vsnprintf(NULL, 0, f, ap);
    va_end(ap);
    if (n < 0) return NULL;
    char *s = malloc((size_t)n + 1);
    if (!s) return NULL;
    va_start(ap, f);
    vsnprintf(s, (size_t)n + 1, f, ap);
    va_end(ap);
    return s;
}

static int grow(void **arr, size_t n, size_t elem) {
    void *p = realloc(*arr, (n + 1) * elem);
    if (!p) return -1;
    *arr = p;
    return 0;
}

typedef struct parse_ctx {
    anc_pipeline *p;
    yaml_document_t *doc;
    anc_error *err;
    char **cfg_lines;   /* canonical "key=v1\x1fv2" lines of the step being parsed */
    size_t n_cfg;
    anc_pipe_entry *ents; /* the steps, rounds blocks unrolled (rounds.h) */
    size_t n_ents;
} parse_ctx;

static anc_status nomem(anc_error *err) { return anc_error_set(err, ANC_ERR_NOMEM, "out of memory"); }

static size_t node_line(const yaml_node_t *n) { return n->start_mark.line + 1; }

static const char *scalar(const yaml_node_t *n) {
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static int is_null(const yaml_node_t *n) {
    const char *v = scalar(n);
    return v && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && (!*v || !strcmp(v, "~") || !strcmp(v, "null"));
}

/* A step name becomes a file or folder name in the run directory: a plain
 * path component, so not ".", ".." or hidden, and no option look-alike. */
static int name_ok(const char *s) {
    if (!*s || s[0] == '.' || s[0] == '-') return 0;
    for (const char *c = s; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_' ||
              *c == '-' || *c == '.'))
            return 0;
    return 1;
}

/* "dir/x" for a relative x ("./" prefixes dropped), a copy of an absolute x. */
static char *resolve(const char *dir, const char *x) {
    while (x[0] == '.' && x[1] == '/') x += 2;
    return x[0] == '/' ? strdup(x) : anc_path_join(dir, x);
}

/* The name of step j inside its rounds block ("drafts" for "r2.drafts"). */
static const char *base_name(const anc_pipeline *p, size_t j) {
    const anc_pipe_step *s = &p->steps[j];
    return s->round ? strchr(s->name, '.') + 1 : s->name;
}

static int name_is(const char *name, const char *q, size_t n) { return strlen(name) == n && !strncmp(name, q, n); }

/* The step that ${steps.NAME.out} in step self means (rounds.h): in a
 * round, that round's copy of NAME; else the step called NAME; else the
 * latest round's copy of NAME above self; else any copy (to report it as
 * not earlier). p->n_steps when none. */
static size_t find_ref(const parse_ctx *c, size_t self, const char *q, size_t nlen) {
    const anc_pipeline *p = c->p;
    const anc_pipe_entry *e = &c->ents[self];
    if (e->round)
        for (size_t j = e->first; j < e->first + e->n_block; j++)
            if (name_is(base_name(p, j), q, nlen)) return j;
    for (size_t j = 0; j < p->n_steps; j++)
        if (name_is(p->steps[j].name, q, nlen)) return j;
    for (size_t j = self; j-- > 0;)
        if (p->steps[j].round && name_is(base_name(p, j), q, nlen)) return j;
    for (size_t j = self; j < p->n_steps; j++)
        if (p->steps[j].round && name_is(base_name(p, j), q, nlen)) return j;
    return p->n_steps;
}

/* Replaces each ${steps.NAME.out} in v by the output of the earlier step
 * NAME (relative to the run directory, find_ref) and ${round} by the
 * round's number. */
static anc_status substitute(parse_ctx *c, size_t self, const char *v, size_t line, const char *key, char **out) {
    anc_pipeline *p = c->p;
    size_t cap = strlen(v) + 1, len = 0;
    char *s = malloc(cap);
    if (!s) return nomem(c->err);
    char round[24];
    for (const char *q = v; *q;) {
        const char *piece = q;
        size_t plen = 1;
        if (!strncmp(q, "${round}", 8)) {
            if (!c->ents[self].round) {
                free(s);
                return anc_error_set(c->err, ANC_ERR_FORMAT, "%s:%zu: key '%s': ${round} outside a rounds block in '%s'",
                                     p->path, line, key, v);
            }
            snprintf(round, sizeof round, "%d", c->ents[self].round);
            piece = round;
            plen = strlen(round);
            q += 8;
        } else if (!strncmp(q, "${", 2)) {
            const char *end = strchr(q, '}');
            if (!end || strncmp(q, "${steps.", 8) != 0 || end - q < 13 || strncmp(end - 4, ".out", 4) != 0) {
                free(s);
                return anc_error_set(c->err, ANC_ERR_FORMAT,
                                     "%s:%zu: key '%s': bad reference in '%s' (expected ${steps.NAME.out} or ${round})",
                                     p->path, line, key, v);
            }
            size_t nlen = (size_t)(end - 4 - (q + 8));
            size_t j = find_ref(c, self, q + 8, nlen);
            if (j == p->n_steps) {
                free(s);
                return anc_error_set(c->err, ANC_ERR_FORMAT, "%s:%zu: key '%s': reference to an unknown step '%.*s'",
                                     p->path, line, key, (int)nlen, q + 8);
            }
            if (j >= self) {
                free(s);
                return anc_error_set(c->err, ANC_ERR_FORMAT,
                                     "%s:%zu: key '%s': step '%s' is not an earlier step (a step reads only outputs of steps above it)",
                                     p->path, line, key, p->steps[j].name);
            }
            piece = p->steps[j].out_rel;
            plen = strlen(piece);
            q = end + 1;
        } else {
            q++;
        }
        if (len + plen + 1 > cap) {
            cap = 2 * (len + plen + 1);
            char *ns = realloc(s, cap);
            if (!ns) {
                free(s);
                return nomem(c->err);
            }
            s = ns;
        }
        memcpy(s + len, piece, plen);
        len += plen;
    }
    s[len] = '\0';
    *out = s;
    return ANC_OK;
}

static anc_status add_input(anc_pipe_step *s, const char *path, anc_error *err) {
    for (size_t i = 0; i < s->n_inputs; i++)
        if (!strcmp(s->inputs[i], path)) return ANC_OK;
    char *d = strdup(path);
    if (!d || grow((void **)&s->inputs, s->n_inputs, sizeof *s->inputs)) {
        free(d);
        return nomem(err);
    }
    s->inputs[s->n_inputs++] = d;
    return ANC_OK;
}

static anc_status add_cfg(parse_ctx *c, const char *key, char **vals, size_t n) {
    size_t len = strlen(key) + 2;
    for (size_t i = 0; i < n; i++) len += strlen(vals[i]) + 1;
    char *line = malloc(len);
    if (!line || grow((void **)&c->cfg_lines, c->n_cfg, sizeof *c->cfg_lines)) {
        free(line);
        return nomem(c->err);
    }
    size_t o = (size_t)snprintf(line, len, "%s=", key);
    for (size_t i = 0; i < n; i++) o += (size_t)snprintf(line + o, len - o, "%s%s", i ? "\x1f" : "", vals[i]);
    c->cfg_lines[c->n_cfg++] = line;
    return ANC_OK;
}

/* Adds an option to step s: raw values (after ${...} substitution) are
 * resolved by role; the canonical form enters the config hash. Takes
 * ownership of raw (an array of n malloc'd strings). */
static anc_status add_opt(parse_ctx *c, anc_pipe_step *s, const anc_option *d, char **raw, size_t n, size_t line) {
    anc_status st = add_cfg(c, d->name, raw, n);
    if (st) goto fail;
    if (grow((void **)&s->opts, s->n_opts, sizeof *s->opts)) {
        st = nomem(c->err);
        goto fail;
    }
    anc_pipe_opt *o = &s->opts[s->n_opts];
    memset(o, 0, sizeof *o);
    o->key = strdup(d->name);
    o->flag = d->type == ANC_OPT_FLAG;
    o->line = line;
    o->values = raw;
    o->n_values = n;
    s->n_opts++;
    if (!o->key) return nomem(c->err);
    for (size_t i = 0; i < n; i++) {
        char *r = NULL;
        if (d->role == ANC_ROLE_IN_FILE || d->role == ANC_ROLE_IN_DIR || d->role == ANC_ROLE_OUT) {
            r = resolve(c->p->run_dir, raw[i]);
            if (!r) return nomem(c->err);
            if (d->role != ANC_ROLE_OUT && (st = add_input(s, r, c->err))) {
                free(r);
                return st;
            }
        } else if (d->role == ANC_ROLE_MAYBE_PATH) {
            char *cand = resolve(c->p->run_dir, raw[i]);
            if (!cand) return nomem(c->err);
            if (strchr(raw[i], '/') || strchr(raw[i], '.')) {
                if (anc_path_exists(cand)) {
                    r = cand;
                    if ((st = add_input(s, r, c->err))) return st;
                } else {
                    free(cand);
                }
            } else {
                free(cand);
            }
        } else if (d->role == ANC_ROLE_NAMED_FILE && strchr(raw[i], '=') && !anc_ab_system_is_backend(strchr(raw[i], '=') + 1)) {
            const char *eq = strchr(raw[i], '=');
            char *file = resolve(c->p->run_dir, eq + 1);
            r = file ? fmt("%.*s=%s", (int)(eq - raw[i]), raw[i], file) : NULL;
            if (!r || (st = add_input(s, file, c->err))) {
                free(file);
                free(r);
                return r ? st : nomem(c->err);
            }
            free(file);
        } else if (d->role == ANC_ROLE_SPEC && !strncmp(raw[i], "local:", 6)) {
            char *dir = resolve(c->p->run_dir, raw[i] + 6);
            r = dir ? fmt("local:%s", dir) : NULL;
            if (!r || (st = add_input(s, dir, c->err))) {
                free(dir);
                free(r);
                return r ? st : nomem(c->err);
            }
            free(dir);
        }
        if (r) {
            free(raw[i]);
            raw[i] = r;
        }
    }
    return ANC_OK;
fail:
    for (size_t i = 0; i < n; i++) free(raw[i]);
    free(raw);
    return st;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Checks a scalar against its option type (the command's own check). */
static anc_status check_type(parse_ctx *c, const anc_option *d, const char *v, size_t line) {
    const char *why = anc_option_check(d, v);
    if (why)
        return anc_error_set(c->err, ANC_ERR_FORMAT, "%s:%zu: key '%s': expected %s, got '%s'", c->p->path, line,
                             d->name, why, v);
    return ANC_OK;
}

/* The default model of a step of round k > 1: the output of round k-1's
 * train step (the block must have exactly one). */
static anc_status round_model(const parse_ctx *c, size_t idx, const char **model) {
    const anc_pipe_entry *e = &c->ents[idx];
    size_t prev = e->first - e->n_block, found = 0, n = 0;
    for (size_t j = prev; j < e->first; j++)
        if (c->p->steps[j].kind == ANC_STEP_TRAIN) found = j, n++;
    if (n != 1)
        return anc_error_set(c->err, ANC_ERR_FORMAT,
                             "%s:%zu: step '%s': its model in round %d is the previous round's trained model, but the "
                             "rounds block has %zu train steps (expected one; or give 'model' explicitly)",
                             c->p->path, c->p->steps[idx].line, c->p->steps[idx].name, e->round, n);
    *model = c->p->steps[found].out_rel;
    return ANC_OK;
}

/* eval and ab steps write their JSON summary beside their output, named so
 * the report finds it: DIR/eval-STEM.json, DIR/ab-STEM.json (STEM.json when
 * the output's stem already starts so), unless the step sets `summary`. */
static anc_status default_summary(parse_ctx *c, anc_pipe_step *s) {
    for (size_t j = 0; j < s->n_opts; j++)
        if (!strcmp(s->opts[j].key, "summary")) return ANC_OK;
    const char *prefix = s->kind == ANC_STEP_EVAL ? "eval" : "ab";
    const char *rel = s->out_rel, *slash = strrchr(rel, '/'), *base = slash ? slash + 1 : rel;
    const char *dot = strrchr(base, '.');
    int stem_len = (int)(dot && dot != base ? (size_t)(dot - base) : strlen(base));
    int named = !strncmp(base, prefix, strlen(prefix));
    char *v = fmt("%.*s%s%s%.*s.json", (int)(base - rel), rel, named ? "" : prefix, named ? "" : "-", stem_len, base);
    if (v && !strcmp(v, rel)) {
        free(v);
        v = fmt("%.*s.summary.json", (int)(dot && dot != base ? (size_t)(dot - rel) : strlen(rel)), rel);
    }
    char **raw = calloc(1, sizeof *raw);
    if (!v || !raw) {
        free(v);
        free(raw);
        return nomem(c->err);
    }
    raw[0] = v;
    return add_opt(c, s, anc_kind_find_opt(s->kind, "summary"), raw, 1, 0);
}

static anc_status parse_step(parse_ctx *c, size_t idx, yaml_node_t *m) {
    anc_pipeline *p = c->p;
    anc_pipe_step *s = &p->steps[idx];
    const anc_kinddef *kd = anc_kind_def(s->kind);
    int have_out = 0, have_model = 0;
    anc_status st;
    for (yaml_node_pair_t *pr = m->data.mapping.pairs.start; pr < m->data.mapping.pairs.top; pr++) {
        yaml_node_t *k = yaml_document_get_node(c->doc, pr->key), *v = yaml_document_get_node(c->doc, pr->value);
        const char *key = scalar(k);
        size_t line = node_line(k);
        if (!key)
            return anc_error_set(c->err, ANC_ERR_FORMAT, "%s:%zu: step '%s': keys must be option names", p->path, line,
                                 s->name);
        if (!strcmp(key, "name") || !strcmp(key, "kind")) continue;
        const anc_option *d = anc_kind_find_opt(s->kind, key);
        if (!d)
            return anc_error_set(c->err, ANC_ERR_FORMAT,
                                 "%s:%zu: key '%s': not an option of a %s step (see 'anchor %s --help'%s)", p->path,
                                 line, key, kd->name,
                                 s->kind == ANC_STEP_STRONGER || s->kind == ANC_STEP_IMPORT ? "pairs" : kd->name,
                                 s->kind == ANC_STEP_STATS ? "; its files are 'input'" : "");
        for (size_t j = 0; j < s->n_opts; j++)
            if (!strcmp(s->opts[j].key, d->name))
                return anc_error_set(c->err, ANC_ERR_FORMAT, "%s:%zu: key '%s': given twice in step '%s'", p->path,
                                     line, key, s->name);
        if (is_null(v)) continue;
        size_t n = 0;
        char **raw = NULL;
        yaml_node_item_t *items = NULL;
        size_t n_items = 1;
        if (v->type == YAML_SEQUENCE_NODE) {
            if (d->type != ANC_OPT_LIST)
                return anc_error_set(c->err, ANC_ERR_FORMAT, "%s:%zu: key '%s': expects a single value, not a list",
                                     p->path, node_line(v), key);
            items = v->data.sequence.items.start;
            n_items = (size_t)(v->data.sequence.items.top - items);
        } else if (v->type != YAML_SCALAR_NODE) {
            return anc_error_set(c->err, ANC_ERR_FORMAT, "%s:%zu: key '%s': expects %s, not a mapping", p->path,
                                 node_line(v), key, d->type == ANC_OPT_LIST ? "a value or a list of values" : "a single value");
        }
        raw = calloc(n_items ? n_items : 1, sizeof *raw);
        if (!raw) return nomem(c->err);
        st = ANC_OK;
        for (size_t j = 0; j < n_items && !st; j++) {
            yaml_node_t *x = items ? yaml_document_get_node(c->doc, items[j]) : v;
            const char *xv = scalar(x);
            if (!xv)
                st = anc_error_set(c->err, ANC_ERR_FORMAT, "%s:%zu: key '%s': list items must be scalars", p->path,
                                   node_line(x), key);
            else if (!(st = substitute(c, idx, xv, node_line(x), key, &raw[n])) &&
                     (st = check_type(c, d, raw[n], node_line(x))))
                free(raw[n]);
            if (!st) n++;
        }
        if (!st && (d->flags & ANC_OPT_REQUIRED) && n == 0)
            st = anc_error_set(c->err, ANC_ERR_FORMAT, "%s:%zu: key '%s': needs at least one value", p->path, line, key);
        if (st) {
            for (size_t j = 0; j < n; j++) free(raw[j]);
            free(raw);
            return st;
        }
        if ((st = add_opt(c, s, d, raw, n, line))) return st;
        if (kd->out_opt && !strcmp(d->name, kd->out_opt)) {
            have_out = 1;
            anc_pipe_opt *o = &s->opts[s->n_opts - 1];
            s->out = strdup(o->values[0]);
            /* the relative spelling, for ${steps.NAME.out} */
            const char *rv = (const char *)v->data.scalar.value;
            char *sub = NULL;
            if ((st = substitute(c, idx, rv, line, key, &sub))) return st;
            while (sub[0] == '.' && sub[1] == '/') memmove(sub, sub + 2, strlen(sub + 2) + 1);
            s->out_rel = sub;
            if (!s->out) return nomem(c->err);
        }
        if (!strcmp(d->name, "model")) have_model = 1;
    }
    /* defaults the pipeline supplies */
    if (kd->uses_model && !have_model) {
        const char *model = p->model;
        if (c->ents[idx].round > 1 && (st = round_model(c, idx, &model))) return st;
        if (!model)
            return anc_error_set(c->err, ANC_ERR_FORMAT,
                                 "%s:%zu: step '%s' (%s): missing required option 'model' (or set a top-level 'model:')",
                                 p->path, s->line, s->name, kd->name);
        char **raw = calloc(1, sizeof *raw);
        if (!raw || !(raw[0] = strdup(model))) {
            free(raw);
            return nomem(c->err);
        }
        if ((st = add_opt(c, s, anc_kind_find_opt(s->kind, "model"), raw, 1, 0))) return st;
    }
    if (!have_out) {
        /* round k's steps write into round-K/ */
        char folder[32] = "";
        if (s->round) snprintf(folder, sizeof folder, "round-%d/", s->round);
        const char *bn = base_name(p, idx);
        s->out_rel = kd->out_ext ? fmt("%s%s%s", folder, bn, kd->out_ext)
                     : s->kind == ANC_STEP_TRAIN ? fmt("%smodels/%s", folder, bn) : fmt("%sreport.html", folder);
        if (!s->out_rel || !(s->out = resolve(p->run_dir, s->out_rel))) return nomem(c->err);
        if (kd->out_opt) {
            char **raw = calloc(1, sizeof *raw);
            if (!raw || !(raw[0] = strdup(s->out_rel))) {
                free(raw);
                return nomem(c->err);
            }
            if ((st = add_opt(c, s, anc_kind_find_opt(s->kind, kd->out_opt), raw, 1, 0))) return st;
        }
    }
    if ((s->kind == ANC_STEP_EVAL || s->kind == ANC_STEP_AB) && (st = default_summary(c, s))) return st;
    for (const anc_option *d = kd->opts; d->name; d++) {
        if (!(d->flags & ANC_OPT_REQUIRED) || (d->flags & ANC_OPT_CLI_ONLY)) continue;
        size_t j = 0;
        while (j < s->n_opts && strcmp(s->opts[j].key, d->name)) j++;
        if (j == s->n_opts)
            return anc_error_set(c->err, ANC_ERR_FORMAT, "%s:%zu: step '%s' (%s): missing required option '%s'",
                                 p->path, s->line, s->name, kd->name, d->name);
    }
    for (size_t j = 0; j < idx; j++)
        if (!strcmp(p->steps[j].out, s->out))
            return anc_error_set(c->err, ANC_ERR_FORMAT, "%s:%zu: step '%s': writes %s, which step '%s' writes too",
                                 p->path, s->line, s->name, s->out_rel, p->steps[j].name);
    {
        /* the run directory holds the pipeline's state and every output */
        anc_path_rel rel;
        if ((st = anc_path_relation(s->out, p->run_dir, &rel, c->err))) return st;
        if (rel == ANC_PATH_SAME || rel == ANC_PATH_B_IN_A)
            return anc_error_set(c->err, ANC_ERR_FORMAT, "%s:%zu: step '%s': writes %s, which %s the run directory %s",
                                 p->path, s->line, s->name, s->out_rel, rel == ANC_PATH_SAME ? "is" : "holds", p->run_dir);
    }
    /* the report reads the whole run directory: everything above it */
    if (s->kind == ANC_STEP_REPORT)
        for (size_t j = 0; j < idx; j++)
            if ((st = add_input(s, p->steps[j].out, c->err))) return st;
    for (size_t i = 0; i < s->n_inputs; i++)
        for (size_t j = 0; j < idx; j++) {
            if (strcmp(s->inputs[i], p->steps[j].out)) continue;
            size_t k = 0;
            while (k < s->n_deps && s->deps[k] != j) k++;
            if (k < s->n_deps) continue;
            if (grow((void **)&s->deps, s->n_deps, sizeof *s->deps)) return nomem(c->err);
            s->deps[s->n_deps++] = j;
        }
    /* the config hash: kind + sorted canonical options */
    qsort(c->cfg_lines, c->n_cfg, sizeof *c->cfg_lines, cmp_str);
    anc_sha256 h;
    anc_sha256_init(&h);
    anc_sha256_update(&h, "anchor-step-v1\n", 15);
    anc_sha256_update(&h, kd->name, strlen(kd->name) + 1);
    for (size_t i = 0; i < c->n_cfg; i++) anc_sha256_update(&h, c->cfg_lines[i], strlen(c->cfg_lines[i]) + 1);
    anc_sha256_final_hex(&h, s->config_hash);
    return ANC_OK;
}

/* First pass: names and kinds of all steps (so references can tell an
 * unknown step from a later one). */
static anc_status parse_heads(parse_ctx *c) {
    anc_pipeline *p = c->p;
    size_t n = c->n_ents;
    p->steps = calloc(n ? n : 1, sizeof *p->steps);
    if (!p->steps) return nomem(c->err);
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *m = c->ents[i].m;
        if (m->type != YAML_MAPPING_NODE)
            return anc_error_set(c->err, ANC_ERR_FORMAT, "%s:%zu: key 'steps': each step must be a mapping with name and kind",
                                 p->path, node_line(m));
        const char *name = NULL, *kind = NULL;
        size_t kline = node_line(m);
        for (yaml_node_pair_t *pr = m->data.mapping.pairs.start; pr < m->data.mapping.pairs.top; pr++) {
            yaml_node_t *k = yaml_document_get_node(c->doc, pr->key), *v = yaml_document_get_node(c->doc, pr->value);
            const char *key = scalar(k);
            if (!key || (strcmp(key, "name") && strcmp(key, "kind"))) continue;
            if (!scalar(v))
                return anc_error_set(c->err, ANC_ERR_FORMAT, "%s:%zu: key '%s': expects a single value", p->path,
                                     node_line(v), key);
            if (!strcmp(key, "name")) name = scalar(v);
            else {
                kind = scalar(v);
                kline = node_line(v);
            }
        }
        anc_pipe_step *s = &p->steps[i];
        s->line = node_line(m);
        if (!name)
            return anc_error_set(c->err, ANC_ERR_FORMAT, "%s:%zu: key 'name': missing in this step", p->path, s->line);
        if (!name_ok(name))
            return anc_error_set(c->err, ANC_ERR_FORMAT, "%s:%zu: key 'name': '%s' is not a valid step name (letters, digits, '_', '-', '.'; not starting with '.' or '-')",
                                 p->path, s->line, name);
        for (size_t j = 0; j < i; j++) {
            const char *other = p->steps[j].name;
            char *mine = c->ents[i].round ? fmt("r%d.%s", c->ents[i].round, name) : NULL;
            int dup = !strcmp(other, mine ? mine : name);
            free(mine);
            if (dup)
                return anc_error_set(c->err, ANC_ERR_FORMAT, "%s:%zu: key 'name': duplicate step name '%s' (first at line %zu)",
                                     p->path, s->line, name, p->steps[j].line);
        }
        if (!kind)
            return anc_error_set(c->err, ANC_ERR_FORMAT, "%s:%zu: key 'kind': missing in step '%s'", p->path, s->line, name);
        int k = anc_kind_from_name(kind);
        if (k < 0)
            return anc_error_set(c->err, ANC_ERR_FORMAT,
                                 "%s:%zu: key 'kind': unknown step kind '%s' (generate, revise, judge, stronger, import, stats, train, eval, ab, report, advise)",
                                 p->path, kline, kind);
        s->kind = (anc_step_kind)k;
        s->round = c->ents[i].round;
        if (!(s->name = s->round ? fmt("r%d.%s", s->round, name) : strdup(name))) return nomem(c->err);
        p->n_steps = i + 1;
    }
    return ANC_OK;
}

static anc_status parse_doc(parse_ctx *c, yaml_node_t *root, const char *run_dir_override) {
    anc_pipeline *p = c->p;
    if (!root || root->type != YAML_MAPPING_NODE)
        return anc_error_set(c->err, ANC_ERR_FORMAT, "%s:%zu: expected a mapping with run_dir, model and steps", p->path,
                             root ? node_line(root) : 1);
    const char *run_dir = NULL;
    yaml_node_t *steps = NULL;
    for (yaml_node_pair_t *pr = root->data.mapping.pairs.start; pr < root->data.mapping.pairs.top; pr++) {
        yaml_node_t *k = yaml_document_get_node(c->doc, pr->key), *v = yaml_document_get_node(c->doc, pr->value);
        const char *key = scalar(k);
        if (key && !strcmp(key, "steps")) {
            if (v->type != YAML_SEQUENCE_NODE)
                return anc_error_set(c->err, ANC_ERR_FORMAT, "%s:%zu: key 'steps': expected a list of steps", p->path,
                                     node_line(v));
            steps = v;
        } else if (key && (!strcmp(key, "run_dir") || !strcmp(key, "run-dir") || !strcmp(key, "model"))) {
            if (!scalar(v) || is_null(v))
                return anc_error_set(c->err, ANC_ERR_FORMAT, "%s:%zu: key '%s': expected a path", p->path, node_line(v), key);
            if (key[0] == 'r') run_dir = scalar(v);
            else if (!(p->model = strdup(scalar(v)))) return nomem(c->err);
        } else {
            return anc_error_set(c->err, ANC_ERR_FORMAT, "%s:%zu: key '%s': unknown (expected run_dir, model, steps)",
                                 p->path, node_line(k), key ? key : "?");
        }
    }
    if (!steps) return anc_error_set(c->err, ANC_ERR_FORMAT, "%s:%zu: key 'steps': missing", p->path, node_line(root));
    /* run directory: override (relative to the cwd), else run_dir relative to
     * the YAML's folder, else the YAML's name without extension beside it */
    const char *slash = strrchr(p->path, '/');
    char *yaml_dir = slash ? strndup(p->path, (size_t)(slash - p->path) + (slash == p->path)) : strdup(".");
    if (!yaml_dir) return nomem(c->err);
    if (run_dir_override) p->run_dir = strdup(run_dir_override);
    else if (run_dir) p->run_dir = resolve(yaml_dir, run_dir);
    else {
        const char *base = slash ? slash + 1 : p->path, *dot = strrchr(base, '.');
        char *stem = dot && dot != base ? strndup(base, (size_t)(dot - base)) : fmt("%s.run", base);
        p->run_dir = stem ? resolve(yaml_dir, stem) : NULL;
        free(stem);
    }
    free(yaml_dir);
    if (!p->run_dir || !(p->store_path = anc_path_join(p->run_dir, "run.db"))) return nomem(c->err);
    anc_status st = anc_pipe_flatten(p->path, c->doc, steps, &c->ents, &c->n_ents, c->err);
    if (!st) st = parse_heads(c);
    for (size_t i = 0; !st && i < p->n_steps; i++) {
        c->n_cfg = 0;
        st = parse_step(c, i, c->ents[i].m);
        for (size_t j = 0; j < c->n_cfg; j++) free(c->cfg_lines[j]);
        c->n_cfg = 0;
    }
    if (!st && p->n_steps == 0)
        st = anc_error_set(c->err, ANC_ERR_FORMAT, "%s:%zu: key 'steps': the list is empty", p->path, node_line(steps));
    return st;
}

anc_status anc_pipeline_load(anc_pipeline *out, const char *path, const char *run_dir_override, anc_error *err) {
    anc_pipeline p;
    memset(&p, 0, sizeof p);
    if (!(p.path = strdup(path))) return nomem(err);
    yaml_document_t doc;
    anc_status st = anc_yaml_load_file(path, &doc, err);
    if (!st) {
        parse_ctx c = {&p, &doc, err, NULL, 0, NULL, 0};
        st = parse_doc(&c, yaml_document_get_root_node(&doc), run_dir_override);
        free(c.cfg_lines);
        free(c.ents);
        yaml_document_delete(&doc);
    }
    if (st) {
        anc_pipeline_free(&p);
        return st;
    }
    *out = p;
    return ANC_OK;
}

void anc_pipeline_free(anc_pipeline *p) {
    if (!p) return;
    for (size_t i = 0; p->steps && i < p->n_steps; i++) {
        anc_pipe_step *s = &p->steps[i];
        for (size_t j = 0; j < s->n_opts; j++) {
            free(s->opts[j].key);
            for (size_t k = 0; k < s->opts[j].n_values; k++) free(s->opts[j].values[k]);
            free(s->opts[j].values);
        }
        free(s->opts);
        for (size_t j = 0; j < s->n_inputs; j++) free(s->inputs[j]);
        free(s->inputs);
        free(s->deps);
        free(s->name);
        free(s->out);
        free(s->out_rel);
    }
    free(p->steps);
    free(p->path);
    free(p->run_dir);
    free(p->store_path);
    free(p->model);
    memset(p, 0, sizeof *p);
}

long anc_pipeline_find(const anc_pipeline *p, const char *name) {
    for (size_t i = 0; i < p->n_steps; i++)
        if (!strcmp(p->steps[i].name, name)) return (long)i;
    return -1;
}
