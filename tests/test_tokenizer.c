/* Tokenizer: HF tokenizer.json loading, encoding and decoding.
 *
 * Expected ids below were produced by Hugging Face tokenizers 0.23.2 (the
 * Rust library, through its Node binding) unless said otherwise; the
 * conformance cases come from llama.cpp's tokenizer tests (fixtures). Tests
 * that need ../shared/fixtures skip when it is absent; the toy tokenizers
 * defined here always run. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tokenizer.h"

static const char TOY_SPM[] =
    "{\"version\":\"1.0\",\"truncation\":null,\"padding\":null,\"added_tokens\":[{\"id\":0,\"content\":\""
    "<unk>\",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,\"normalized\":false,\"special\":tru"
    "e},{\"id\":1,\"content\":\"<s>\",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,\"normalize"
    "d\":false,\"special\":true},{\"id\":2,\"content\":\"</s>\",\"single_word\":false,\"lstrip\":false,\""
    "rstrip\":false,\"normalized\":false,\"special\":true},{\"id\":17,\"content\":\"<x>\",\"single_word\""
    ":false,\"lstrip\":true,\"rstrip\":true,\"normalized\":false,\"special\":true},{\"id\":18,\"content\""
    ":\"cab\",\"single_word\":true,\"lstrip\":false,\"rstrip\":false,\"normalized\":true,\"special\":fals"
    "e}],\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"Prepend\",\"prepend\":\"\\u25"
    "81\"},{\"type\":\"Replace\",\"pattern\":{\"String\":\" \"},\"content\":\"\\u2581\"}]},\"pre_tokenize"
    "r\":null,\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":\""
    "<s>\",\"type_id\":0}},{\"Sequence\":{\"id\":\"A\",\"type_id\":0}}],\"pair\":[{\"Sequence\":{\"id\":\""
    "A\",\"type_id\":0}},{\"Sequence\":{\"id\":\"B\",\"type_id\":1}}],\"special_tokens\":{\"<s>\":{\"id\""
    ":\"<s>\",\"ids\":[1],\"tokens\":[\"<s>\"]}}},\"decoder\":{\"type\":\"Sequence\",\"decoders\":[{\"typ"
    "e\":\"Replace\",\"pattern\":{\"String\":\"\\u2581\"},\"content\":\" \"},{\"type\":\"ByteFallback\"},"
    "{\"type\":\"Fuse\"},{\"type\":\"Strip\",\"content\":\" \",\"start\":1,\"stop\":0}]},\"model\":{\"typ"
    "e\":\"BPE\",\"dropout\":null,\"unk_token\":\"<unk>\",\"continuing_subword_prefix\":null,\"end_of_wor"
    "d_suffix\":null,\"fuse_unk\":true,\"byte_fallback\":true,\"vocab\":{\"<unk>\":0,\"<s>\":1,\"</s>\":2"
    ",\"<0xC3>\":3,\"<0xA9>\":4,\"\\u2581\":5,\"a\":6,\"b\":7,\"c\":8,\"ab\":9,\"\\u2581a\":10,\"\\u2581a"
    "b\":11,\"abc\":12,\"\\u2581abc\":13,\"bc\":14,\"d\":15,\"<0x41>\":16},\"merges\":[\"a b\",\"\\u2581 "
    "a\",\"\\u2581a b\",\"ab c\",\"\\u2581ab c\",\"b c\"]}}";

static const char TOY_BYTE_LEVEL[] =
    "{\"version\":\"1.0\",\"truncation\":null,\"padding\":null,\"added_tokens\":[{\"id\":14,\"content\":\""
    "<|end|>\",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,\"normalized\":false,\"special\":t"
    "rue}],\"normalizer\":null,\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"tri"
    "m_offsets\":true,\"use_regex\":true},\"post_processor\":{\"type\":\"ByteLevel\",\"add_prefix_space\""
    ":true,\"trim_offsets\":false,\"use_regex\":true},\"decoder\":{\"type\":\"ByteLevel\",\"add_prefix_sp"
    "ace\":true,\"trim_offsets\":true,\"use_regex\":true},\"model\":{\"type\":\"BPE\",\"dropout\":null,\""
    "unk_token\":null,\"continuing_subword_prefix\":null,\"end_of_word_suffix\":null,\"fuse_unk\":false,\""
    "byte_fallback\":false,\"ignore_merges\":true,\"vocab\":{\"\\u0120\":0,\"h\":1,\"e\":2,\"l\":3,\"o\":"
    "4,\"w\":5,\"r\":6,\"d\":7,\"he\":8,\"ll\":9,\"hell\":10,\"hello\":11,\"\\u0120w\":12,\"\\u0120world\""
    ":13},\"merges\":[[\"h\",\"e\"],[\"l\",\"l\"],[\"he\",\"ll\"],[\"hell\",\"o\"],[\"\\u0120\",\"w\"]]}}";

/* ---- helpers ---- */

