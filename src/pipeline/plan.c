/* A parsed pipeline turned into things to run: each step's argv, the hash of
 * its inputs, and the effective plan written into the run directory. */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/fileutil.h"
#include "pipeline/pipeline.h"
#include "pipeline/steps.h"

typedef struct argv_buf {
    char **v;
    int n, cap;
    int failed;
} argv_buf;

static void push(argv_buf *b, const char *s) {
    if (b->failed) return;
    if (b->n + 2 > b->cap) {
        int cap = b->cap ? 2 * b->cap : 32;
        char **nv = realloc(b->v, (size_t)cap * sizeof *nv);
        if (!nv) {
            b->failed = 1;
            return;
        }
        b->v = nv;
        b->cap = cap;
    }
    if (!(b->v[b->n] = strdup(s))) {
        b->failed = 1;
        return;
    }
    b->v[++b->n] = NULL;
}

void anc_pipeline_argv_free(char **argv) {
    for (size_t i = 0; argv && argv[i]; i++) free(argv[i]);
    free(argv);
}

anc_status anc_pipeline_argv(const anc_pipeline *p, size_t i, const char *const *extra, size_t n_extra,
                             char ***argv, int *argc, anc_error *err) {
    const anc_pipe_step *s = &p->steps[i];
    argv_buf b = {0};
    switch (s->kind) {
    case ANC_STEP_STRONGER: push(&b, "pairs"); push(&b, "stronger"); break;
    case ANC_STEP_IMPORT: push(&b, "pairs"); push(&b, "import"); break;
    default: push(&b, anc_step_kind_name(s->kind)); break;
    }
    for (size_t j = 0; j < s->n_opts; j++) {
        const anc_pipe_opt *o = &s->opts[j];
        if (s->kind == ANC_STEP_STATS && !strcmp(o->key, "input")) continue;
        if (o->flag) {
            const char *v = o->values[0];
            int on = !strcmp(v, "true") || !strcmp(v, "True") || !strcmp(v, "yes");
            char flag[96];
            snprintf(flag, sizeof flag, "--%s=%s", o->key, on ? "true" : "false");
            push(&b, flag);
            continue;
        }
        char key[96];
        snprintf(key, sizeof key, "--%s", o->key);
        for (size_t k = 0; k < o->n_values; k++) {
            push(&b, key);
            push(&b, o->values[k]);
        }
    }
    if (s->kind == ANC_STEP_REVISE || s->kind == ANC_STEP_JUDGE || s->kind == ANC_STEP_STRONGER ||
        s->kind == ANC_STEP_AB || s->kind == ANC_STEP_ADVISE) {
        push(&b, "--store");
        push(&b, p->store_path);
    }
    if (s->kind == ANC_STEP_STATS) {
        for (size_t j = 0; j < s->n_opts; j++)
            if (!strcmp(s->opts[j].key, "input"))
                for (size_t k = 0; k < s->opts[j].n_values; k++) push(&b, s->opts[j].values[k]);
    }
    if (s->kind == ANC_STEP_REPORT) push(&b, p->run_dir);
    for (size_t j = 0; j < n_extra; j++) push(&b, extra[j]);
    if (b.failed || !b.v) {
        anc_pipeline_argv_free(b.v);
        return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    }
    *argv = b.v;
    *argc = b.n;
    return ANC_OK;
}

static anc_status hash_file(anc_sha256 *h, const char *path, anc_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return anc_error_set(err, ANC_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
    unsigned char buf[1 << 16];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) anc_sha256_update(h, buf, n);
    int bad = ferror(f);
    fclose(f);
    if (bad) return anc_error_set(err, ANC_ERR_IO, "%s: read error", path);
    return ANC_OK;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* A folder: config.json's content, then name, size and mtime of each regular
 * file at the top level, in name order. */
static anc_status hash_dir(anc_sha256 *h, const char *dir, anc_error *err) {
    DIR *d = opendir(dir);
    if (!d) return anc_error_set(err, ANC_ERR_IO, "%s: cannot open folder: %s", dir, strerror(errno));
    char **names = NULL;
    size_t n = 0;
    anc_status st = ANC_OK;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char **nn = realloc(names, (n + 1) * sizeof *nn);
        if (!nn) {
            st = anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
            break;
        }
        names = nn;
        if (!(names[n] = strdup(e->d_name))) {
            st = anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
            break;
        }
        n++;
    }
    closedir(d);
    if (n > 1) qsort(names, n, sizeof *names, cmp_str);
    char *cfg = anc_path_join(dir, "config.json");
    if (!st && cfg && anc_path_exists(cfg)) {
        anc_sha256_update(h, "config.json\n", 12);
        st = hash_file(h, cfg, err);
    }
    free(cfg);
    for (size_t i = 0; !st && i < n; i++) {
        char *path = anc_path_join(dir, names[i]);
        struct stat sb;
        if (path && stat(path, &sb) == 0 && S_ISREG(sb.st_mode)) {
            char line[512];
            int len = snprintf(line, sizeof line, "%s %lld %lld.%09ld\n", names[i], (long long)sb.st_size,
                               (long long)sb.st_mtim.tv_sec, (long)sb.st_mtim.tv_nsec);
            anc_sha256_update(h, line, len > 0 && (size_t)len < sizeof line ? (size_t)len : sizeof line - 1);
        }
        free(path);
    }
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    return st;
}

