/* Internals of the tokenizer module (not a public API): the containers, the
 * component trees loaded from tokenizer.json and the anc_tokenizer object.
 * Every function that can fail returns anc_status and fills err. */
#ifndef ANCHOR_TOKENIZER_TK_INTERNAL_H
#define ANCHOR_TOKENIZER_TK_INTERNAL_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <jansson.h>
#include <pcre2.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/strbuf.h"
#include "tokenizer/tokenizer.h"

/* ---- growable byte buffer ---------------------------------------------- */
/* The library's string buffer (core/strbuf.h); the functions below add the
 * tokenizer's error reporting to it. */
typedef anc_sbuf anc_tk_buf;

/* Makes room for extra more bytes (plus a NUL kept after len). */
anc_status anc_tk_buf_reserve(anc_tk_buf *b, size_t extra, anc_error *err);
/* Appends n bytes of s (s must not point into b). */
anc_status anc_tk_buf_append(anc_tk_buf *b, const void *s, size_t n, anc_error *err);
void anc_tk_buf_free(anc_tk_buf *b);

/* ---- string -> int32 hash map (keys copied into the map) --------------- */
typedef struct {
    size_t off;    /* key bytes at keys.p + off */
    uint32_t len;
    uint32_t hash;
    int32_t value;
} anc_tk_strent;

typedef struct {
    uint32_t *slots; /* entry index + 1; 0 = empty; cap is a power of two */
    size_t cap;
    anc_tk_strent *ents;
    size_t n, ents_cap;
    anc_tk_buf keys;
} anc_tk_strmap;

uint32_t anc_tk_hash(const char *s, size_t len);
/* Index of the entry whose key is s[0..len), or -1. */
long anc_tk_strmap_find(const anc_tk_strmap *m, const char *s, size_t len);
/* Adds key -> value. When the key exists, keeps the old value and sets
 * *existed = 1 (existed may be NULL). *index (may be NULL) gets the entry. */
anc_status anc_tk_strmap_put(anc_tk_strmap *m, const char *s, size_t len, int32_t value,
                             int *existed, size_t *index, anc_error *err);
/* Key bytes of entry i (valid until the next put). */
const char *anc_tk_strmap_key(const anc_tk_strmap *m, size_t i);
void anc_tk_strmap_free(anc_tk_strmap *m);

/* ---- uint64 -> uint64 hash map (key UINT64_MAX is reserved) ------------ */
typedef struct {
    uint64_t *kv; /* interleaved key, value pairs: one cache line per probe */
    size_t cap, n;
} anc_tk_u64map;

/* 1 and *val when key is present, else 0. */
int anc_tk_u64map_get(const anc_tk_u64map *m, uint64_t key, uint64_t *val);
/* Inserts or overwrites key -> val. */
anc_status anc_tk_u64map_set(anc_tk_u64map *m, uint64_t key, uint64_t val, anc_error *err);
void anc_tk_u64map_free(anc_tk_u64map *m);

/* ---- UTF-8 and Unicode classes ----------------------------------------- */
/* 1 when s[0..len) is valid UTF-8 (no surrogates, no overlongs); else 0 and
 * *bad_at is the offset of the first bad byte. */
int anc_tk_utf8_valid(const char *s, size_t len, size_t *bad_at);
/* Decodes the code point at s[*i] of valid UTF-8 and advances *i. */
uint32_t anc_tk_utf8_next(const char *s, size_t len, size_t *i);
/* Byte length of the UTF-8 sequence starting with lead byte c (1 for
 * continuation or invalid bytes). */
size_t anc_tk_utf8_seq_len(unsigned char c);
/* Writes cp as UTF-8 into out (4 bytes room); returns the length. */
size_t anc_tk_utf8_put(uint32_t cp, char *out);
/* Appends bytes as text, replacing invalid sequences by U+FFFD the way
 * Rust's String::from_utf8_lossy does (one per maximal invalid subpart). */