static anc_tokenizer *load_text(const char *json) {
    anc_tokenizer *tok = NULL;
    anc_error err;
    TU_CHECK(anc_tokenizer_load_text(&tok, json, strlen(json), NULL, 0, "toy.json", &err), &err);
    return tok;
}

/* Loads tokenizers/<name> from the shared fixtures, or NULL (then skip). */
static anc_tokenizer *load_fixture(const char *name) {
    char rel[256];
    snprintf(rel, sizeof rel, "tokenizers/%s/tokenizer.json", name);
    char *path = tu_shared_fixture(rel);
    if (!path) return NULL;
    free(path);
    snprintf(rel, sizeof rel, "tokenizers/%s", name);
    char *dir = tu_shared_fixture(rel);
    anc_tokenizer *tok = NULL;
    anc_error err;
    TU_CHECK(anc_tokenizer_load_dir(&tok, dir, &err), &err);
    free(dir);
    return tok;
}

static int ids_equal(const int32_t *a, size_t na, const int32_t *b, size_t nb) {
    if (na != nb) return 0;
    for (size_t i = 0; i < na; i++)
        if (a[i] != b[i]) return 0;
    return 1;
}

static void print_ids(const char *label, const int32_t *ids, size_t n) {
    fprintf(stderr, "%s:", label);
    for (size_t i = 0; i < n; i++) fprintf(stderr, " %d", ids[i]);
    fprintf(stderr, "\n");
}

/* A test vector: text, add_special, ids (terminated by -1), decode with and
 * without skip_special (NULL: not checked). */
typedef struct {
    const char *text;
    int add_special;
    int32_t ids[32];
    const char *dec, *dec_skip;
} vector;

static void check_vector(anc_tokenizer *tok, const vector *v) {
    size_t want_n = 0;
    while (v->ids[want_n] >= 0) want_n++;
    int32_t *ids;
    size_t n;
    anc_error err;
    TU_CHECK(anc_tokenizer_encode(tok, v->text, strlen(v->text), v->add_special, &ids, &n, &err), &err);
    if (!ids_equal(ids, n, v->ids, want_n)) {
        fprintf(stderr, "text \"%s\" (add_special %d)\n", v->text, v->add_special);
        print_ids("  got ", ids, n);
        print_ids("  want", v->ids, want_n);
        fail();
    }
    for (int skip = 0; skip < 2; skip++) {
        const char *want = skip ? v->dec_skip : v->dec;
        if (!want) continue;
        char *text;
        size_t len;
        TU_CHECK(anc_tokenizer_decode(tok, ids, n, skip, &text, &len, &err), &err);
        assert_int_equal(len, strlen(text));
        if (strcmp(text, want) != 0) fail_msg("decode(skip=%d) of \"%s\": \"%s\", want \"%s\"", skip, v->text, text, want);
        free(text);
    }
    free(ids);
}

#define END -1

/* ---- toy tokenizers (no fixtures needed) ---- */

