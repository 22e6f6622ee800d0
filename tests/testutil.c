#define _GNU_SOURCE
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/rng.h"
#include "io/safetensors.h"

char *tu_path(const char *base, const char *rel) {
    size_t n = strlen(base) + strlen(rel) + 2;
    char *p = malloc(n);
    assert_non_null(p);
    snprintf(p, n, "%s/%s", base, rel);
    return p;
}

char *tu_shared_fixture(const char *rel) {
    const char *base = getenv("ANCHOR_SHARED_FIXTURES");
    if (!base || !*base) base = ANCHOR_SHARED_FIXTURES;
    char *p = tu_path(base, rel);
    struct stat sb;
    if (stat(p, &sb) != 0) {
        fprintf(stderr, "note: shared fixture %s is absent; skipping\n", p);
        free(p);
        return NULL;
    }
    return p;
}

char *tu_tmpdir(void) {
    const char *t = getenv("TMPDIR");
    if (!t || !*t) t = "/tmp";
    char *p = tu_path(t, "anchor-test-XXXXXX");
    assert_non_null(mkdtemp(p));
    return p;
}

void tu_rmtree(const char *path) {
    if (!path || !*path || strcmp(path, "/") == 0) return;
    tu_system("rm -rf '%s'", path);
}

void tu_write_file(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f) fail_msg("cannot write %s", path);
    if (len && fwrite(data, 1, len, f) != len) fail_msg("short write %s", path);
    fclose(f);
}

char *tu_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot read %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    if (n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n) fail_msg("short read %s", path);
    buf[n] = '\0';
    fclose(f);
    if (len) *len = (size_t)n;
    return buf;
}

int tu_system(const char *fmt, ...) {
    char *cmd = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&cmd, fmt, ap);
    va_end(ap);
    if (n < 0) return -1;
    int rc = system(cmd);
    free(cmd);
    if (rc == -1) return -1;
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : 128 + WTERMSIG(rc);
}

double tu_max_abs_diff(const float *a, const float *b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (d > m || isnan(d)) m = isnan(d) ? INFINITY : d;
    }
    return m;
}

double tu_max_abs(const float *a, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++)
        if (fabs((double)a[i]) > m) m = fabs((double)a[i]);
    return m;
}

void tu_assert_close(const char *label, const float *a, const float *b, size_t n,
                     double rel_tol, double floor) {
    double d = tu_max_abs_diff(a, b, n);
    double scale = tu_max_abs(b, n);
    if (scale < floor) scale = floor;
    if (!(d <= rel_tol * scale))
        fail_msg("%s: max abs diff %.3g > %.3g x max|ref| %.3g", label, d, rel_tol, scale);
}

static uint64_t tu_next(tu_rng *r) {
    uint64_t x = r->s ? r->s : 0x9E3779B97F4A7C15ull;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    r->s = x;
    return x;
}

float tu_rng_uniform(tu_rng *r) { return (float)((tu_next(r) >> 40) * (1.0 / 16777216.0)); }

float tu_rng_normal(tu_rng *r) {
    float u1 = tu_rng_uniform(r), u2 = tu_rng_uniform(r);
    if (u1 < 1e-7f) u1 = 1e-7f;
    return sqrtf(-2.0f * logf(u1)) * cosf(6.2831853f * u2);
}

void tu_fill_normal(tu_rng *r, float *x, size_t n, float std) {
    for (size_t i = 0; i < n; i++) x[i] = std * tu_rng_normal(r);
}

const char *tu_cli(void) {
    const char *p = getenv("ANCHOR_CLI");
    return p && *p ? p : ANCHOR_BINARY_DIR "/anchor";
}

int tu_count_substr(const char *hay, const char *needle) {
    int n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle)) n++;
    return n;
}

int tu_count_lines(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    int n = 0, c;
    while ((c = fgetc(f)) != EOF) n += c == '\n';
    fclose(f);
    return n;
}

float *tu_st_read_f32(struct anc_safetensors *st, const char *name, uint64_t *n) {
    const anc_st_tensor *t = anc_st_find(st, name);
    if (!t) fail_msg("expected tensor %s missing from %s", name, anc_st_label(st));
    float *buf = malloc(sizeof(float) * (t->n_elems ? t->n_elems : 1));
    anc_error err = {0};
    TU_CHECK(anc_st_read_f32(t, buf, t->n_elems, &err), &err);
    if (n) *n = t->n_elems;
    return buf;
}

json_t *tu_load_json(const char *dir, const char *rel) {
    char *p = tu_path(dir, rel);
    json_error_t je;
    json_t *j = json_load_file(p, 0, &je);
    if (!j) fail_msg("%s:%d: %s", p, je.line, je.text);
    free(p);
    return j;
}

void tu_vocab_cases_read(tu_vocab_cases *c, const char *inp_path, const char *out_path) {
    memset(c, 0, sizeof *c);
    char *out = tu_read_file(out_path, NULL);
    c->inp = tu_read_file(inp_path, NULL);
    if (!c->inp || !out) fail_msg("cannot read %s or %s", inp_path, out_path);
    const char *sep = "\n__ggml_vocab_test__\n";
    size_t cap = 0;
    char *line = out;
    for (char *s = c->inp, *q; (q = strstr(s, sep)); s = q + strlen(sep)) {
        char *nl = strchr(line, '\n');
        if (!nl) fail_msg("%s: line %zu missing (cases.inp has more cases)", out_path, c->n + 1);
        *nl = '\0';
        if (c->n == cap) {
            cap = cap ? 2 * cap : 64;
            c->v = realloc(c->v, cap * sizeof *c->v);
            assert_non_null(c->v);
        }
        tu_vocab_case *k = &c->v[c->n++];
        k->text = s;
        k->len = (size_t)(q - s);
        k->n_want = 0;
        for (char *p = line, *e; k->n_want < 512; p = e) {
            long v = strtol(p, &e, 10);
            if (e == p) break;
            k->want[k->n_want++] = (int32_t)v;
        }
        line = nl + 1;
    }
    free(out);
}

void tu_vocab_cases_free(tu_vocab_cases *c) {
    free(c->v);
    free(c->inp);
    memset(c, 0, sizeof *c);
}

void tu_write_id_pairs(const char *path, int n, uint64_t seed, int prompt_spread, int len_spread) {
    anc_rng r;
    anc_rng_seed(&r, seed);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (int i = 0; i < n; i++) {
        fprintf(f, "{\"prompt_ids\": [1");
        int np = 2 + (int)anc_rng_below(&r, (uint64_t)prompt_spread);
        for (int k = 0; k < np; k++) fprintf(f, ", %d", 3 + (int)anc_rng_below(&r, 93));
        for (int side = 0; side < 2; side++) {
            fprintf(f, "], \"%s\": [", side ? "rejected_ids" : "chosen_ids");
            int len = 2 + (int)anc_rng_below(&r, (uint64_t)len_spread);
            for (int k = 0; k < len; k++)
                fprintf(f, "%s%d", k ? ", " : "", side ? 50 + (int)anc_rng_below(&r, 46) : 3 + (int)anc_rng_below(&r, 47));
        }
        fprintf(f, "]}\n");
    }
    fclose(f);
}