anc_status anc_tk_append_lossy(anc_tk_buf *out, const unsigned char *bytes, size_t n, anc_error *err);

int anc_tk_is_whitespace(uint32_t cp); /* Unicode White_Space (Rust char::is_whitespace) */
int anc_tk_is_numeric(uint32_t cp);    /* general category N* (char::is_numeric) */
int anc_tk_is_punctuation(uint32_t cp);/* ASCII punctuation or category P* */
int anc_tk_is_word(uint32_t cp);       /* regex \w: letters, marks, Nd, Pc, joiners */

/* ---- regex (PCRE2, UTF + UCP) and splitting ----------------------------- */
typedef struct {
    pcre2_code *code;
    int jit;
} anc_tk_regex;

/* Compiles pattern[0..len) (literal = 1: match the text verbatim). where
 * names the source (file and key path) for the error message. */
anc_status anc_tk_regex_compile(anc_tk_regex *re, const char *pattern, size_t len, int literal,
                                const char *where, anc_error *err);
void anc_tk_regex_free(anc_tk_regex *re);

typedef struct {
    size_t start, end;
    int flag; /* is_match from find_matches; "remove" after anc_tk_spans_apply */
} anc_tk_span;

typedef struct {
    anc_tk_span *v;
    size_t n, cap;
} anc_tk_spans;

anc_status anc_tk_spans_push(anc_tk_spans *s, size_t start, size_t end, int flag, anc_error *err);
void anc_tk_spans_free(anc_tk_spans *s);

/* HF's Pattern::find_matches for a regex: ordered spans that cover
 * s[0..len), flag = 1 on matches (Oniguruma iteration: an empty match right
 * after the previous match is skipped). Appends to out (cleared first). */
anc_status anc_tk_regex_spans(const anc_tk_regex *re, pcre2_match_data *md, const char *s,
                              size_t len, anc_tk_spans *out, anc_error *err);

/* Same for a per-character predicate. */
typedef int (*anc_tk_char_pred)(uint32_t cp, const void *ctx);
anc_status anc_tk_pred_spans(anc_tk_char_pred pred, const void *ctx, const char *s, size_t len,
                             anc_tk_spans *out, anc_error *err);

typedef enum {
    ANC_TK_REMOVED = 0,
    ANC_TK_ISOLATED,
    ANC_TK_MERGED_WITH_PREVIOUS,
    ANC_TK_MERGED_WITH_NEXT,
    ANC_TK_CONTIGUOUS
} anc_tk_behavior;

/* Inverts the match flags when invert, then applies behavior: afterwards
 * each span's flag is 1 when the span is to be removed. */
void anc_tk_spans_apply(anc_tk_spans *s, anc_tk_behavior behavior, int invert);

/* ---- pieces of text flowing through the pipeline ------------------------ */
typedef struct {
    size_t off, len;   /* bytes in the owning pieces' text */
    int32_t id;        /* >= 0: already a token (an added token) */
    uint8_t at_origin; /* starts at offset 0 of the original input */
} anc_tk_piece;

typedef struct {
    anc_tk_buf text;
    anc_tk_piece *v;
    size_t n, cap;
} anc_tk_pieces;

/* Appends a piece with a copy of s[0..len) (s must not point into p). */
anc_status anc_tk_pieces_push(anc_tk_pieces *p, const char *s, size_t len, int32_t id, int at_origin,
                              anc_error *err);
void anc_tk_pieces_reset(anc_tk_pieces *p);
void anc_tk_pieces_free(anc_tk_pieces *p);

/* ---- component trees ---------------------------------------------------- */
enum {
    ANC_TK_N_SEQUENCE = 1, ANC_TK_N_PREPEND, ANC_TK_N_REPLACE, ANC_TK_N_NFC, ANC_TK_N_NFD,
    ANC_TK_N_NFKC, ANC_TK_N_NFKD, ANC_TK_N_LOWERCASE, ANC_TK_N_STRIP, ANC_TK_N_STRIP_ACCENTS,
    ANC_TK_N_BYTE_LEVEL
};