static void test_toy_sentencepiece_style(void **state) {
    (void)state;
    anc_tokenizer *tok = load_text(TOY_SPM);
    static const vector v[] = {
        {"abc", 0, {5, 12, END}, "abc", "abc"},
        {"ab abc", 0, {5, 9, 5, 12, END}, "ab abc", "ab abc"},
        {"\xC3\xA9" "a", 0, {5, 3, 4, 6, END}, "\xC3\xA9" "a", NULL},    /* byte fallback */
        {"zzz", 0, {5, 0, END}, "<unk>", ""},                          /* fused unk */
        {"a zz", 0, {10, 5, 0, END}, "a <unk>", "a "},
        {"a<x> b", 0, {10, 17, 5, 7, END}, "a<x> b", "a b"},           /* lstrip + rstrip */
        {"ab  <x>  c", 0, {5, 9, 17, 5, 8, END}, "ab<x> c", "ab c"},
        {"cab", 0, {18, END}, "cab", "cab"},                           /* single_word, normalized */
        {"acab", 0, {10, 8, 9, END}, "acab", NULL},
        {"a cab d", 0, {10, 5, 8, 9, 5, 15, END}, "a cab d", NULL},
        {"", 0, {END}, "", ""},
        {" ", 0, {5, 5, END}, " ", NULL},
        {"A\xC3\xA9", 0, {5, 16, 3, 4, END}, "A\xC3\xA9", NULL},
        {"<s>abc</s>", 0, {1, 5, 12, 2, END}, "<s> abc</s>", "abc"},
        {"bcab", 0, {5, 14, 9, END}, "bcab", NULL},
        {"abc", 1, {1, 5, 12, END}, "<s> abc", "abc"},                 /* TemplateProcessing */
        {"", 1, {1, END}, "<s>", ""},
    };
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) check_vector(tok, &v[i]);
    assert_int_equal(anc_tokenizer_vocab_size(tok), 19);
    assert_int_equal(anc_tokenizer_token_to_id(tok, "<x>", 3), 17);
    assert_int_equal(anc_tokenizer_token_to_id(tok, "\xE2\x96\x81" "abc", 6), 13);
    assert_int_equal(anc_tokenizer_token_to_id(tok, "nope", 4), -1);
    size_t len;
    const char *s = anc_tokenizer_id_to_token(tok, 18, &len);
    assert_true(s && len == 3 && memcmp(s, "cab", 3) == 0);
    assert_null(anc_tokenizer_id_to_token(tok, 19, &len));
    assert_null(anc_tokenizer_id_to_token(tok, -1, NULL));
    assert_true(anc_tokenizer_is_special(tok, 17));
    assert_false(anc_tokenizer_is_special(tok, 18));
    assert_int_equal(anc_tokenizer_unk_id(tok), 0);
    assert_int_equal(anc_tokenizer_bos_id(tok), -1); /* no tokenizer_config.json */
    anc_tokenizer_free(tok);
}

static void test_toy_byte_level(void **state) {
    (void)state;
    anc_tokenizer *tok = load_text(TOY_BYTE_LEVEL);
    static const vector v[] = {
        {"hello world", 0, {11, 13, END}, "hello world", NULL}, /* ignore_merges: "Ġworld" whole */
        {"world hello", 0, {5, 4, 6, 3, 7, 0, 11, END}, "world hello", NULL},
        {"hellow", 0, {11, 5, END}, "hellow", NULL},
        {"helloz world", 0, {11, 13, END}, "hello world", NULL}, /* no unk_token: "z" is dropped */
        {"hello<|end|> world", 1, {11, 14, 13, END}, "hello<|end|> world", "hello world"},
        {"  hello", 0, {0, 0, 11, END}, "  hello", NULL},
    };
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) check_vector(tok, &v[i]);
    /* the per-word cache: many distinct words, then the same text again */
    char *text = malloc(70000 * 16);
    size_t w = 0;
    for (int i = 0; i < 70000; i++) w += (size_t)snprintf(text + w, 16, "h%de ", i);
    int32_t *a, *b;
    size_t na, nb;
    anc_error err;
    TU_CHECK(anc_tokenizer_encode(tok, text, w, 0, &a, &na, &err), &err);
    TU_CHECK(anc_tokenizer_encode(tok, text, w, 0, &b, &nb, &err), &err);
    assert_true(ids_equal(a, na, b, nb));
    free(a);
    free(b);
    free(text);
    anc_tokenizer_free(tok);
}

