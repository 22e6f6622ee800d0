#include "demo/tokenizer.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char ALPHABET[] = "0123456789abcdefghijklmnopqrstuvwxyzABEINOQST \n.:,;";

/* Words whose left-to-right prefixes become merges ("Nu", "Num", ...). */
static const char *const WORDS[] = {"Numbers", " numbers", "Odd",   "Even",  "Sum",  "Above",    "Below",
                                    " in",     " order",   " then", " their", " sum", "creasing", NULL};

/* Merges of whole pieces, applied after WORDS: " in"+"creasing",
 * " de"+"creasing", " "+"Sum", "."+" Sum". */
static const char *const JOINS[][2] = {{" in", "creasing"}, {" ", "d"},   {" d", "e"},      {" de", "creasing"},
                                       {" ", "Sum"},        {".", " Sum"}, {NULL, NULL}};

static const char *const SPECIALS[] = {"<pad>", "<s>", "</s>", "<unk>"};

static const char CHAT_TEMPLATE[] =
    "{{ bos_token }}{% for m in messages %}{% if m['role'] == 'user' %}Q: {{ m['content'] }}\nA: {% else %}"
    "{{ m['content'] }}{{ eos_token }}{% endif %}{% endfor %}";

static int set_new(json_t *obj, const char *key, json_t *v) { return !v || json_object_set_new(obj, key, v) != 0; }

static json_t *added_token(int id, const char *content) {
    return json_pack("{s:i, s:s, s:b, s:b, s:b, s:b, s:b}", "id", id, "content", content, "single_word", 0, "lstrip",
                     0, "rstrip", 0, "normalized", 0, "special", 1);
}