typedef struct anc_tk_normalizer {
    int kind;
    char *str; /* Prepend: prepend; Replace: content */
    size_t str_len;
    anc_tk_regex re; /* Replace pattern */
    int left, right; /* Strip */
    struct anc_tk_normalizer *kids;
    size_t n_kids;
} anc_tk_normalizer;

enum {
    ANC_TK_P_SEQUENCE = 1, ANC_TK_P_BYTE_LEVEL, ANC_TK_P_SPLIT, ANC_TK_P_DIGITS, ANC_TK_P_METASPACE,
    ANC_TK_P_WHITESPACE, ANC_TK_P_WHITESPACE_SPLIT, ANC_TK_P_PUNCTUATION, ANC_TK_P_BERT,
    ANC_TK_P_CHAR_DELIMITER
};
enum { ANC_TK_PREPEND_ALWAYS = 0, ANC_TK_PREPEND_FIRST, ANC_TK_PREPEND_NEVER };

typedef struct anc_tk_pretok {
    int kind;
    int add_prefix_space, use_regex; /* ByteLevel */
    anc_tk_regex re;                 /* Split, Whitespace */
    int behavior, invert;            /* Split, Punctuation */
    int individual_digits;           /* Digits */
    uint32_t ch;                     /* Metaspace replacement, CharDelimiterSplit delimiter */
    char ch_utf8[4];
    size_t ch_len;
    int prepend_scheme, split;       /* Metaspace */
    struct anc_tk_pretok *kids;
    size_t n_kids;
} anc_tk_pretok;

enum {
    ANC_TK_D_SEQUENCE = 1, ANC_TK_D_BYTE_LEVEL, ANC_TK_D_METASPACE, ANC_TK_D_BYTE_FALLBACK,
    ANC_TK_D_FUSE, ANC_TK_D_STRIP, ANC_TK_D_REPLACE, ANC_TK_D_BPE
};

typedef struct anc_tk_decoder {
    int kind;
    anc_tk_regex re; /* Replace pattern */
    char *str;       /* Replace content, BPEDecoder suffix */
    size_t str_len;
    uint32_t ch;     /* Strip content, Metaspace replacement */
    size_t start, stop;
    int prepend_scheme;
    struct anc_tk_decoder *kids;
    size_t n_kids;
} anc_tk_decoder;

enum { ANC_TK_PP_SEQUENCE = 1, ANC_TK_PP_TEMPLATE, ANC_TK_PP_BYTE_LEVEL, ANC_TK_PP_CLS_SEP };

typedef struct {
    int is_sequence; /* 1: the input sequence ($A); 0: special token ids */
    int32_t *ids;
    size_t n_ids;
} anc_tk_tpl_piece;

typedef struct anc_tk_postproc {
    int kind;
    anc_tk_tpl_piece *single; /* TemplateProcessing */
    size_t n_single;
    int32_t cls_id, sep_id; /* Bert/RobertaProcessing */
    struct anc_tk_postproc *kids;
    size_t n_kids;
} anc_tk_postproc;

/* ---- BPE model ---------------------------------------------------------- */
typedef struct {
    anc_tk_strmap vocab;   /* token -> id */
    anc_tk_u64map merges;  /* (a << 32 | b) -> (rank << 32 | merged id) */
    size_t n_merges;
    char *unk_token;       /* NULL when absent */
    size_t unk_len;
    char *prefix, *suffix; /* continuing_subword_prefix, end_of_word_suffix (NULL: none) */
    size_t prefix_len, suffix_len;
    int fuse_unk, byte_fallback, ignore_merges;
    int32_t byte_ids[256]; /* ids of <0xNN> tokens, -1 when missing */
} anc_tk_bpe;

/* ---- added tokens ------------------------------------------------------- */
typedef struct {
    char *content;
    size_t len;
    char *norm; /* content after the normalizer (normalized tokens), else NULL */
    size_t norm_len;
    int32_t id;
    uint8_t special, lstrip, rstrip, normalized, single_word;
} anc_tk_added;