/* Merge strings with several spaces load the way HF's JavaScript port reads
 * them (split(' ', 2)); an empty part makes the merge dead. */
static void test_merge_strings(void **state) {
    (void)state;
    const char *json =
        "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,\"ab\":2,\" \":3,\"a \":4},"
        "\"merges\":[\"a  \",\"a b extra\"]}}";
    anc_tokenizer *tok = load_text(json);
    int32_t *ids;
    size_t n;
    anc_error err;
    TU_CHECK(anc_tokenizer_encode(tok, "aba ", 4, 0, &ids, &n, &err), &err);
    const int32_t want[] = {2, 0, 3}; /* "a b" merged; "a" + " " stays apart */
    assert_true(ids_equal(ids, n, want, 3));
    free(ids);
    char *text;
    TU_CHECK(anc_tokenizer_decode(tok, want, 3, 0, &text, NULL, &err), &err);
    assert_string_equal(text, "ab a  "); /* no decoder: tokens joined by spaces */
    free(text);
    anc_tokenizer_free(tok);
}

/* ---- llama.cpp conformance cases ---- */

/* Every case (testutil.h: tu_vocab_cases) gives the .out file's ids; with
 * expect_lossless each also decodes back to its text. */
static void conformance(const char *tokenizer, const char *out_name, int expect_lossless) {
    char rel[128];
    snprintf(rel, sizeof rel, "tokenizer-tests/%s", out_name);
    char *inp_path = tu_shared_fixture("tokenizer-tests/cases.inp"), *out_path = tu_shared_fixture(rel);
    anc_tokenizer *tok = inp_path && out_path ? load_fixture(tokenizer) : NULL;
    if (!tok) {
        free(inp_path);
        free(out_path);
        skip();
    }
    tu_vocab_cases cs;
    tu_vocab_cases_read(&cs, inp_path, out_path);
    size_t n_cases = cs.n, ids_ok = 0, lossless = 0;
    for (size_t i = 0; i < cs.n; i++) {
        const tu_vocab_case *c = &cs.v[i];
        int32_t *ids;
        size_t n;
        anc_error err;
        TU_CHECK(anc_tokenizer_encode(tok, c->text, c->len, 0, &ids, &n, &err), &err);
        if (ids_equal(ids, n, c->want, c->n_want)) ids_ok++;
        else fprintf(stderr, "%s case %zu: ids differ\n", out_name, i);
        char *text;
        size_t len;
        TU_CHECK(anc_tokenizer_decode(tok, ids, n, 0, &text, &len, &err), &err);
        if (len == c->len && memcmp(text, c->text, len) == 0) lossless++;
        else fprintf(stderr, "%s case %zu: decode gives \"%s\"\n", out_name, i, text);
        free(text);
        free(ids);
    }
    fprintf(stderr, "%s with tokenizers/%s: %zu/%zu cases give the expected ids, %zu/%zu decode back to the input\n",
            out_name, tokenizer, ids_ok, n_cases, lossless, n_cases);
    assert_int_equal(n_cases, 46);
    assert_int_equal(ids_ok, n_cases);
    if (expect_lossless) assert_int_equal(lossless, n_cases);
    tu_vocab_cases_free(&cs);
    free(inp_path);
    free(out_path);
    anc_tokenizer_free(tok);
}

static void test_conformance_llama2(void **state) {
    (void)state;
    conformance("llama2", "llama-spm.out", 1);
}
static void test_conformance_phi3(void **state) {
    (void)state;
    conformance("phi-3-mini", "phi-3.out", 1);
}
static void test_conformance_smollm2(void **state) {
    (void)state;
    conformance("smollm2", "smollm.out", 1);
}

/* ---- the other fixture tokenizers, special tokens and configs ---- */

