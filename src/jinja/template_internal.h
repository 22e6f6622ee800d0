/* Internal declarations shared by the template_*.c files (the chat-template
 * engine behind jinja/template.h). Not a public header.
 *
 * Layout: template_lexer.c (source -> tokens, whitespace control),
 * template_parse_expr.c / template_parse_stmt.c (tokens -> AST),
 * template_value.c (values, str/repr, equality, ordering),
 * template_json.c (context conversion, tojson), template_eval.c (expressions),
 * template_exec.c (statements, render entry point), template_filters.c,
 * template_methods.c (tests, globals, dict/list methods), template_strings.c
 * (str methods, case mapping), template_format.c (% formatting, str.format,
 * strftime), template_mem.c (arena, buffers, UTF-8, float text),
 * template_builtin.c (named templates).
 *
 * Functions shared between these files are prefixed anc_tpl_ (engine) and
 * anc_tv_ (values); internal types keep short tpl_ / tv names.
 *
 * Errors: functions returning int give 0 on success and nonzero after
 * recording the error (anc_tpl_fail) in the render state.
 *
 * Memory: the AST lives in the template's arena; every value made during a
 * render lives in the render's arena, freed in one go when the render ends.
 * Values are immutable except namespaces, so sharing them is safe. */
#ifndef ANCHOR_TOKENIZER_TEMPLATE_INTERNAL_H
#define ANCHOR_TOKENIZER_TEMPLATE_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "jinja/template.h"

/* ------------------------------------------------------------- limits */

#define TPL_MAX_PARSE_DEPTH 96      /* nested expressions / blocks in the source */
/* Height of the syntax tree, counted after parsing: left-associative chains
 * (a + b + c ..., x|f|g ..., a.b.c ..., f()() ...) are built in loops, so
 * only the finished tree shows how deep evaluation will recurse. Real chat
 * templates stay under 40. */
#define TPL_MAX_TREE_DEPTH 256
/* Nested evaluations + statements during one render (macro calls included):
 * bounds the C stack a render can use, whatever the template. Measured: the
 * full 1500 levels fit in 1 MiB of stack in a release build and in 4 MiB
 * under ASan (threads get 8 MiB by default). */
#define TPL_MAX_RENDER_NESTING 1500
/* ...and the C stack itself, measured from where the render started: frame
 * sizes vary (an unoptimised clang ASan build overflowed an 8 MiB stack
 * within 1500 levels), so the byte count is the bound that holds for every
 * build; 1 MiB leaves room in a 2 MiB thread stack. */
#define TPL_MAX_STACK_BYTES ((uintptr_t)1 << 20)
#define TPL_MAX_MACRO_DEPTH 64      /* nested macro calls at render time */
#define TPL_MAX_VALUE_DEPTH 256     /* nesting of values walked by repr/tojson/== */
#define TPL_MAX_RANGE 100000        /* items range() may produce (jinja2's MAX_RANGE) */
#define TPL_DEFAULT_MAX_OUTPUT ((size_t)64 << 20)
#define TPL_DEFAULT_MAX_MEMORY ((size_t)512 << 20)
#define TPL_DEFAULT_MAX_STEPS ((uint64_t)50000000)

/* ------------------------------------------------------------- memory */

typedef struct tpl_chunk tpl_chunk;

typedef struct tpl_arena {
    tpl_chunk *head;
    size_t total; /* bytes obtained from malloc */
    size_t limit; /* 0: unlimited */
    void *last;   /* most recent allocation (may grow in place) */
    size_t last_size;
} tpl_arena;

void anc_tpl_arena_init(tpl_arena *a, size_t limit);
void anc_tpl_arena_free(tpl_arena *a);
/* 16-byte aligned, uninitialised; NULL when malloc fails or the limit is hit. */
void *anc_tpl_alloc(tpl_arena *a, size_t n);
/* Zero-filled anc_tpl_alloc with an overflow-checked count * size. */
void *anc_tpl_calloc(tpl_arena *a, size_t count, size_t size);
/* Grows p (old_n bytes, from this arena) to new_n, in place when p is the
 * last allocation; otherwise copies. NULL on failure (p stays valid). */
void *anc_tpl_grow(tpl_arena *a, void *p, size_t old_n, size_t new_n);