anc_status anc_pipeline_input_hash(const anc_pipeline *p, size_t i, char hash[ANC_SHA256_HEX], anc_error *err) {
    const anc_pipe_step *s = &p->steps[i];
    anc_sha256 h;
    anc_sha256_init(&h);
    anc_sha256_update(&h, "anchor-inputs-v1\n", 17);
    for (size_t j = 0; j < s->n_inputs; j++) {
        struct stat sb;
        char tag[32];
        snprintf(tag, sizeof tag, "#%zu ", j);
        anc_sha256_update(&h, tag, strlen(tag));
        anc_status st = ANC_OK;
        if (stat(s->inputs[j], &sb) != 0) {
            anc_sha256_update(&h, "missing\n", 8);
        } else if (S_ISDIR(sb.st_mode)) {
            anc_sha256_update(&h, "dir\n", 4);
            st = hash_dir(&h, s->inputs[j], err);
        } else {
            anc_sha256_update(&h, "file\n", 5);
            st = hash_file(&h, s->inputs[j], err);
        }
        if (st) return anc_error_prefix(err, "step '%s'", s->name);
    }
    anc_sha256_final_hex(&h, hash);
    return ANC_OK;
}

/* A YAML double-quoted scalar (JSON string syntax is valid YAML). */
static int put_str(FILE *f, const char *s) {
    json_t *j = json_string(s);
    char *q = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
    json_decref(j);
    if (!q) return -1;
    fputs(q, f);
    free(q);
    return 0;
}

anc_status anc_pipeline_write_effective(const anc_pipeline *p, const char *path, anc_error *err) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    int bad = 0;
    fprintf(f, "# anchor run: the resolved plan of ");
    bad |= put_str(f, p->path);
    fprintf(f, "\nrun_dir: ");
    bad |= put_str(f, p->run_dir);
    if (p->model) {
        fprintf(f, "\nmodel: ");
        bad |= put_str(f, p->model);
    }
    fprintf(f, "\nsteps:\n");
    for (size_t i = 0; i < p->n_steps; i++) {
        const anc_pipe_step *s = &p->steps[i];
        fprintf(f, "  - name: ");
        bad |= put_str(f, s->name);
        fprintf(f, "\n    kind: %s\n    output: ", anc_step_kind_name(s->kind));
        bad |= put_str(f, s->out);
        fprintf(f, "\n    after: [");
        for (size_t j = 0; j < s->n_deps; j++) {
            if (j) fputs(", ", f);
            bad |= put_str(f, p->steps[s->deps[j]].name);
        }
        fprintf(f, "]\n    config_hash: %s\n    options:\n", s->config_hash);
        for (size_t j = 0; j < s->n_opts; j++) {
            const anc_pipe_opt *o = &s->opts[j];
            fprintf(f, "      %s: ", o->key);
            if (o->n_values == 1 && !(s->kind == ANC_STEP_STATS && !strcmp(o->key, "input"))) {
                bad |= put_str(f, o->values[0]);
            } else {
                fputc('[', f);
                for (size_t k = 0; k < o->n_values; k++) {
                    if (k) fputs(", ", f);
                    bad |= put_str(f, o->values[k]);
                }
                fputc(']', f);
            }
            fputc('\n', f);
        }
    }
    if (fclose(f) != 0 || bad) {
        free(buf);
        return anc_error_set(err, ANC_ERR_NOMEM, "out of memory writing %s", path);
    }
    anc_status st = anc_write_file_atomic(path, buf, len, err);
    free(buf);
    return st;
}