typedef struct {
    anc_tk_u64map edges; /* node << 8 | byte -> child node */
    int32_t *term;       /* node -> added token index, or -1 */
    size_t n_nodes, cap;
    uint8_t first[32];   /* bitmap of first bytes */
} anc_tk_trie;

/* ---- the tokenizer ------------------------------------------------------ */
enum { ANC_TK_BOS = 0, ANC_TK_EOS, ANC_TK_PAD, ANC_TK_UNK, ANC_TK_N_SPECIAL };

typedef struct {
    const char *s;   /* the token (not NUL-terminated) */
    const char *dec; /* what decoding starts from: the normalized form of a
                        normalized added token (HF >= 0.23), else s */
    uint32_t len, dec_len;
    uint8_t special;
} anc_tk_idtok;

struct anc_tokenizer {
    char *source; /* label for messages (the tokenizer.json path) */
    anc_tk_bpe bpe;
    anc_tk_normalizer *normalizer;
    anc_tk_pretok *pretok;
    anc_tk_decoder *decoder;
    anc_tk_postproc *post;

    anc_tk_added *added;
    size_t n_added;
    anc_tk_strmap added_map; /* content -> index in added */
    anc_tk_trie trie_raw;    /* added tokens with normalized = false */
    anc_tk_trie trie_norm;   /* normalized forms of the others */

    anc_tk_idtok *ids; /* id -> token string */
    size_t n_ids;      /* one past the largest id */

    anc_tk_regex byte_level_re; /* the GPT-2 split pattern, when a ByteLevel uses it */
    char byte_char[256][2];     /* byte -> UTF-8 of its ByteLevel character */
    uint8_t byte_char_len[256];
    int16_t char_byte[324];     /* ByteLevel character -> byte, -1 if none */
    pcre2_match_data *md;

    void *bpe_syms; /* BPE scratch: symbols and merge heap */
    size_t bpe_syms_cap;
    uint64_t *bpe_heap;
    size_t bpe_heap_cap;

    anc_tk_strmap cache; /* word -> offset into cache_ids (count, ids...) */
    int32_t *cache_ids;
    size_t cache_ids_n, cache_ids_cap;

    char *special_str[ANC_TK_N_SPECIAL];
    int32_t special_id[ANC_TK_N_SPECIAL];
    int add_bos, add_eos;
    int64_t max_len;
    char **tpl_names, **tpl_texts;
    size_t n_tpl;
};

/* ---- loading helpers (load*.c) ----------------------------------------- */
typedef struct {
    const char *file; /* label of the file being read, for messages */
} anc_tk_ctx;

/* Key paths in messages look like "model.merges[3]"; ANC_TK_PATH bytes fit
 * any of them (longer ones are truncated). */
#define ANC_TK_PATH 192