static void test_mistral(void **state) {
    (void)state;
    anc_tokenizer *tok = load_fixture("mistral-7b-v0.1");
    if (!tok) skip();
    static const vector v[] = {
        {"Hello world", 1, {1, 22557, 1526, END}, "<s> Hello world", "Hello world"},
        {" Hello  world\n<s>x</s>", 0, {22557, 28705, 1526, 13, 1, 28744, 2, END}, "Hello  world\n<s>x</s>",
         "Hello  world\nx"},
        {"\xC3\x9Cn\xC3\xAF" "c\xC3\xB6" "d\xC3\xA9 \xF0\x9F\xA6\x99 1234", 0,
         {13156, 28711, 28920, 28717, 14697, 28797, 28705, 243, 162, 169, 156, 28705, 28740, 28750, 28770, 28781, END},
         "\xC3\x9Cn\xC3\xAF" "c\xC3\xB6" "d\xC3\xA9 \xF0\x9F\xA6\x99 1234", NULL},
    };
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) check_vector(tok, &v[i]);
    assert_int_equal(anc_tokenizer_bos_id(tok), 1);
    assert_int_equal(anc_tokenizer_eos_id(tok), 2);
    assert_int_equal(anc_tokenizer_add_bos(tok), 1);
    assert_int_equal(anc_tokenizer_add_eos(tok), 0);
    anc_tokenizer_free(tok);
}

static void test_gpt2_phi2(void **state) {
    (void)state;
    anc_tokenizer *tok = load_fixture("gpt2-phi2");
    if (!tok) skip();
    static const vector v[] = {
        {"Hello world", 0, {15496, 995, END}, "Hello world", NULL},
        {"def f():\n        return  1\t\t\tx", 0, {4299, 277, 33529, 198, 50280, 7783, 50286, 16, 50293, 87, END},
         "def f():\n        return  1\t\t\tx", NULL}, /* phi-2's whitespace added tokens */
        {"It's <|endoftext|> \xE6\x97\xA5\xE6\x9C\xAC", 1, {1026, 338, 220, 50256, 10545, 245, 98, 17312, 105, END},
         "It's <|endoftext|> \xE6\x97\xA5\xE6\x9C\xAC", "It's  \xE6\x97\xA5\xE6\x9C\xAC"},
    };
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) check_vector(tok, &v[i]);
    assert_int_equal(anc_tokenizer_vocab_size(tok), 50295);
    assert_int_equal(anc_tokenizer_bos_id(tok), 50256);
    assert_int_equal(anc_tokenizer_model_max_length(tok), 2048);
    anc_tokenizer_free(tok);
}

