/* llama2.c tokenizer.bin -> tokenizer.json (anc_tokenizer_from_llama2c).
 *
 * The converted tokenizer must encode like llama2.c's encode(): checked
 * against a direct C transcription of that algorithm (below), against the
 * ids of tokenizer_bin_test_vectors.json (Meta's Llama-2 vocabulary: its
 * tokenizer.bin is rebuilt here from the tokens and scores of
 * gguf/ggml-vocab-llama-spm.gguf, exactly as llama2.c's tokenizer.py writes
 * it), and decoding stories260K's greedy ids must give llama2.c's output.
 *
 * Known, documented exceptions, left out of the comparisons:
 *  - text containing U+2581 "▁" itself: llama2.c's vocabulary spells
 *    SentencePiece's "▁" as " ", so it byte-falls-back on a literal "▁",
 *    while a SentencePiece-style tokenizer.json reads it as a space;
 *  - text containing "<unk>", "<s>" or "</s>": like HF's Llama-2 tokenizer,
 *    the converted one splits these special tokens out of the text (ids 0,
 *    1, 2); llama2.c spells them out letter by letter. */
#include "testutil.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tokenizer.h"

/* ---- a llama2.c tokenizer.bin in memory, and its encode() ---- */
typedef struct {
    char **piece;
    size_t *len;
    float *score;
    int n;
    int *slots; /* hash of pieces: id + 1, 0 = empty */
    size_t cap;
} l2c_vocab;

static void l2c_free(l2c_vocab *v) {
    for (int i = 0; i < v->n; i++) free(v->piece[i]);
    free(v->piece);
    free(v->len);
    free(v->score);
    free(v->slots);
}

