/* GGUF vocabularies both ways: tokenizer.json files made from llama.cpp's
 * own vocabulary GGUFs give llama.cpp's ids on its tokenizer conformance
 * cases, and real tokenizers (Llama-2 and Phi-3 SentencePiece-style,
 * SmolLM2 and phi-2 byte-level BPE) exported to a GGUF vocabulary and
 * imported back encode every case as the original does, with the same
 * special tokens and chat template. Skips without the shared fixtures. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flow/gguf_model.h"
#include "io/gguf.h"
#include "io/gguf_write.h"
#include "tokenizer/tokenizer.h"

/* llama.cpp's conformance cases: tok's ids of each case are the out_name
 * line's (out_name NULL: not checked) and also's (also non-NULL). */
static size_t conformance(anc_tokenizer *tok, const char *out_name, anc_tokenizer *also) {
    char rel[128];
    snprintf(rel, sizeof rel, "tokenizer-tests/%s", out_name ? out_name : "gpt-2.out");
    char *inp_path = tu_shared_fixture("tokenizer-tests/cases.inp"), *out_path = tu_shared_fixture(rel);
    assert_non_null(inp_path);
    assert_non_null(out_path);
    tu_vocab_cases cs;
    tu_vocab_cases_read(&cs, inp_path, out_path);
    size_t ok = 0;
    for (size_t i = 0; i < cs.n; i++) {
        const tu_vocab_case *c = &cs.v[i];
        int32_t *ids = NULL, *ids2 = NULL;
        size_t n = 0, n2 = 0;
        anc_error err = {0};
        TU_CHECK(anc_tokenizer_encode(tok, c->text, c->len, 0, &ids, &n, &err), &err);
        int same = !out_name || (n == c->n_want && (n == 0 || !memcmp(ids, c->want, n * sizeof *ids)));
        if (also) {
            TU_CHECK(anc_tokenizer_encode(also, c->text, c->len, 0, &ids2, &n2, &err), &err);
            same = same && n2 == n && (n == 0 || !memcmp(ids, ids2, n * sizeof *ids));
        }
        if (same) ok++;
        else fprintf(stderr, "%s case %zu: ids differ\n", out_name ? out_name : "round trip", i);
        free(ids);
        free(ids2);
    }
    size_t n_cases = cs.n;
    assert_int_equal(ok, n_cases);
    tu_vocab_cases_free(&cs);
    free(inp_path), free(out_path);
    return n_cases;
}

static anc_tokenizer *tokenizer_of_gguf(anc_gguf *g) {
    char *tj = NULL, *tc = NULL;
    anc_error err = {0};
    TU_CHECK(anc_gguf_vocab_to_hf(g, &tj, &tc, &err), &err);
    anc_tokenizer *tok = NULL;
    TU_CHECK(anc_tokenizer_load_text(&tok, tj, strlen(tj), tc, strlen(tc), "from-gguf", &err), &err);
    free(tj);
    free(tc);
    return tok;
}

static void test_vocab_from_llamacpp(void **state) {
    (void)state;
    const char *files[] = {"gguf/ggml-vocab-gpt-2.gguf", "gguf/ggml-vocab-llama-spm.gguf"};
    const char *outs[] = {"gpt-2.out", "llama-spm.out"};
    for (int k = 0; k < 2; k++) {
        char *f = tu_shared_fixture(files[k]), *c = tu_shared_fixture("tokenizer-tests/cases.inp");
        if (!f || !c) {
            free(f), free(c);
            skip();
        }
        anc_gguf *g = NULL;
        anc_error err = {0};
        TU_CHECK(anc_gguf_open(&g, f, &err), &err);
        anc_tokenizer *tok = tokenizer_of_gguf(g);
        size_t n = conformance(tok, outs[k], NULL);
        printf("  %s -> tokenizer.json: %zu of %zu llama.cpp conformance cases give llama.cpp's ids\n", files[k], n, n);
        anc_tokenizer_free(tok);
        anc_gguf_close(g);
        free(f), free(c);
    }
}