static void test_special_tokens(void **state) {
    (void)state;
    anc_tokenizer *phi3 = load_fixture("phi-3-mini"), *smol = load_fixture("smollm2"), *llama = load_fixture("llama2");
    if (!phi3 || !smol || !llama) {
        anc_tokenizer_free(phi3);
        anc_tokenizer_free(smol);
        anc_tokenizer_free(llama);
        skip();
    }
    static const vector vp[] = {
        /* rstrip eats the newline; the next piece gets its own "▁" (HF's behaviour) */
        {"<|user|>\nHi there<|end|>\n<|assistant|>", 0, {32010, 6324, 727, 32007, 32001, END},
         "<|user|> Hi there<|end|><|assistant|>", "Hi there"},
        {"</s>  x", 0, {2, 921, END}, "</s> x", "</s> x"}, /* phi-3 marks </s> non-special */
        {"Hi", 1, {6324, END}, NULL, NULL},                /* add_bos_token false */
    };
    for (size_t i = 0; i < sizeof vp / sizeof *vp; i++) check_vector(phi3, &vp[i]);
    static const vector vs[] = {
        {"<|im_start|>user\nHi 2024!<|im_end|>\n", 0, {1, 4093, 198, 26843, 216, 34, 32, 34, 36, 17, 2, 198, END},
         "<|im_start|>user\nHi 2024!<|im_end|>\n", "user\nHi 2024!\n"},
    };
    check_vector(smol, &vs[0]);
    /* Llama-2: normalized specials match as "▁<s>"; decoding keeps their
     * normalized form (tokenizers 0.23); skip_special drops them */
    static const vector vl[] = {
        {"Hello <s> world</s>", 1, {1, 15043, 1, 3186, 829, 29879, 29958, END}, "<s> Hello <s> world</s>",
         "Hello world</s>"},
    };
    check_vector(llama, &vl[0]);

    assert_int_equal(anc_tokenizer_bos_id(llama), 1);
    assert_int_equal(anc_tokenizer_eos_id(llama), 2);
    assert_int_equal(anc_tokenizer_unk_id(llama), 0);
    assert_int_equal(anc_tokenizer_pad_id(llama), -1);
    assert_string_equal(anc_tokenizer_special_token(llama, "eos"), "</s>");
    assert_null(anc_tokenizer_special_token(llama, "pad"));
    assert_true(anc_tokenizer_model_max_length(llama) == INT64_MAX); /* 1e30 in the file */
    assert_null(anc_tokenizer_chat_template(llama, NULL));
    assert_int_equal(anc_tokenizer_eos_id(phi3), 32000);
    assert_int_equal(anc_tokenizer_pad_id(phi3), 32000);
    assert_int_equal(anc_tokenizer_add_bos(phi3), 0);
    assert_int_equal(anc_tokenizer_model_max_length(phi3), 4096);
    assert_int_equal(anc_tokenizer_chat_template_count(phi3), 1);
    assert_string_equal(anc_tokenizer_chat_template_name(phi3, 0), "default");
    const char *tpl = anc_tokenizer_chat_template(phi3, "default");
    assert_non_null(tpl);
    assert_non_null(strstr(tpl, "<|user|>"));
    assert_ptr_equal(anc_tokenizer_chat_template(phi3, NULL), tpl);
    assert_int_equal(anc_tokenizer_bos_id(smol), -1); /* no tokenizer_config.json in that folder */
    assert_int_equal(anc_tokenizer_token_to_id(smol, "<|im_end|>", 10), 2);
    anc_tokenizer_free(phi3);
    anc_tokenizer_free(smol);
    anc_tokenizer_free(llama);
}

static void test_config_forms(void **state) {
    (void)state;
    const char *config =
        "{\"bos_token\": {\"__type\": \"AddedToken\", \"content\": \"<s>\"}, \"eos_token\": \"</s>\","
        " \"pad_token\": \"<x>\", \"unk_token\": null, \"add_bos_token\": false, \"add_eos_token\": true,"
        " \"model_max_length\": 1000000000000000019884624838656,"
        " \"chat_template\": [{\"name\": \"default\", \"template\": \"{{ a }}\"},"
        "                     {\"name\": \"tool_use\", \"template\": \"{{ b }}\"}]}";
    anc_tokenizer *tok = NULL;
    anc_error err;
    TU_CHECK(anc_tokenizer_load_text(&tok, TOY_SPM, strlen(TOY_SPM), config, strlen(config), "toy.json", &err), &err);
    assert_int_equal(anc_tokenizer_bos_id(tok), 1);
    assert_int_equal(anc_tokenizer_eos_id(tok), 2);
    assert_int_equal(anc_tokenizer_pad_id(tok), 17);
    assert_int_equal(anc_tokenizer_unk_id(tok), 0); /* null in the config: the model's unk_token */
    assert_true(anc_tokenizer_model_max_length(tok) == INT64_MAX);
    assert_int_equal(anc_tokenizer_chat_template_count(tok), 2);
    assert_string_equal(anc_tokenizer_chat_template(tok, NULL), "{{ a }}");
    assert_string_equal(anc_tokenizer_chat_template(tok, "tool_use"), "{{ b }}");
    assert_null(anc_tokenizer_chat_template(tok, "nope"));
    assert_string_equal(anc_tokenizer_chat_template_name(tok, 1), "tool_use");
    assert_null(anc_tokenizer_chat_template_name(tok, 2));
    /* explicit add_bos/add_eos replace the post-processor's template */
    static const vector v = {"abc", 1, {5, 12, 2, END}, "abc</s>", "abc"};
    check_vector(tok, &v);
    anc_tokenizer_free(tok);

    const char *bad[] = {"{\"chat_template\": 3}", "{\"bos_token\": 5}", "{\"add_bos_token\": \"yes\"}", "[1]", "{"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        tok = (anc_tokenizer *)1;
        assert_int_equal(anc_tokenizer_load_text(&tok, TOY_SPM, strlen(TOY_SPM), bad[i], strlen(bad[i]), "toy.json", &err),
                         ANC_ERR_FORMAT);
        assert_null(tok);
        assert_non_null(strstr(err.message, "tokenizer_config.json"));
    }
}

