/* Tokenizer throughput: encodes >= N MB (default 10) of mixed real text with
 * the SmolLM2 (byte-level BPE) and Llama-2 (SentencePiece-style BPE)
 * tokenizers, one document at a time as training rows are, then decodes the
 * ids again, and prints MB/s.
 *
 *   bench_tokenizer [--fixtures DIR] [--mb N]
 *
 * DIR is the shared fixtures folder (default $ANCHOR_SHARED_FIXTURES, else
 * ../shared/fixtures). The text is every string of the preference demos
 * (English chat turns, code, lists), the CLAIR revisions, the chat-template
 * cases and llama.cpp's tokenizer cases (emoji, CJK, Cyrillic, whitespace
 * runs), cycled until N MB; repeated words hit SmolLM2's per-word cache as
 * they would in a large corpus. */
#define _GNU_SOURCE
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/fileutil.h"
#include "tokenizer/tokenizer.h"

typedef struct {
    char **doc;
    size_t *len;
    size_t n, cap, bytes;
} corpus;

static void add_doc(corpus *c, const char *s, size_t len) {
    if (len == 0) return;
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 1024;
        c->doc = realloc(c->doc, c->cap * sizeof *c->doc);
        c->len = realloc(c->len, c->cap * sizeof *c->len);
        if (!c->doc || !c->len) {
            fprintf(stderr, "out of memory\n");
            exit(1);
        }
    }
    c->doc[c->n] = strndup(s, len);
    c->len[c->n++] = len;
    c->bytes += len;
}

static void add_strings(corpus *c, json_t *j) {
    size_t i;
    const char *k;
    json_t *v;
    if (json_is_string(j)) add_doc(c, json_string_value(j), json_string_length(j));
    else if (json_is_array(j)) json_array_foreach(j, i, v) add_strings(c, v);
    else if (json_is_object(j)) json_object_foreach(j, k, v) add_strings(c, v);
}

static void add_json_file(corpus *c, const char *dir, const char *rel, int lines) {
    char *path = anc_path_join(dir, rel);
    char *text;
    size_t len;
    anc_error err;
    if (!path || anc_read_file(path, (size_t)1 << 30, &text, &len, &err) != ANC_OK) {
        fprintf(stderr, "skipping %s\n", rel);
        free(path);
        return;
    }
    for (char *s = text; s < text + len;) {
        char *e = lines ? memchr(s, '\n', (size_t)(text + len - s)) : NULL;
        if (!e) e = text + len;
        json_t *j = json_loadb(s, (size_t)(e - s), 0, NULL);
        add_strings(c, j);
        json_decref(j);
        s = e + 1;
    }
    free(text);
    free(path);
}

static void add_cases(corpus *c, const char *dir) {
    char *path = anc_path_join(dir, "tokenizer-tests/cases.inp");
    char *text;
    size_t len;
    anc_error err;
    if (path && anc_read_file(path, 1 << 20, &text, &len, &err) == ANC_OK) {
        const char *sep = "\n__ggml_vocab_test__\n";
        for (char *s = text, *q; (q = strstr(s, sep)); s = q + strlen(sep)) add_doc(c, s, (size_t)(q - s));
        free(text);
    }
    free(path);
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int bench(const char *dir, const char *name, const corpus *c, double mb) {
    char *tdir = anc_path_join(dir, "tokenizers");
    char *path = tdir ? anc_path_join(tdir, name) : NULL;
    anc_tokenizer *tok;
    anc_error err;
    if (!path || anc_tokenizer_load_dir(&tok, path, &err) != ANC_OK) {
        fprintf(stderr, "cannot load %s: %s\n", name, path ? err.message : "out of memory");
        free(tdir);
        free(path);
        return 1;
    }
    double target = mb * 1e6, bytes = 0, enc_s = 0, dec_s = 0, dec_bytes = 0;
    size_t tokens = 0;
    for (size_t i = 0; bytes < target; i = (i + 1) % c->n) {
        int32_t *ids;
        size_t n;
        double t0 = now_s();
        if (anc_tokenizer_encode(tok, c->doc[i], c->len[i], 0, &ids, &n, &err) != ANC_OK) {
            fprintf(stderr, "%s: encode failed: %s\n", name, err.message);
            return 1;
        }
        double t1 = now_s();
        char *text;
        size_t tl;
        if (anc_tokenizer_decode(tok, ids, n, 0, &text, &tl, &err) != ANC_OK) {
            fprintf(stderr, "%s: decode failed: %s\n", name, err.message);
            return 1;
        }
        double t2 = now_s();
        enc_s += t1 - t0;
        dec_s += t2 - t1;
        bytes += (double)c->len[i];
        dec_bytes += (double)tl;
        tokens += n;
        free(text);
        free(ids);
    }
    printf("%-8s encode %.1f MB in %.2f s = %.2f MB/s (%.2f M tokens/s, %.2f bytes/token); decode %.2f MB/s\n", name,
           bytes / 1e6, enc_s, bytes / 1e6 / enc_s, (double)tokens / 1e6 / enc_s, bytes / (double)tokens,
           dec_bytes / 1e6 / dec_s);
    printf("encode_mb_s_%s %.3f\n", name, bytes / 1e6 / enc_s);
    anc_tokenizer_free(tok);
    free(tdir);
    free(path);
    return 0;
}

int main(int argc, char **argv) {
    const char *dir = getenv("ANCHOR_SHARED_FIXTURES");
    if (!dir || !*dir) dir = "../shared/fixtures";
    double mb = 10;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--fixtures")) dir = argv[i + 1];
        else if (!strcmp(argv[i], "--mb")) mb = atof(argv[i + 1]);
    }
    corpus c = {0};
    add_json_file(&c, dir, "preference/dpo_en_demo.json", 0);
    add_json_file(&c, dir, "preference/kto_en_demo.json", 0);
    add_json_file(&c, dir, "clair/gpt4_revisions_sample.jsonl", 1);
    add_json_file(&c, dir, "chat-templates/hf_render_cases.json", 0);
    add_cases(&c, dir);
    if (c.n == 0) {
        fprintf(stderr, "no text found under %s (use --fixtures DIR)\n", dir);
        return 1;
    }
    printf("corpus: %zu documents, %.2f MB of distinct text, cycled to %.0f MB\n", c.n, (double)c.bytes / 1e6, mb);
    int rc = bench(dir, "smollm2", &c, mb) | bench(dir, "llama2", &c, mb);
    for (size_t i = 0; i < c.n; i++) free(c.doc[i]);
    free(c.doc);
    free(c.len);
    return rc;
}