/* A tokenizer folder -> GGUF vocabulary -> tokenizer.json: the same ids on
 * every conformance case, the same special tokens and chat templates. */
static void vocab_roundtrip(const char *fixture, const char *out_name, const char *want_model, const char *want_pre) {
    char *dir = tu_shared_fixture(fixture), *c = tu_shared_fixture("tokenizer-tests/cases.inp");
    if (!dir || !c) {
        free(dir), free(c);
        skip();
    }
    anc_error err = {0};
    anc_tokenizer *orig = NULL;
    TU_CHECK(anc_tokenizer_load_dir(&orig, dir, &err), &err);
    anc_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.vocab_size = (int)anc_tokenizer_vocab_size(orig);
    cfg.bos_token_id = cfg.eos_token_id = -1;
    anc_gguf_writer *w = NULL;
    anc_gguf_vocab_info vi;
    TU_CHECK(anc_gguf_writer_create(&w, 0, &err), &err);
    TU_CHECK(anc_gguf_put_vocab(w, dir, &cfg, NULL, &vi, &err), &err);
    assert_string_equal(vi.model, want_model);
    assert_string_equal(vi.pre, want_pre);
    char *t = tu_tmpdir(), *p = tu_path(t, "v.gguf");
    TU_CHECK(anc_gguf_write(w, p, NULL, NULL, NULL, &err), &err);
    anc_gguf_writer_free(w);
    anc_gguf *g = NULL;
    TU_CHECK(anc_gguf_open(&g, p, &err), &err);
    assert_int_equal(anc_gguf_find(g, "tokenizer.ggml.tokens")->n, (uint64_t)cfg.vocab_size);
    anc_tokenizer *back = tokenizer_of_gguf(g);
    size_t n = conformance(back, out_name, orig);
    assert_int_equal(anc_tokenizer_bos_id(back), anc_tokenizer_bos_id(orig));
    assert_int_equal(anc_tokenizer_eos_id(back), anc_tokenizer_eos_id(orig));
    for (int32_t id = 0; id < cfg.vocab_size; id++)
        if (anc_tokenizer_is_special(back, id) != anc_tokenizer_is_special(orig, id)) fail_msg("%s: token %d special differs", fixture, id);
    const char *ct = anc_tokenizer_chat_template(orig, NULL), *cb = anc_tokenizer_chat_template(back, NULL);
    assert_true((ct == NULL) == (cb == NULL));
    if (ct) assert_string_equal(ct, cb);
    printf("  %s: %s vocabulary (pre %s, %zu tokens, %zu merges, add_bos %d) round trip: %zu conformance cases encode alike%s\n", fixture,
           vi.model, vi.pre, vi.tokens, vi.merges, vi.add_bos, n, ct ? ", chat template kept" : "");
    anc_tokenizer_free(back);
    anc_tokenizer_free(orig);
    anc_gguf_close(g);
    tu_rmtree(t);
    free(t), free(p), free(dir), free(c);
}

static void test_vocab_roundtrip_llama2(void **s) { (void)s; vocab_roundtrip("tokenizers/llama2", "llama-spm.out", "llama", "default"); }
static void test_vocab_roundtrip_smollm2(void **s) { (void)s; vocab_roundtrip("tokenizers/smollm2", "smollm.out", "gpt2", "smollm"); }
static void test_vocab_roundtrip_phi3(void **s) { (void)s; vocab_roundtrip("tokenizers/phi-3-mini", "phi-3.out", "llama", "default"); }
static void test_vocab_roundtrip_phi2(void **s) { (void)s; vocab_roundtrip("tokenizers/gpt2-phi2", NULL, "gpt2", "gpt-2"); }

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vocab_from_llamacpp),
        cmocka_unit_test(test_vocab_roundtrip_llama2),
        cmocka_unit_test(test_vocab_roundtrip_smollm2),
        cmocka_unit_test(test_vocab_roundtrip_phi3),
        cmocka_unit_test(test_vocab_roundtrip_phi2),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