/* Growable byte string: arena-backed when arena != NULL, else malloc. */
typedef struct tpl_buf {
    char *p;
    size_t n, cap;
    size_t max; /* 0: unlimited */
    tpl_arena *arena;
} tpl_buf;

/* 0 on success, -1 when out of memory, -2 when max would be exceeded. */
int anc_tpl_buf_put(tpl_buf *b, const char *s, size_t n);
int anc_tpl_buf_putc(tpl_buf *b, char c);
int anc_tpl_buf_printf(tpl_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ------------------------------------------------------------- UTF-8 */

/* Decodes the code point at s[i] (i < n); returns its byte length (1 for an
 * invalid byte, whose value is then the byte itself). */
size_t anc_tpl_u8_next(const char *s, size_t n, size_t i, uint32_t *cp);
/* Encodes cp (<= 0x10FFFF) into out; returns 1..4. */
size_t anc_tpl_u8_put(uint32_t cp, char out[4]);
/* Number of code points in s[0..n). */
size_t anc_tpl_u8_len(const char *s, size_t n);
/* Byte offset of code point index idx (<= length) in s. */
size_t anc_tpl_u8_offset(const char *s, size_t n, size_t idx);
/* First occurrence of needle in hay (memmem without feature macros); NULL if none. */
const char *anc_tpl_memfind(const char *hay, size_t n, const char *needle, size_t k);
/* Python str.isspace() for one code point. */
int anc_tpl_py_space(uint32_t cp);
/* Length in bytes of the run of Python whitespace at the start / end. */
size_t anc_tpl_lspace(const char *s, size_t n);
size_t anc_tpl_rspace(const char *s, size_t n);
/* Python-style float repr ("1.0", "1e+16", "0.1") into out (>= 32 bytes). */
void anc_tpl_fmt_float(double x, char *out, size_t cap);
/* Parses a decimal float literal (digits, '.', exponent, no underscores)
 * independent of the C locale. Returns 0 on success. */
int anc_tpl_parse_float(const char *s, size_t n, double *out);

/* ------------------------------------------------------------- values */

typedef enum tv_kind {
    TV_UNDEF = 0, TV_NONE, TV_BOOL, TV_INT, TV_FLOAT, TV_STR,
    TV_LIST, /* also tuples (flag) */
    TV_DICT,
    TV_NS, /* namespace(): a dict whose attributes can be assigned */
    TV_MACRO,
    TV_FUNC,   /* global function: u.i is a tpl_global id */
    TV_METHOD, /* bound method */
    TV_LOOP
} tv_kind;

typedef struct tv_list tv_list;
typedef struct tv_dict tv_dict;
typedef struct tv_macro tv_macro;
typedef struct tv_method tv_method;
typedef struct tpl_loop tpl_loop;

/* What a TV_LIST stands for when it is not a plain list or tuple: the lazy
 * iterators jinja2 filters return (always truthy, no len(), not
 * subscriptable, printed as "<generator object ...>") and dict views. */
enum {
    FL_NONE = 0,
    FL_GEN_SELECT, /* select, reject, selectattr, rejectattr */
    FL_GEN_MAP,
    FL_GEN_UNIQUE,
    FL_GEN_ITEMS, /* the items filter */
    FL_GEN_BATCH,
    FL_REV_LIST, /* reverse filter: reversed(list) ... */
    FL_REV_TUPLE,
    FL_REV_DICT,
    FL_DICT_ITEMS, /* dict.items(), keys(), values() */
    FL_DICT_KEYS, FL_DICT_VALUES
};
#define TV_IS_ITERATOR(v) ((v).kind == TV_LIST && (v).flavor >= FL_GEN_SELECT && (v).flavor <= FL_REV_DICT)

typedef struct tv {
    uint8_t kind;
    uint8_t tuple;  /* TV_LIST: repr as a tuple */
    uint8_t unsafe; /* TV_UNDEF: made by a sandbox refusal (calling it fails) */
    uint8_t flavor; /* TV_LIST: FL_* */
    union {
        int64_t i; /* TV_INT, TV_BOOL (0/1), TV_FUNC id */
        double f;
        struct {
            const char *p; /* TV_STR text; TV_UNDEF: name for error messages (may be NULL) */
            size_t n;
        } s;
        tv_list *l;
        tv_dict *d;
        tv_macro *m;
        tv_method *meth;
        tpl_loop *loop;
    } u;
} tv;

struct tv_list {
    size_t n;
    tv *items;
};

struct tv_dict {
    size_t n, cap;
    tv *keys;
    tv *vals;
};

struct tv_method {
    tv self;
    int id; /* tpl_method id */
};

/* ------------------------------------------------------------- lexer */

typedef enum tpl_tok_kind {
    TK_EOF = 0, TK_DATA, TK_VAR_BEGIN, TK_VAR_END, TK_BLOCK_BEGIN, TK_BLOCK_END, TK_NAME, TK_STRING, TK_INT,
    TK_FLOAT, TK_OP
} tpl_tok_kind;

typedef enum tpl_op {
    OP_NONE = 0, OP_ADD, OP_SUB, OP_DIV, OP_FLOORDIV, OP_MUL, OP_MOD, OP_POW, OP_TILDE, OP_LBRACKET, OP_RBRACKET,
    OP_LPAREN, OP_RPAREN, OP_LBRACE, OP_RBRACE, OP_EQ, OP_NE, OP_GT, OP_GE, OP_LT, OP_LE, OP_ASSIGN, OP_DOT,
    OP_COLON, OP_PIPE, OP_COMMA, OP_SEMICOLON,
    /* not tokens: operators of AST nodes */
    OP_IN, OP_NOTIN, OP_AND, OP_OR, OP_NOT, OP_NEG, OP_POS
} tpl_op;

typedef struct tpl_tok {
    tpl_tok_kind kind;
    tpl_op op;
    uint32_t line, col;
    const char *p; /* DATA/STRING: decoded text (arena); NAME: identifier; INT/FLOAT: source */
    size_t n;
    int64_t i;
    double f;
} tpl_tok;

/* The template's own arena, symbols and AST. */
typedef struct tpl_node tpl_node;

struct anc_template {
    tpl_arena arena;
    char *label;
    char **sym_names; /* interned identifiers; the first TPL_SYM_BUILTIN_COUNT are fixed */
    size_t *sym_lens;
    size_t n_syms, cap_syms;
    int *sym_hash;    /* open addressing: symbol id + 1, 0 = empty; sym_hash_cap slots (power of 2) */
    size_t sym_hash_cap;
    tpl_node *root; /* S_BODY */
};

/* Fixed symbol ids (interned first, in this order, by anc_tpl_syms_init). */
enum {
    SYM_LOOP = 0, SYM_VARARGS, SYM_KWARGS, SYM_CALLER, SYM_RANGE, SYM_DICT, SYM_NAMESPACE, SYM_RAISE_EXCEPTION,
    SYM_STRFTIME_NOW, SYM_CYCLER, SYM_JOINER, SYM_LIPSUM, TPL_SYM_BUILTIN_COUNT
};

/* Tokenizes source (newlines normalised, trailing newline dropped,
 * trim_blocks + lstrip_blocks applied). On error fills err (FORMAT). */
anc_status anc_tpl_lex(anc_template *t, const char *src, size_t len, tpl_tok **toks, size_t *n_toks, anc_error *err);

/* ------------------------------------------------------------- AST */

typedef enum tpl_node_kind {
    /* expressions */
    N_CONST = 1, N_NAME, N_GETATTR, N_GETITEM, N_SLICE, N_CALL, N_FILTER, N_TEST, N_UNARY, N_BIN, N_AND, N_OR,
    N_CMP, N_COND, N_LIST, N_TUPLE, N_DICT, N_BLOCKVAL,
    /* statements */
    S_BODY, S_TEXT, S_OUT, S_IF, S_FOR, S_SET, S_SETBLOCK, S_MACRO, S_CALLBLOCK, S_FILTERBLOCK, S_WITH, S_BREAK,
    S_CONTINUE
} tpl_node_kind;

/* Assignment targets (S_SET, S_SETBLOCK, S_FOR): a name, a tuple of names, or ns.attr. */
typedef struct tpl_target {
    int *syms;
    size_t n;
    int is_tuple;
    tv attr; /* TV_STR: `set ns.attr` (syms[0] is ns) */
} tpl_target;

struct tpl_node {
    tpl_node_kind kind;
    int op;           /* tpl_op, filter id, test id */
    uint32_t line, col;
    tpl_node *a, *b, *c, *d;
    tpl_node **items; /* args / list items / dict keys / body */
    size_t n_items;
    tpl_node **items2; /* kwarg values / dict values / else body */
    size_t n_items2;
    tv *names;         /* kwarg names (TV_STR), n_items2 of them; macro param names */
    int *ops;          /* N_CMP operators, n_items of them */
    int sym;           /* N_NAME, macro name */
    int *params;       /* macro / call-block parameter syms */
    tpl_node **defaults; /* their defaults (NULL entries: none) */
    size_t n_params;
    tpl_target target;
    tv value;          /* N_CONST, S_TEXT, N_GETATTR name, filter/test name */
};

/* Interns name, returns its id (or -1 when out of memory). */
int anc_tpl_sym_intern(anc_template *t, const char *name, size_t n);
anc_status anc_tpl_syms_init(anc_template *t, anc_error *err);

typedef struct tpl_parser {
    anc_template *t;
    const tpl_tok *toks;
    size_t n, pos;
    int depth;
    int loop_depth; /* for break/continue */
    anc_error *err;
} tpl_parser;

/* template_parse_expr.c */
tpl_node *anc_tpl_new_node(tpl_parser *p, tpl_node_kind kind, const tpl_tok *at);
const tpl_tok *anc_tpl_peek(tpl_parser *p);
const tpl_tok *anc_tpl_peek2(tpl_parser *p);
const tpl_tok *anc_tpl_next(tpl_parser *p);
int anc_tpl_is_name(const tpl_tok *tk, const char *name);
int anc_tpl_is_op(const tpl_tok *tk, tpl_op op);
/* Sets a FORMAT error at tk ("label:line:col: msg"); returns NULL. */
void *anc_tpl_syntax_error(tpl_parser *p, const tpl_tok *tk, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void *anc_tpl_unsupported(tpl_parser *p, const tpl_tok *tk, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void *anc_tpl_oom(tpl_parser *p);
int anc_tpl_expect_op(tpl_parser *p, tpl_op op, const char *what);
const char *anc_tpl_tok_desc(const tpl_tok *tk, char *buf, size_t cap);
tpl_node *anc_tpl_parse_expression(tpl_parser *p, int with_condexpr);
tpl_node *anc_tpl_parse_tuple(tpl_parser *p, int simplified, int with_condexpr, const char *const *end_names,
                              int explicit_parens);
tpl_node *anc_tpl_parse_filter_chain(tpl_parser *p, tpl_node *input, int start_inline);
int anc_tpl_parse_call_args(tpl_parser *p, tpl_node *call);
/* template_parse_stmt.c */
anc_status anc_tpl_parse(anc_template *t, const tpl_tok *toks, size_t n, anc_error *err);

/* ------------------------------------------------------------- render */

typedef struct tpl_frame tpl_frame;
struct tpl_frame {
    tpl_frame *parent;
    size_t n, cap;
    int *syms;
    tv *vals;
    int captured; /* a macro closes over it: do not reuse */
};

struct tv_macro {
    const tpl_node *def; /* S_MACRO or S_CALLBLOCK */
    tpl_frame *closure;
    const char *name;
    size_t name_len;
};

struct tpl_loop {
    tv_list *items;
    size_t index0;
};

typedef struct tpl_rs {
    const anc_template *t;
    tpl_arena arena;
    anc_error *err;
    tv *ctx;         /* per symbol; kind TV_UNDEF with ctx_set[sym] == 0: absent */
    uint8_t *ctx_set;
    tpl_frame *root;
    tpl_frame *frame; /* current scope */
    tpl_buf *out;
    int failed;       /* an error is recorded in err */
    int macro_depth;
    int nesting;  /* evaluations + statements on the C stack (TPL_MAX_RENDER_NESTING) */
    uintptr_t stack_base; /* frame address where the render started (TPL_MAX_STACK_BYTES) */
    int loop_ctl; /* 1: break, 2: continue pending */
    uint64_t steps, max_steps;
    int64_t now;
    tv block_value; /* N_BLOCKVAL (filter blocks, set blocks) */
} tpl_rs;

/* 1 when one more nested evaluation or statement is not allowed. */
static inline int anc_tpl_too_deep(const tpl_rs *r) {
    uintptr_t here = (uintptr_t)__builtin_frame_address(0);
    return r->nesting >= TPL_MAX_RENDER_NESTING || (r->stack_base > here && r->stack_base - here > TPL_MAX_STACK_BYTES);
}

/* Error helpers: set r->err to "label:line:col: msg" and return -1. */
int anc_tpl_fail(tpl_rs *r, const tpl_node *at, anc_status code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int anc_tpl_oom_rs(tpl_rs *r, const tpl_node *at);
/* Maps an anc_tpl_buf_put result to an error (-1 OOM, -2 output too large). */
int anc_tpl_buf_check(tpl_rs *r, const tpl_node *at, int rc);

/* template_value.c */
tv anc_tv_undef(void);
tv anc_tv_undef_named(const char *name, size_t n);
tv anc_tv_none(void);
tv anc_tv_bool(int b);
tv anc_tv_int(int64_t i);
tv anc_tv_float(double f);
tv anc_tv_str(const char *p, size_t n);
tv anc_tv_cstr(const char *p);
int anc_tv_is_num(tv v); /* int, float or bool */
double anc_tv_num(tv v);
int anc_tv_truthy(tv v);
const char *anc_tv_type_name(tv v);
/* Arena copy of n bytes as a string value; returns -1 on OOM. */
int anc_tv_str_copy(tpl_rs *r, const tpl_node *at, const char *p, size_t n, tv *out);
tv_list *anc_tv_list_new(tpl_rs *r, size_t n);
tv_dict *anc_tv_dict_new(tpl_rs *r, size_t cap);
int anc_tv_dict_set(tpl_rs *r, tv_dict *d, tv key, tv val);
/* Index of key in d or -1. */
long anc_tv_dict_find(const tv_dict *d, tv key);
long anc_tv_dict_find_str(const tv_dict *d, const char *s, size_t n);
/* Python ==. depth guards cycles (namespaces can contain themselves). */
int anc_tv_eq(tv a, tv b, int depth);
/* Python <, setting *lt; -1 with an error for unorderable types. */
int anc_tv_less(tpl_rs *r, const tpl_node *at, tv a, tv b, int *lt);
/* Appends str(v) / repr(v). */
int anc_tv_str_append(tpl_rs *r, const tpl_node *at, tpl_buf *b, tv v);
int anc_tv_repr_append(tpl_rs *r, const tpl_node *at, tpl_buf *b, tv v, int depth);
/* str(v) as a string value (no copy when v already is one). */
int anc_tv_to_str(tpl_rs *r, const tpl_node *at, tv v, tv *out);
/* The items iterating v yields (list items, dict keys, string chars); the
 * list may be shared with v. Undefined iterates as empty. */
int anc_tv_iterate(tpl_rs *r, const tpl_node *at, tv v, tv_list **out);
/* Python len(); -1 with an error when v has none. */
int anc_tv_length(tpl_rs *r, const tpl_node *at, tv v, int64_t *out);
/* A fresh mutable scratch buffer in the render arena. */
void anc_tpl_scratch(tpl_rs *r, tpl_buf *b);
/* Finishes a scratch buffer into a string value. */
tv anc_tpl_scratch_done(tpl_buf *b);

/* template_json.c */
int anc_tpl_from_json(tpl_rs *r, const json_t *j, tv *out, int depth);
/* Python json.dumps(v, ensure_ascii, indent, separators, sort_keys) into b.
 * indent_str NULL: no indent. item_sep / key_sep not strings: the defaults. */
int anc_tpl_tojson(tpl_rs *r, const tpl_node *at, tpl_buf *b, tv v, int ensure_ascii, const char *indent_str,
                   size_t indent_len, tv item_sep, tv key_sep, int sort_keys);

/* template_eval.c */
int anc_tpl_eval(tpl_rs *r, const tpl_node *n, tv *out);
int anc_tpl_lookup(tpl_rs *r, int sym, tv *out);
int anc_tpl_frame_set(tpl_rs *r, const tpl_node *at, tpl_frame *f, int sym, tv v);
tpl_frame *anc_tpl_frame_new(tpl_rs *r, const tpl_node *at, tpl_frame *parent);
/* jinja2 environment.getattr / getitem (sandboxed). */
int anc_tpl_getattr(tpl_rs *r, const tpl_node *at, tv obj, const char *name, size_t n, tv *out);
int anc_tpl_getitem(tpl_rs *r, const tpl_node *at, tv obj, tv key, tv *out);
/* Calls a value with evaluated arguments. */
typedef struct tpl_args {
    tv *pos;
    size_t npos;
    const tv *kw_names; /* TV_STR */
    tv *kw;
    size_t nkw;
} tpl_args;
int anc_tpl_call_value(tpl_rs *r, const tpl_node *at, tv fn, tpl_args *a, tv *out);
int anc_tpl_eval_args(tpl_rs *r, const tpl_node *n, tpl_args *a);
/* Argument i by position or by name; returns 1 when present. */
int anc_tpl_arg(const tpl_args *a, size_t i, const char *name, tv *out);
/* Fails unless every argument is one of the first max positional/named ones. */
int anc_tpl_args_check(tpl_rs *r, const tpl_node *at, const tpl_args *a, const char *fname, size_t max,
                       const char *const *names);
int anc_tpl_binop(tpl_rs *r, const tpl_node *at, int op, tv a, tv b, tv *out);
int anc_tpl_contains(tpl_rs *r, const tpl_node *at, tv container, tv item, int *out);

/* template_exec.c */
int anc_tpl_exec_body(tpl_rs *r, const tpl_node *body);
int anc_tpl_call_macro(tpl_rs *r, const tpl_node *at, const tv_macro *m, tpl_args *a, const tv *caller, tv *out);

/* template_filters.c */
/* Filter id for a name, -1 when unknown, -2 when jinja2 has it but anchor does not. */
int anc_tpl_filter_id(const char *name, size_t n);
int anc_tpl_apply_filter(tpl_rs *r, const tpl_node *at, int id, tv in, tpl_args *a, tv *out);
/* Python %-formatting: fmt % args (a tuple supplies several arguments, a
 * dict feeds %(name)s). */
int anc_tpl_percent_format(tpl_rs *r, const tpl_node *at, tv fmt, tv args, tv *out);

/* template_methods.c */
int anc_tpl_test_id(const char *name, size_t n);
int anc_tpl_apply_test(tpl_rs *r, const tpl_node *at, int id, tv in, tpl_args *a, int *out);
/* Method lookup: id >= 0 when obj's Python type has an attribute name that
 * is a method (-2: exists but is unsafe in the immutable sandbox). */
int anc_tpl_method_id(tv obj, const char *name, size_t n);
int anc_tpl_call_method(tpl_rs *r, const tpl_node *at, tv self, int id, tpl_args *a, tv *out);
const char *anc_tpl_method_name(int id);
int anc_tpl_call_global(tpl_rs *r, const tpl_node *at, int sym, tpl_args *a, tv *out);
/* str methods (template_strings.c): ids below 1000. */
int anc_tpl_str_method_id(const char *name, size_t n);
int anc_tpl_call_str_method(tpl_rs *r, const tpl_node *at, tv self, int id, tpl_args *a, tv *out);
const char *anc_tpl_str_method_name(int id);
/* template_format.c: strftime_now's formatting of when (UTC seconds). */
int anc_tpl_strftime(tpl_rs *r, const tpl_node *at, tv fmt, int64_t when, tv *out);
/* str.format(*args, **kwargs). */
int anc_tpl_str_format(tpl_rs *r, const tpl_node *at, tv fmt, tpl_args *a, tv *out);
/* Python str methods shared with filters. */
int anc_tpl_str_strip(tpl_rs *r, const tpl_node *at, tv s, tv chars, int left, int right, tv *out);
/* mode: 0 lower, 1 upper, 2 capitalize, 3 jinja2 title filter, 4 str.title, 5 swapcase. */
int anc_tpl_str_case(tpl_rs *r, const tpl_node *at, tv s, int mode, tv *out);
int anc_tpl_str_replace(tpl_rs *r, const tpl_node *at, tv s, tv old, tv new_, int64_t count, tv *out);

#endif