static json_t *build_tokenizer(void) {
    json_t *root = json_object(), *vocab = json_object(), *merges = json_array(), *added = json_array();
    int bad = !root || !vocab || !merges || !added;
    int id = 0;
    for (size_t i = 0; i < sizeof SPECIALS / sizeof *SPECIALS && !bad; i++, id++) {
        bad |= set_new(vocab, SPECIALS[i], json_integer(id));
        bad |= json_array_append_new(added, added_token(id, SPECIALS[i])) != 0;
    }
    for (const char *c = ALPHABET; *c && !bad; c++) {
        char s[2] = {*c, 0};
        bad |= set_new(vocab, s, json_integer(id++));
    }
    for (size_t w = 0; WORDS[w] && !bad; w++) {
        size_t len = strlen(WORDS[w]);
        char left[32], whole[32];
        for (size_t k = 1; k < len && !bad; k++) {
            memcpy(left, WORDS[w], k);
            left[k] = 0;
            memcpy(whole, WORDS[w], k + 1);
            whole[k + 1] = 0;
            if (json_object_get(vocab, whole)) continue; /* a prefix shared with an earlier word */
            char right[2] = {WORDS[w][k], 0};
            bad |= set_new(vocab, whole, json_integer(id++));
            bad |= json_array_append_new(merges, json_pack("[s, s]", left, right)) != 0;
        }
    }
    for (size_t j = 0; JOINS[j][0] && !bad; j++) {
        char whole[32];
        snprintf(whole, sizeof whole, "%s%s", JOINS[j][0], JOINS[j][1]);
        bad |= set_new(vocab, whole, json_integer(id++));
        bad |= json_array_append_new(merges, json_pack("[s, s]", JOINS[j][0], JOINS[j][1])) != 0;
    }
    /* Every two-digit number is one token (merges "1"+"0" -> "10", ...), and
     * so is every number 1..99 with the space before it (" "+"7", " "+"10"):
     * a tiny model learns to select and order numbers far more easily when
     * it does not have to assemble them from digits, and the shorter
     * sequences make the demo's training cheaper. */
    for (int d1 = 1; d1 <= 9 && !bad; d1++)
        for (int d2 = 0; d2 <= 9 && !bad; d2++) {
            char l[2] = {(char)('0' + d1), 0}, r[2] = {(char)('0' + d2), 0}, both[3] = {l[0], r[0], 0};
            bad |= set_new(vocab, both, json_integer(id++));
            bad |= json_array_append_new(merges, json_pack("[s, s]", l, r)) != 0;
        }
    for (int v = 1; v <= 99 && !bad; v++) {
        char num[16], spaced[16]; /* sized for any int: -O0 cannot see v <= 99 */
        snprintf(num, sizeof num, "%d", v);
        snprintf(spaced, sizeof spaced, " %d", v);
        bad |= set_new(vocab, spaced, json_integer(id++));
        bad |= json_array_append_new(merges, json_pack("[s, s]", " ", num)) != 0;
    }
    json_t *model = json_pack("{s:s, s:n, s:s, s:n, s:n, s:b, s:b, s:b, s:O, s:O}", "type", "BPE", "dropout",
                              "unk_token", "<unk>", "continuing_subword_prefix", "end_of_word_suffix", "fuse_unk", 0,
                              "byte_fallback", 0, "ignore_merges", 0, "vocab", vocab, "merges", merges);
    json_t *post = json_pack(
        "{s:s, s:[{s:{s:s, s:i}}, {s:{s:s, s:i}}], s:[{s:{s:s, s:i}}, {s:{s:s, s:i}}, {s:{s:s, s:i}}, {s:{s:s, s:i}}],"
        " s:{s:{s:s, s:[i], s:[s]}}}",
        "type", "TemplateProcessing", "single", "SpecialToken", "id", "<s>", "type_id", 0, "Sequence", "id", "A",
        "type_id", 0, "pair", "SpecialToken", "id", "<s>", "type_id", 0, "Sequence", "id", "A", "type_id", 0,
        "SpecialToken", "id", "<s>", "type_id", 1, "Sequence", "id", "B", "type_id", 1, "special_tokens", "<s>", "id",
        "<s>", "ids", 1, "tokens", "<s>");
    bad |= set_new(root, "version", json_string("1.0"));
    bad |= set_new(root, "truncation", json_null());
    bad |= set_new(root, "padding", json_null());
    bad |= set_new(root, "added_tokens", json_incref(added));
    bad |= set_new(root, "normalizer", json_null());
    bad |= set_new(root, "pre_tokenizer", json_null());
    bad |= set_new(root, "post_processor", post);
    bad |= set_new(root, "decoder", json_pack("{s:s}", "type", "Fuse"));
    bad |= set_new(root, "model", model);
    json_decref(vocab);
    json_decref(merges);
    json_decref(added);
    if (bad) {
        json_decref(root);
        return NULL;
    }
    return root;
}

anc_status anc_demo_tokenizer_json(char **json_text, char **config_text, anc_error *err) {
    *json_text = NULL;
    if (config_text) *config_text = NULL;
    json_t *tok = build_tokenizer();
    json_t *cfg = json_pack("{s:s, s:s, s:s, s:s, s:b, s:b, s:i, s:s, s:s}", "bos_token", "<s>", "eos_token", "</s>",
                            "pad_token", "<pad>", "unk_token", "<unk>", "add_bos_token", 1, "add_eos_token", 0,
                            "model_max_length", 512, "tokenizer_class", "PreTrainedTokenizerFast", "chat_template",
                            CHAT_TEMPLATE);
    char *j = tok ? json_dumps(tok, JSON_INDENT(1) | JSON_PRESERVE_ORDER) : NULL;
    char *c = cfg && config_text ? json_dumps(cfg, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(tok);
    json_decref(cfg);
    if (!j || (config_text && !c)) {
        free(j);
        free(c);
        return anc_error_set(err, ANC_ERR_NOMEM, "demo tokenizer: out of memory");
    }
    *json_text = j;
    if (config_text) *config_text = c;
    return ANC_OK;
}