static size_t l2c_hash(const char *s, size_t len) {
    size_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

static l2c_vocab l2c_read(const char *path, int n) {
    size_t len;
    char *b = tu_read_file(path, &len);
    l2c_vocab v = {calloc((size_t)n, sizeof(char *)), calloc((size_t)n, sizeof(size_t)), calloc((size_t)n, sizeof(float)), n,
                   NULL, 0};
    size_t off = 4;
    for (int i = 0; i < n; i++) {
        int32_t l;
        assert_true(off + 8 <= len);
        memcpy(&v.score[i], b + off, 4);
        memcpy(&l, b + off + 4, 4);
        off += 8;
        assert_true(l >= 0 && off + (size_t)l <= len);
        v.piece[i] = malloc((size_t)l + 1);
        memcpy(v.piece[i], b + off, (size_t)l);
        v.piece[i][l] = '\0';
        v.len[i] = (size_t)l;
        off += (size_t)l;
    }
    free(b);
    v.cap = 4;
    while (v.cap < 2 * (size_t)n) v.cap *= 2;
    v.slots = calloc(v.cap, sizeof *v.slots);
    for (int i = 0; i < n; i++) { /* the first of equal pieces wins */
        size_t h = l2c_hash(v.piece[i], v.len[i]) & (v.cap - 1);
        int dup = 0;
        for (; v.slots[h]; h = (h + 1) & (v.cap - 1)) {
            int j = v.slots[h] - 1;
            if (v.len[j] == v.len[i] && memcmp(v.piece[j], v.piece[i], v.len[i]) == 0) dup = 1;
        }
        if (!dup) v.slots[h] = i + 1;
    }
    return v;
}

static int l2c_lookup(const l2c_vocab *v, const char *s, size_t len) {
    for (size_t h = l2c_hash(s, len) & (v->cap - 1); v->slots[h]; h = (h + 1) & (v->cap - 1)) {
        int j = v->slots[h] - 1;
        if (v->len[j] == len && memcmp(v->piece[j], s, len) == 0) return j;
    }
    return -1;
}

/* llama2.c run.c encode(text, bos=1, eos=0): dummy " " prefix, code points
 * (or bytes + 3), then merge the best-scoring pair until none is left. */
static size_t l2c_encode(const l2c_vocab *v, const char *text, int *out) {
    size_t n = 0, tl = strlen(text);
    out[n++] = 1;
    int *t = out + 1;
    size_t k = 0;
    if (tl) t[k++] = l2c_lookup(v, " ", 1);
    for (size_t i = 0; i < tl;) {
        size_t cl = 1;
        unsigned char c = (unsigned char)text[i];
        if (c >= 0xF0) cl = 4;
        else if (c >= 0xE0) cl = 3;
        else if (c >= 0xC0) cl = 2;
        int id = l2c_lookup(v, text + i, cl);
        if (id >= 0) t[k++] = id;
        else
            for (size_t j = 0; j < cl; j++) t[k++] = (unsigned char)text[i + j] + 3;
        i += cl;
    }
    char buf[512];
    for (;;) {
        float best = -1e10f;
        int best_id = -1;
        size_t best_i = 0;
        for (size_t i = 0; i + 1 < k; i++) {
            size_t l = v->len[t[i]] + v->len[t[i + 1]];
            if (l >= sizeof buf) continue;
            memcpy(buf, v->piece[t[i]], v->len[t[i]]);
            memcpy(buf + v->len[t[i]], v->piece[t[i + 1]], v->len[t[i + 1]]);
            int id = l2c_lookup(v, buf, l);
            if (id >= 0 && v->score[id] > best) {
                best = v->score[id];
                best_id = id;
                best_i = i;
            }
        }
        if (best_id < 0) break;
        t[best_i] = best_id;
        memmove(t + best_i + 1, t + best_i + 2, (k - best_i - 2) * sizeof *t);
        k--;
    }
    return n + k;
}

/* Converts tok_bin, loads the result; fails the test on error. */
static anc_tokenizer *convert_and_load(const char *tok_bin, int vocab_size) {
    char *json = NULL, *config = NULL;
    anc_error err;
    TU_CHECK(anc_tokenizer_from_llama2c(tok_bin, vocab_size, &json, &config, &err), &err);
    anc_tokenizer *tok = NULL;
    TU_CHECK(anc_tokenizer_load_text(&tok, json, strlen(json), config, strlen(config), tok_bin, &err), &err);
    free(json);
    free(config);
    return tok;
}

static void check_against_reference(anc_tokenizer *tok, const l2c_vocab *v, const char *text, int *agree, int *total) {
    if (strstr(text, "\xE2\x96\x81") || strstr(text, "<unk>") || strstr(text, "<s>") || strstr(text, "</s>"))
        return; /* the documented exceptions */
    size_t tl = strlen(text);
    int *ref = malloc((tl + 2) * 4 * sizeof *ref);
    size_t nref = l2c_encode(v, text, ref);
    int32_t *ids;
    size_t n;
    anc_error err;
    TU_CHECK(anc_tokenizer_encode(tok, text, tl, 1, &ids, &n, &err), &err);
    int same = n == nref;
    for (size_t i = 0; same && i < n; i++) same = ids[i] == ref[i];
    if (!same) fprintf(stderr, "llama2.c mismatch on \"%s\"\n", text);
    *agree += same;
    (*total)++;
    free(ids);
    free(ref);
}

static char **read_cases(size_t *n) {
    char *path = tu_shared_fixture("tokenizer-tests/cases.inp");
    if (!path) return NULL;
    char *text = tu_read_file(path, NULL);
    free(path);
    const char *sep = "\n__ggml_vocab_test__\n";
    char **cases = calloc(64, sizeof *cases);
    *n = 0;
    for (char *s = text, *q; (q = strstr(s, sep)) && *n < 64; s = q + strlen(sep)) {
        cases[*n] = strndup(s, (size_t)(q - s));
        (*n)++;
    }
    free(text);
    return cases;
}

static void test_tok512_stories(void **state) {
    (void)state;
    char *bin = tu_shared_fixture("llama2c/tok512.bin");
    char *ids_path = tu_shared_fixture("llama2c/expected_t0_n200_ids.json");
    if (!bin || !ids_path) {
        free(bin);
        free(ids_path);
        skip();
    }
    anc_tokenizer *tok = convert_and_load(bin, 512);
    assert_int_equal(anc_tokenizer_vocab_size(tok), 512);
    assert_int_equal(anc_tokenizer_bos_id(tok), 1);
    assert_int_equal(anc_tokenizer_eos_id(tok), 2);
    assert_int_equal(anc_tokenizer_unk_id(tok), 0);

    /* decoding the greedy ids gives llama2.c's printed story */
    json_error_t je;
    json_t *root = json_load_file(ids_path, 0, &je);
    assert_non_null(root);
    json_t *gen = json_object_get(root, "generated_ids");
    size_t n = json_array_size(gen);
    assert_int_equal(n, 200);
    int32_t *ids = malloc(n * sizeof *ids);
    for (size_t i = 0; i < n; i++) ids[i] = (int32_t)json_integer_value(json_array_get(gen, i));
    char *text;
    size_t len;
    anc_error err;
    TU_CHECK(anc_tokenizer_decode(tok, ids, n, 0, &text, &len, &err), &err);
    const char *expected = json_string_value(json_object_get(root, "expected_stdout_without_trailing_newline"));
    assert_non_null(expected);
    assert_string_equal(text, expected);
    /* and with the BOS in front, skipping it, still the same text */
    int32_t *with_bos = malloc((n + 1) * sizeof *with_bos);
    with_bos[0] = 1;
    memcpy(with_bos + 1, ids, n * sizeof *ids);
    char *text2;
    TU_CHECK(anc_tokenizer_decode(tok, with_bos, n + 1, 1, &text2, &len, &err), &err);
    assert_string_equal(text2, expected);

    /* encoding agrees with llama2.c's encode() */
    l2c_vocab v = l2c_read(bin, 512);
    int agree = 0, total = 0;
    check_against_reference(tok, &v, expected, &agree, &total);
    size_t nc = 0;
    char **cases = read_cases(&nc);
    for (size_t i = 0; i < nc; i++) {
        check_against_reference(tok, &v, cases[i], &agree, &total);
        free(cases[i]);
    }
    free(cases);
    const char *more[] = {"", " ", "Once upon a time", "Lily's mom said, \"no!\"", "émoji 🦙 and 日本語", "a  b   c\n\nd\t",
                          "<s> is not special to llama2.c", "zzzzzz qqqq 1234567890"};
    for (size_t i = 0; i < sizeof more / sizeof *more; i++) check_against_reference(tok, &v, more[i], &agree, &total);
    fprintf(stderr, "tok512: decode of 200 greedy ids matches; encode agrees with llama2.c on %d/%d strings\n", agree,
            total);
    assert_int_equal(agree, total);
    int32_t *sp;
    size_t nsp;
    TU_CHECK(anc_tokenizer_encode(tok, "a</s>", 5, 0, &sp, &nsp, &err), &err);
    assert_true(nsp >= 2 && sp[nsp - 1] == 2); /* the special token, not its letters */
    free(sp);
    l2c_free(&v);
    free(text);
    free(text2);
    free(with_bos);
    free(ids);
    json_decref(root);
    anc_tokenizer_free(tok);
    free(bin);
    free(ids_path);
}

/* ---- Meta's 32000-token vocabulary, rebuilt from the GGUF ---- */

typedef struct {
    const unsigned char *p;
    size_t len, off;
    int bad;
} gguf_reader;

static uint64_t g_u(gguf_reader *r, size_t n) {
    uint64_t v = 0;
    if (r->off + n > r->len) {
        r->bad = 1;
        return 0;
    }
    memcpy(&v, r->p + r->off, n); /* little-endian host */
    r->off += n;
    return v;
}

static void g_skip(gguf_reader *r, uint32_t type) {
    static const size_t sizes[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    if (type == 8) {
        uint64_t n = g_u(r, 8);
        if (n > r->len - r->off) r->bad = 1;
        else r->off += n;
    } else if (type == 9) {
        uint32_t et = (uint32_t)g_u(r, 4);
        uint64_t n = g_u(r, 8);
        for (uint64_t i = 0; i < n && !r->bad; i++) g_skip(r, et);
    } else if (type < 13) {
        r->off += sizes[type];
        if (r->off > r->len) r->bad = 1;
    } else {
        r->bad = 1;
    }
}

/* Writes a llama2.c tokenizer.bin from the GGUF's tokenizer.ggml.tokens and
 * scores, as llama2.c's tokenizer.py does ("▁" -> " ", ids 1/2 named
 * "\n<s>\n" / "\n</s>\n"). Returns the vocabulary size. */
static int gguf_to_tok_bin(const char *gguf_path, const char *out_path) {
    size_t len;
    char *buf = tu_read_file(gguf_path, &len);
    gguf_reader r = {(const unsigned char *)buf, len, 4, 0};
    assert_memory_equal(buf, "GGUF", 4);
    g_u(&r, 4);
    g_u(&r, 8);
    uint64_t nkv = g_u(&r, 8);
    size_t tok_off = 0, score_off = 0;
    uint64_t n_tok = 0;
    for (uint64_t k = 0; k < nkv && !r.bad; k++) {
        uint64_t kl = g_u(&r, 8);
        const char *key = (const char *)r.p + r.off;
        r.off += kl;
        uint32_t type = (uint32_t)g_u(&r, 4);
        int is_tok = kl == 21 && memcmp(key, "tokenizer.ggml.tokens", 21) == 0;
        int is_score = kl == 21 && memcmp(key, "tokenizer.ggml.scores", 21) == 0;
        if ((is_tok || is_score) && type == 9) {
            size_t save = r.off;
            g_u(&r, 4);
            n_tok = g_u(&r, 8);
            if (is_tok) tok_off = r.off;
            else score_off = r.off;
            r.off = save;
        }
        g_skip(&r, type);
    }
    assert_false(r.bad);
    assert_true(tok_off && score_off && n_tok > 3);
    FILE *f = fopen(out_path, "wb");
    assert_non_null(f);
    int32_t max_len = 64;
    fwrite(&max_len, 4, 1, f);
    gguf_reader t = {(const unsigned char *)buf, len, tok_off, 0};
    for (uint64_t i = 0; i < n_tok; i++) {
        uint64_t sl = g_u(&t, 8);
        assert_true(sl < 256 && t.off + sl <= len);
        char piece[1024];
        size_t w = 0;
        const char *s = buf + t.off;
        if (i == 1) w = (size_t)snprintf(piece, sizeof piece, "\n<s>\n");
        else if (i == 2) w = (size_t)snprintf(piece, sizeof piece, "\n</s>\n");
        else
            for (size_t j = 0; j < sl; j++) {
                if (j + 3 <= sl && memcmp(s + j, "\xE2\x96\x81", 3) == 0) {
                    piece[w++] = ' ';
                    j += 2;
                } else {
                    piece[w++] = s[j];
                }
            }
        t.off += sl;
        float score;
        memcpy(&score, buf + score_off + 4 * i, 4);
        int32_t l = (int32_t)w;
        fwrite(&score, 4, 1, f);
        fwrite(&l, 4, 1, f);
        fwrite(piece, 1, w, f);
    }
    fclose(f);
    free(buf);
    return (int)n_tok;
}

static void test_llama2_vectors(void **state) {
    (void)state;
    char *gguf = tu_shared_fixture("gguf/ggml-vocab-llama-spm.gguf");
    char *vec_path = tu_shared_fixture("llama2c/tokenizer_bin_test_vectors.json");
    if (!gguf || !vec_path) {
        free(gguf);
        free(vec_path);
        skip();
    }
    char *dir = tu_tmpdir();
    char *bin = tu_path(dir, "tokenizer.bin");
    int vocab = gguf_to_tok_bin(gguf, bin);
    assert_int_equal(vocab, 32000);
    anc_tokenizer *tok = convert_and_load(bin, vocab);
    json_error_t je;
    json_t *root = json_load_file(vec_path, 0, &je);
    assert_non_null(root);
    json_t *cases = json_object_get(root, "cases");
    size_t passed = 0;
    l2c_vocab v = l2c_read(bin, vocab);
    for (size_t c = 0; c < json_array_size(cases); c++) {
        json_t *cs = json_array_get(cases, c), *want = json_object_get(cs, "ids");
        const char *text = json_string_value(json_object_get(cs, "text"));
        int32_t *ids;
        size_t n;
        anc_error err;
        TU_CHECK(anc_tokenizer_encode(tok, text, strlen(text), 1, &ids, &n, &err), &err);
        int same = n == json_array_size(want);
        for (size_t i = 0; same && i < n; i++) same = ids[i] == json_integer_value(json_array_get(want, i));
        if (!same) fprintf(stderr, "test vector %zu differs: \"%s\"\n", c, text);
        passed += (size_t)same;
        /* the transcribed llama2.c encode() agrees with the vectors too */
        int ref[1024];
        size_t nref = l2c_encode(&v, text, ref);
        assert_int_equal(nref, json_array_size(want));
        for (size_t i = 0; i < nref; i++) assert_int_equal(ref[i], json_integer_value(json_array_get(want, i)));
        free(ids);
    }
    fprintf(stderr, "tokenizer_bin_test_vectors: %zu/%zu cases give the expected ids\n", passed, json_array_size(cases));
    assert_int_equal(passed, json_array_size(cases));
    l2c_free(&v);
    json_decref(root);
    anc_tokenizer_free(tok);
    tu_rmtree(dir);
    free(dir);
    free(bin);
    free(gguf);
    free(vec_path);
}

/* Bad tokenizer.bin files are ANC_ERR_FORMAT naming the file and byte. */
static void test_bad_tok_bin(void **state) {
    (void)state;
    char *dir = tu_tmpdir();
    char *path = tu_path(dir, "tok.bin");
    char *json = NULL, *config = NULL;
    anc_error err;
    unsigned char good[64];
    size_t n = 0;
    int32_t i32 = 8;
    float f = 0;
    memcpy(good + n, &i32, 4), n += 4;
    const char *pieces[] = {"<unk>", "\n<s>\n", "\n</s>\n", "a"};
    for (int k = 0; k < 4; k++) {
        i32 = (int32_t)strlen(pieces[k]);
        memcpy(good + n, &f, 4), n += 4;
        memcpy(good + n, &i32, 4), n += 4;
        memcpy(good + n, pieces[k], (size_t)i32), n += (size_t)i32;
    }
    tu_write_file(path, good, n);
    TU_CHECK(anc_tokenizer_from_llama2c(path, 4, &json, &config, &err), &err);
    free(json);
    free(config);
    /* vocab_size too large / too small for the file */
    assert_int_equal(anc_tokenizer_from_llama2c(path, 5, &json, NULL, &err), ANC_ERR_FORMAT);
    assert_non_null(strstr(err.message, "tok.bin"));
    assert_null(json);
    assert_int_equal(anc_tokenizer_from_llama2c(path, 3, &json, NULL, &err), ANC_ERR_FORMAT);
    assert_non_null(strstr(err.message, "vocab_size"));
    /* a length running past the end */
    unsigned char bad[64];
    memcpy(bad, good, n);
    i32 = 1000;
    memcpy(bad + 4 + 4, &i32, 4);
    tu_write_file(path, bad, n);
    assert_int_equal(anc_tokenizer_from_llama2c(path, 4, &json, NULL, &err), ANC_ERR_FORMAT);
    assert_non_null(strstr(err.message, "byte 8"));
    /* invalid UTF-8 in a piece */
    memcpy(bad, good, n);
    bad[n - 1] = 0xFF;
    tu_write_file(path, bad, n);
    assert_int_equal(anc_tokenizer_from_llama2c(path, 4, &json, NULL, &err), ANC_ERR_FORMAT);
    assert_non_null(strstr(err.message, "UTF-8"));
    /* truncated header */
    tu_write_file(path, good, 2);
    assert_int_equal(anc_tokenizer_from_llama2c(path, 4, &json, NULL, &err), ANC_ERR_FORMAT);
    assert_int_equal(anc_tokenizer_from_llama2c(path, 0, &json, NULL, &err), ANC_ERR_INVALID);
    tu_rmtree(dir);
    free(dir);
    free(path);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tok512_stories),
        cmocka_unit_test(test_llama2_vectors),
        cmocka_unit_test(test_bad_tok_bin),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