/* Malformed tokenizer.json: an error naming the file and the JSON position
 * or key path, never a crash. */
static void test_malformed(void **state) {
    (void)state;
    static const struct {
        const char *json;
        anc_status code;
        const char *where; /* must appear in the message */
    } cases[] = {
        {"", ANC_ERR_FORMAT, "bad.json:"},
        {"not json", ANC_ERR_FORMAT, "bad.json:1:"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {}, \"merges\": []},\n \"added_tokens\": [,]}", ANC_ERR_FORMAT,
         "bad.json:2:"},
        {"[]", ANC_ERR_FORMAT, "top level"},
        {"{}", ANC_ERR_FORMAT, "model"},
        {"{\"model\": 3}", ANC_ERR_FORMAT, "model"},
        {"{\"model\": {\"type\": \"Unigram\", \"vocab\": []}}", ANC_ERR_UNSUPPORTED, "model.type"},
        {"{\"model\": {\"type\": \"WordPiece\", \"vocab\": {}}}", ANC_ERR_UNSUPPORTED, "WordPiece"},
        {"{\"model\": {\"vocab\": {}}}", ANC_ERR_UNSUPPORTED, "model"},
        {"{\"model\": {\"type\": \"BPE\", \"merges\": []}}", ANC_ERR_FORMAT, "vocab"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}}}", ANC_ERR_FORMAT, "merges"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": -1}, \"merges\": []}}", ANC_ERR_FORMAT, "model.vocab[\"a\"]"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": \"0\"}, \"merges\": []}}", ANC_ERR_FORMAT, "model.vocab"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1}, \"merges\": [\"a b\"]}}", ANC_ERR_FORMAT,
         "model.merges[0]"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"ab\": 1}, \"merges\": [\"a x\"]}}", ANC_ERR_FORMAT,
         "\"x\""},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [\"ab\"]}}", ANC_ERR_FORMAT, "no space"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [[\"a\"]]}}", ANC_ERR_FORMAT, "merges[0]"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [], \"dropout\": 0.1}}", ANC_ERR_UNSUPPORTED,
         "dropout"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 2000000000}, \"merges\": []}}", ANC_ERR_FORMAT, "far beyond"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {}, \"merges\": []}}", ANC_ERR_FORMAT, "empty"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}, \"pre_tokenizer\": {\"type\": \"Split\","
         " \"pattern\": {\"Regex\": \"(a\"}, \"behavior\": \"Isolated\", \"invert\": false}}",
         ANC_ERR_FORMAT, "pre_tokenizer.pattern.Regex"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}, \"normalizer\": {\"type\": \"Sequence\","
         " \"normalizers\": [{\"type\": \"Replace\", \"pattern\": {\"Regex\": \"[\"}, \"content\": \"\"}]}}",
         ANC_ERR_FORMAT, "normalizer.normalizers[0].pattern.Regex"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}, \"normalizer\": {\"type\": \"Precompiled\"}}",
         ANC_ERR_UNSUPPORTED, "normalizer"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}, \"pre_tokenizer\": {\"type\": \"Split\","
         " \"pattern\": {\"Regex\": \"a\"}, \"behavior\": \"Sideways\", \"invert\": false}}",
         ANC_ERR_FORMAT, "behavior"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}, \"pre_tokenizer\": {\"type\": \"Metaspace\","
         " \"replacement\": \"ab\"}}",
         ANC_ERR_FORMAT, "replacement"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}, \"decoder\": {\"type\": \"CTC\"}}",
         ANC_ERR_UNSUPPORTED, "decoder"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}, \"decoder\": {\"nope\": 1}}",
         ANC_ERR_FORMAT, "decoder"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}, \"post_processor\": {\"type\": "
         "\"TemplateProcessing\", \"single\": [{\"SpecialToken\": {\"id\": \"<s>\", \"type_id\": 0}}], \"special_tokens\": {}}}",
         ANC_ERR_FORMAT, "post_processor.single[0]"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}, \"added_tokens\": [{\"id\": 1}]}",
         ANC_ERR_FORMAT, "added_tokens[0]"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}, \"added_tokens\": {}}", ANC_ERR_FORMAT,
         "added_tokens"},
        {"{\"version\": \"2.0\", \"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}}", ANC_ERR_UNSUPPORTED,
         "version"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [], \"byte_fallback\": 1}}", ANC_ERR_FORMAT,
         "byte_fallback"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        anc_tokenizer *tok = (anc_tokenizer *)1;
        anc_error err;
        anc_status st = anc_tokenizer_load_text(&tok, cases[i].json, strlen(cases[i].json), NULL, 0, "bad.json", &err);
        if (st != cases[i].code || !strstr(err.message, cases[i].where) || !strstr(err.message, "bad.json"))
            fail_msg("case %zu: status %s, message \"%s\"; want %s and \"%s\"", i, anc_status_name(st), err.message,
                     anc_status_name(cases[i].code), cases[i].where);
        assert_null(tok);
    }
    /* a missing file is an I/O error naming it */
    anc_tokenizer *tok;
    anc_error err;
    assert_int_equal(anc_tokenizer_load(&tok, "/nonexistent/tokenizer.json", NULL, &err), ANC_ERR_IO);
    assert_non_null(strstr(err.message, "/nonexistent/tokenizer.json"));
    assert_int_equal(anc_tokenizer_load_dir(&tok, "/nonexistent", &err), ANC_ERR_IO);
}