/* Sets err to "<file>: <path>: <message>" and returns code. */
anc_status anc_tk_fail(anc_error *err, anc_status code, const anc_tk_ctx *cx, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Optional boolean member key of obj: absent or null gives def. */
anc_status anc_tk_get_bool(const anc_tk_ctx *cx, json_t *obj, const char *key, const char *path, int def, int *out,
                           anc_error *err);
/* String member: absent or null gives *s = NULL unless required. */
anc_status anc_tk_get_string(const anc_tk_ctx *cx, json_t *obj, const char *key, const char *path, int required,
                             const char **s, size_t *len, anc_error *err);
/* Member that must hold exactly one character: its code point and UTF-8. */
anc_status anc_tk_get_char(const anc_tk_ctx *cx, json_t *obj, const char *key, const char *path, uint32_t *cp,
                           char utf8[4], size_t *utf8_len, anc_error *err);
/* Non-negative integer member (absent gives def). */
anc_status anc_tk_get_size(const anc_tk_ctx *cx, json_t *obj, const char *key, const char *path, size_t def,
                           size_t *out, anc_error *err);
/* malloc'd NUL-terminated copy of s[0..len). */
anc_status anc_tk_dup(const char *s, size_t len, char **out, anc_error *err);
/* Member "type" of a component object, or fails naming path. */
anc_status anc_tk_get_type(const anc_tk_ctx *cx, json_t *obj, const char *path, const char **type, anc_error *err);

anc_status anc_tk_load_bpe(anc_tokenizer *tok, const anc_tk_ctx *cx, json_t *model, anc_error *err);
anc_status anc_tk_load_normalizer(anc_tk_normalizer *out, const anc_tk_ctx *cx, json_t *json, const char *path,
                                  anc_error *err);
anc_status anc_tk_load_pretok(anc_tokenizer *tok, anc_tk_pretok *out, const anc_tk_ctx *cx, json_t *json,
                              const char *path, anc_error *err);
anc_status anc_tk_load_decoder(anc_tk_decoder *out, const anc_tk_ctx *cx, json_t *json, const char *path,
                               anc_error *err);
anc_status anc_tk_load_postproc(anc_tokenizer *tok, anc_tk_postproc *out, const anc_tk_ctx *cx, json_t *json,
                                const char *path, anc_error *err);
anc_status anc_tk_load_config(anc_tokenizer *tok, const char *text, size_t len, const char *label,
                              anc_error *err);
/* The *_free functions release what a node owns (recursively), not the node. */
void anc_tk_normalizer_free(anc_tk_normalizer *n);
void anc_tk_pretok_free(anc_tk_pretok *p);
void anc_tk_decoder_free(anc_tk_decoder *d);
void anc_tk_postproc_free(anc_tk_postproc *p);

/* Reads member "pattern" ({"String": s} or {"Regex": r}) of obj into re. */
anc_status anc_tk_load_pattern(anc_tk_regex *re, const anc_tk_ctx *cx, json_t *obj, const char *path,
                               anc_error *err);
/* Split behavior name ("Isolated", ...) -> anc_tk_behavior, or -1. */
int anc_tk_behavior_from_name(const char *name);

/* ---- added tokens (added_tokens.c) ------------------------------------- */
anc_status anc_tk_trie_add(anc_tk_trie *t, const char *s, size_t len, int32_t index, anc_error *err);
void anc_tk_trie_free(anc_tk_trie *t);
/* Splits every untokenised piece of in at the added tokens of trie (HF's
 * AddedVocabulary::find_matches), appending to out. With normalize = 1 each
 * untokenised piece first goes through the tokenizer's normalizer. */
anc_status anc_tk_split_added(anc_tokenizer *tok, const anc_tk_trie *trie, int normalize,
                              const anc_tk_pieces *in, anc_tk_pieces *out, anc_error *err);

/* ---- pipeline stages ---------------------------------------------------- */
/* Normalizes s[0..len) into out (cleared first). */
anc_status anc_tk_normalize(anc_tokenizer *tok, const anc_tk_normalizer *n, const char *s, size_t len,
                            anc_tk_buf *out, anc_error *err);
/* Runs pre-tokenizer p over the pieces in *cur, leaving the result in *cur
 * (*tmp is scratch). */
anc_status anc_tk_pretokenize(anc_tokenizer *tok, const anc_tk_pretok *p, anc_tk_pieces *cur,
                              anc_tk_pieces *tmp, anc_error *err);
/* GPT-2's split pattern, used by ByteLevel when use_regex is set. */
extern const char anc_tk_gpt2_pattern[];
/* Sets up the ByteLevel byte <-> character tables. */
void anc_tk_byte_level_tables(anc_tokenizer *tok);
/* Appends the BPE ids of word[0..len) to *ids (count *n, capacity *cap). */
anc_status anc_tk_bpe_word(anc_tokenizer *tok, const char *word, size_t len, int32_t **ids, size_t *n,
                           size_t *cap, anc_error *err);
/* Appends id to a growable id array. */
anc_status anc_tk_ids_push(int32_t **ids, size_t *n, size_t *cap, int32_t id, anc_error *err);

#endif