static void test_bad_arguments(void **state) {
    (void)state;
    anc_tokenizer *tok = load_text(TOY_SPM);
    int32_t *ids;
    size_t n;
    anc_error err;
    assert_int_equal(anc_tokenizer_encode(tok, "ab\xC3(", 4, 0, &ids, &n, &err), ANC_ERR_INVALID);
    assert_non_null(strstr(err.message, "byte 2"));
    assert_int_equal(anc_tokenizer_encode(tok, "\xED\xA0\x80", 3, 0, &ids, &n, &err), ANC_ERR_INVALID); /* surrogate */
    assert_int_equal(anc_tokenizer_encode(tok, NULL, 3, 0, &ids, &n, &err), ANC_ERR_INVALID);
    const int32_t bad[] = {5, 99};
    char *text;
    size_t len;
    assert_int_equal(anc_tokenizer_decode(tok, bad, 2, 0, &text, &len, &err), ANC_ERR_INVALID);
    assert_non_null(strstr(err.message, "id 99 at position 1"));
    assert_null(text);
    TU_CHECK(anc_tokenizer_decode(tok, NULL, 0, 0, &text, &len, &err), &err);
    assert_string_equal(text, "");
    free(text);
    anc_tokenizer_free(tok);
    anc_tokenizer_free(NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_toy_sentencepiece_style),
        cmocka_unit_test(test_toy_byte_level),
        cmocka_unit_test(test_merge_strings),
        cmocka_unit_test(test_conformance_llama2),
        cmocka_unit_test(test_conformance_phi3),
        cmocka_unit_test(test_conformance_smollm2),
        cmocka_unit_test(test_mistral),
        cmocka_unit_test(test_gpt2_phi2),
        cmocka_unit_test(test_special_tokens),
        cmocka_unit_test(test_config_forms),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
