/* Chat-template engine: expression parser. Follows jinja2's grammar and
 * precedence: conditional (a if c else b) < or < and < not < comparisons
 * (chained, in, not in) < + - < ~ < * / // % < ** (left-assoc) < unary -/+
 * < postfix (.attr, [item], [a:b:c], call) < filters and tests. */
#include <stdio.h>
#include <string.h>

#include "jinja/template_internal.h"

/* ------------------------------------------------------------- symbols */

static uint64_t sym_hash(const char *name, size_t n) {
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)name[i]) * 1099511628211ULL;
    return h;
}

/* Rebuilds the symbol hash table with cap slots (a power of 2). */
static int sym_rehash(anc_template *t, size_t cap) {
    int *table = anc_tpl_calloc(&t->arena, cap, sizeof *table);
    if (!table) return -1;
    for (size_t i = 0; i < t->n_syms; i++) {
        size_t slot = (size_t)sym_hash(t->sym_names[i], t->sym_lens[i]) & (cap - 1);
        while (table[slot]) slot = (slot + 1) & (cap - 1);
        table[slot] = (int)i + 1;
    }
    t->sym_hash = table; /* the old table stays in the arena until the template is freed */
    t->sym_hash_cap = cap;
    return 0;
}

/* Hashed, so a template with many distinct names compiles in linear time. */
int anc_tpl_sym_intern(anc_template *t, const char *name, size_t n) {
    if ((t->n_syms + 1) * 2 > t->sym_hash_cap && sym_rehash(t, t->sym_hash_cap ? t->sym_hash_cap * 2 : 64))
        return -1;
    size_t mask = t->sym_hash_cap - 1, slot = (size_t)sym_hash(name, n) & mask;
    for (; t->sym_hash[slot]; slot = (slot + 1) & mask) {
        size_t i = (size_t)t->sym_hash[slot] - 1;
        if (t->sym_lens[i] == n && memcmp(t->sym_names[i], name, n) == 0) return (int)i;
    }
    if (t->n_syms >= (size_t)INT32_MAX - 1) return -1;
    if (t->n_syms == t->cap_syms) {
        size_t nc = t->cap_syms ? t->cap_syms * 2 : 64;
        char **nn = anc_tpl_grow(&t->arena, t->sym_names, t->cap_syms * sizeof *nn, nc * sizeof *nn);
        if (!nn) return -1;
        t->sym_names = nn;
        size_t *nl = anc_tpl_grow(&t->arena, t->sym_lens, t->cap_syms * sizeof *nl, nc * sizeof *nl);
        if (!nl) return -1;
        t->sym_lens = nl;
        t->cap_syms = nc;
    }
    char *copy = anc_tpl_alloc(&t->arena, n + 1);
    if (!copy) return -1;
    memcpy(copy, name, n);
    copy[n] = '\0';
    t->sym_names[t->n_syms] = copy;
    t->sym_lens[t->n_syms] = n;
    t->sym_hash[slot] = (int)t->n_syms + 1;
    return (int)t->n_syms++;
}

anc_status anc_tpl_syms_init(anc_template *t, anc_error *err) {
    static const char *const fixed[TPL_SYM_BUILTIN_COUNT] = {"loop",         "varargs", "kwargs",    "caller",
                                                             "range",        "dict",    "namespace", "raise_exception",
                                                             "strftime_now", "cycler",  "joiner",    "lipsum"};
    for (int i = 0; i < TPL_SYM_BUILTIN_COUNT; i++)
        if (anc_tpl_sym_intern(t, fixed[i], strlen(fixed[i])) != i)
            return anc_error_set(err, ANC_ERR_NOMEM, "out of memory compiling %s", t->label);
    return ANC_OK;
}

/* ------------------------------------------------------------- tokens */

const tpl_tok *anc_tpl_peek(tpl_parser *p) { return &p->toks[p->pos]; }

const tpl_tok *anc_tpl_peek2(tpl_parser *p) { return &p->toks[p->pos + 1 < p->n ? p->pos + 1 : p->n - 1]; }

const tpl_tok *anc_tpl_next(tpl_parser *p) {
    const tpl_tok *tk = &p->toks[p->pos];
    if (tk->kind != TK_EOF) p->pos++;
    return tk;
}

int anc_tpl_is_name(const tpl_tok *tk, const char *name) {
    return tk->kind == TK_NAME && tk->n == strlen(name) && memcmp(tk->p, name, tk->n) == 0;
}

int anc_tpl_is_op(const tpl_tok *tk, tpl_op op) { return tk->kind == TK_OP && tk->op == op; }

const char *anc_tpl_tok_desc(const tpl_tok *tk, char *buf, size_t cap) {
    switch (tk->kind) {
    case TK_EOF: return "end of template";
    case TK_DATA: return "template data";
    case TK_VAR_BEGIN: return "begin of print statement";
    case TK_VAR_END: return "end of print statement";
    case TK_BLOCK_BEGIN: return "begin of statement block";
    case TK_BLOCK_END: return "end of statement block";
    case TK_STRING: return "string";
    default: break;
    }
    size_t n = tk->n > 40 ? 40 : tk->n;
    snprintf(buf, cap, "'%.*s'", (int)n, tk->p);
    return buf;
}

static void *fail_at(tpl_parser *p, const tpl_tok *tk, anc_status code, const char *kind, const char *fmt, va_list ap) {
    if (p->err && p->err->code != ANC_OK) return NULL; /* keep the first error */
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    anc_error_set(p->err, code, "%s:%u:%u: %s%s", p->t->label, tk->line, tk->col, kind, msg);
    return NULL;
}

void *anc_tpl_syntax_error(tpl_parser *p, const tpl_tok *tk, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fail_at(p, tk, ANC_ERR_FORMAT, "syntax error: ", fmt, ap);
    va_end(ap);
    return NULL;
}

void *anc_tpl_unsupported(tpl_parser *p, const tpl_tok *tk, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fail_at(p, tk, ANC_ERR_UNSUPPORTED, "unsupported: ", fmt, ap);
    va_end(ap);
    return NULL;
}

void *anc_tpl_oom(tpl_parser *p) {
    if (!p->err || p->err->code == ANC_OK)
        anc_error_set(p->err, ANC_ERR_NOMEM, "out of memory compiling %s", p->t->label);
    return NULL;
}

int anc_tpl_expect_op(tpl_parser *p, tpl_op op, const char *what) {
    const tpl_tok *tk = anc_tpl_peek(p);
    if (anc_tpl_is_op(tk, op)) {
        anc_tpl_next(p);
        return 0;
    }
    char b[64];
    anc_tpl_syntax_error(p, tk, "expected '%s', got %s", what, anc_tpl_tok_desc(tk, b, sizeof b));
    return -1;
}

tpl_node *anc_tpl_new_node(tpl_parser *p, tpl_node_kind kind, const tpl_tok *at) {
    tpl_node *n = anc_tpl_calloc(&p->t->arena, 1, sizeof *n);
    if (!n) return anc_tpl_oom(p);
    n->kind = kind;
    n->line = at->line;
    n->col = at->col;
    n->sym = -1;
    return n;
}

/* Appends x to a growable node array. */
static int push_node(tpl_parser *p, tpl_node ***v, size_t *n, size_t *cap, tpl_node *x) {
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 4;
        tpl_node **nv = anc_tpl_grow(&p->t->arena, *v, *cap * sizeof **v, nc * sizeof **v);
        if (!nv) {
            anc_tpl_oom(p);
            return -1;
        }
        *v = nv;
        *cap = nc;
    }
    (*v)[(*n)++] = x;
    return 0;
}

static int push_tv(tpl_parser *p, tv **v, size_t n, size_t *cap, tv x) {
    if (n == *cap) {
        size_t nc = *cap ? *cap * 2 : 4;
        tv *nv = anc_tpl_grow(&p->t->arena, *v, *cap * sizeof **v, nc * sizeof **v);
        if (!nv) {
            anc_tpl_oom(p);
            return -1;
        }
        *v = nv;
        *cap = nc;
    }
    (*v)[n] = x;
    return 0;
}

/* ------------------------------------------------------------- grammar */

static tpl_node *parse_or(tpl_parser *p);
static tpl_node *parse_unary(tpl_parser *p, int with_filter);
static tpl_node *parse_primary(tpl_parser *p);
static tpl_node *parse_postfix(tpl_parser *p, tpl_node *node);
static tpl_node *parse_filter_expr(tpl_parser *p, tpl_node *node);

static tpl_node *new_bin(tpl_parser *p, tpl_node_kind kind, int op, const tpl_tok *at, tpl_node *a, tpl_node *b) {
    tpl_node *n = anc_tpl_new_node(p, kind, at);
    if (!n) return NULL;
    n->op = op;
    n->a = a;
    n->b = b;
    return n;
}

tpl_node *anc_tpl_parse_expression(tpl_parser *p, int with_condexpr) {
    if (!with_condexpr) return parse_or(p);
    tpl_node *expr1 = parse_or(p);
    while (expr1 && anc_tpl_is_name(anc_tpl_peek(p), "if")) {
        const tpl_tok *at = anc_tpl_next(p);
        tpl_node *expr2 = parse_or(p);
        if (!expr2) return NULL;
        tpl_node *expr3 = NULL;
        if (anc_tpl_is_name(anc_tpl_peek(p), "else")) {
            const tpl_tok *el = anc_tpl_next(p);
            /* `a if c else b if d else ...` recurses here once per else */
            if (++p->depth > TPL_MAX_PARSE_DEPTH) return anc_tpl_unsupported(p, el, "expression nested too deeply");
            expr3 = anc_tpl_parse_expression(p, 1);
            p->depth--;
            if (!expr3) return NULL;
        }
        tpl_node *c = anc_tpl_new_node(p, N_COND, at);
        if (!c) return NULL;
        c->a = expr2;
        c->b = expr1;
        c->c = expr3;
        expr1 = c;
    }
    return expr1;
}

static tpl_node *parse_not(tpl_parser *p);
static tpl_node *parse_compare(tpl_parser *p);

static tpl_node *parse_and(tpl_parser *p) {
    tpl_node *left = parse_not(p);
    while (left && anc_tpl_is_name(anc_tpl_peek(p), "and")) {
        const tpl_tok *at = anc_tpl_next(p);
        tpl_node *right = parse_not(p);
        if (!right) return NULL;
        left = new_bin(p, N_AND, OP_AND, at, left, right);
    }
    return left;
}

static tpl_node *parse_or(tpl_parser *p) {
    tpl_node *left = parse_and(p);
    while (left && anc_tpl_is_name(anc_tpl_peek(p), "or")) {
        const tpl_tok *at = anc_tpl_next(p);
        tpl_node *right = parse_and(p);
        if (!right) return NULL;
        left = new_bin(p, N_OR, OP_OR, at, left, right);
    }
    return left;
}

static tpl_node *parse_not(tpl_parser *p) {
    if (anc_tpl_is_name(anc_tpl_peek(p), "not")) {
        const tpl_tok *at = anc_tpl_next(p);
        if (++p->depth > TPL_MAX_PARSE_DEPTH) return anc_tpl_unsupported(p, at, "expression nested too deeply");
        tpl_node *x = parse_not(p);
        p->depth--;
        if (!x) return NULL;
        return new_bin(p, N_UNARY, OP_NOT, at, x, NULL);
    }
    return parse_compare(p);
}

static tpl_node *parse_math1(tpl_parser *p);

static tpl_node *parse_compare(tpl_parser *p) {
    tpl_node *expr = parse_math1(p);
    if (!expr) return NULL;
    tpl_node *cmp = NULL;
    size_t cap = 0, ocap = 0;
    for (;;) {
        const tpl_tok *tk = anc_tpl_peek(p);
        int op;
        if (tk->kind == TK_OP && (tk->op == OP_EQ || tk->op == OP_NE || tk->op == OP_LT || tk->op == OP_LE ||
                                  tk->op == OP_GT || tk->op == OP_GE)) {
            op = tk->op;
            anc_tpl_next(p);
        } else if (anc_tpl_is_name(tk, "in")) {
            op = OP_IN;
            anc_tpl_next(p);
        } else if (anc_tpl_is_name(tk, "not") && anc_tpl_is_name(anc_tpl_peek2(p), "in")) {
            op = OP_NOTIN;
            anc_tpl_next(p);
            anc_tpl_next(p);
        } else {
            break;
        }
        if (!cmp) {
            cmp = anc_tpl_new_node(p, N_CMP, tk);
            if (!cmp) return NULL;
            cmp->a = expr;
        }
        tpl_node *rhs = parse_math1(p);
        if (!rhs) return NULL;
        size_t n = cmp->n_items;
        if (push_node(p, &cmp->items, &cmp->n_items, &cap, rhs)) return NULL;
        if (n == ocap) {
            size_t nc = ocap ? ocap * 2 : 4;
            int *no = anc_tpl_grow(&p->t->arena, cmp->ops, ocap * sizeof *no, nc * sizeof *no);
            if (!no) return anc_tpl_oom(p);
            cmp->ops = no;
            ocap = nc;
        }
        cmp->ops[n] = op;
    }
    return cmp ? cmp : expr;
}

static tpl_node *parse_concat(tpl_parser *p);
static tpl_node *parse_math2(tpl_parser *p);
static tpl_node *parse_pow(tpl_parser *p);

static tpl_node *parse_math1(tpl_parser *p) {
    tpl_node *left = parse_concat(p);
    for (;;) {
        const tpl_tok *tk = anc_tpl_peek(p);
        if (!left || !(anc_tpl_is_op(tk, OP_ADD) || anc_tpl_is_op(tk, OP_SUB))) return left;
        anc_tpl_next(p);
        tpl_node *right = parse_concat(p);
        if (!right) return NULL;
        left = new_bin(p, N_BIN, tk->op, tk, left, right);
    }
}

static tpl_node *parse_concat(tpl_parser *p) {
    tpl_node *left = parse_math2(p);
    while (left && anc_tpl_is_op(anc_tpl_peek(p), OP_TILDE)) {
        const tpl_tok *at = anc_tpl_next(p);
        tpl_node *right = parse_math2(p);
        if (!right) return NULL;
        left = new_bin(p, N_BIN, OP_TILDE, at, left, right);
    }
    return left;
}

static tpl_node *parse_math2(tpl_parser *p) {
    tpl_node *left = parse_pow(p);
    for (;;) {
        const tpl_tok *tk = anc_tpl_peek(p);
        if (!left || tk->kind != TK_OP ||
            !(tk->op == OP_MUL || tk->op == OP_DIV || tk->op == OP_FLOORDIV || tk->op == OP_MOD))
            return left;
        anc_tpl_next(p);
        tpl_node *right = parse_pow(p);
        if (!right) return NULL;
        left = new_bin(p, N_BIN, tk->op, tk, left, right);
    }
}

static tpl_node *parse_pow(tpl_parser *p) {
    tpl_node *left = parse_unary(p, 1);
    while (left && anc_tpl_is_op(anc_tpl_peek(p), OP_POW)) {
        const tpl_tok *at = anc_tpl_next(p);
        tpl_node *right = parse_unary(p, 1);
        if (!right) return NULL;
        left = new_bin(p, N_BIN, OP_POW, at, left, right);
    }
    return left;
}

static tpl_node *parse_unary(tpl_parser *p, int with_filter) {
    const tpl_tok *tk = anc_tpl_peek(p);
    if (++p->depth > TPL_MAX_PARSE_DEPTH) return anc_tpl_unsupported(p, tk, "expression nested too deeply");
    tpl_node *node;
    if (anc_tpl_is_op(tk, OP_SUB) || anc_tpl_is_op(tk, OP_ADD)) {
        anc_tpl_next(p);
        tpl_node *x = parse_unary(p, 0);
        node = x ? new_bin(p, N_UNARY, tk->op == OP_SUB ? OP_NEG : OP_POS, tk, x, NULL) : NULL;
    } else {
        node = parse_primary(p);
    }
    if (node) node = parse_postfix(p, node);
    if (node && with_filter) node = parse_filter_expr(p, node);
    p->depth--;
    return node;
}

static tpl_node *parse_seq(tpl_parser *p, tpl_node_kind kind, tpl_op close, const char *close_s) {
    const tpl_tok *at = anc_tpl_next(p);
    tpl_node *n = anc_tpl_new_node(p, kind, at);
    if (!n) return NULL;
    size_t cap = 0, cap2 = 0;
    while (!anc_tpl_is_op(anc_tpl_peek(p), close)) {
        if (n->n_items && anc_tpl_expect_op(p, OP_COMMA, ",")) return NULL;
        if (anc_tpl_is_op(anc_tpl_peek(p), close)) break;
        tpl_node *x = anc_tpl_parse_expression(p, 1);
        if (!x || push_node(p, &n->items, &n->n_items, &cap, x)) return NULL;
        if (kind == N_DICT) {
            if (anc_tpl_expect_op(p, OP_COLON, ":")) return NULL;
            tpl_node *v = anc_tpl_parse_expression(p, 1);
            if (!v || push_node(p, &n->items2, &n->n_items2, &cap2, v)) return NULL;
        }
    }
    return anc_tpl_expect_op(p, close, close_s) ? NULL : n;
}

static tpl_node *parse_primary(tpl_parser *p) {
    const tpl_tok *tk = anc_tpl_peek(p);
    char b[64];
    tpl_node *n;
    switch (tk->kind) {
    case TK_NAME:
        anc_tpl_next(p);
        n = anc_tpl_new_node(p, N_CONST, tk);
        if (!n) return NULL;
        if (anc_tpl_is_name(tk, "true") || anc_tpl_is_name(tk, "True")) {
            n->value = anc_tv_bool(1);
        } else if (anc_tpl_is_name(tk, "false") || anc_tpl_is_name(tk, "False")) {
            n->value = anc_tv_bool(0);
        } else if (anc_tpl_is_name(tk, "none") || anc_tpl_is_name(tk, "None")) {
            n->value = anc_tv_none();
        } else {
            n->kind = N_NAME;
            n->sym = anc_tpl_sym_intern(p->t, tk->p, tk->n);
            if (n->sym < 0) return anc_tpl_oom(p);
            n->value = anc_tv_str(tk->p, tk->n);
        }
        return n;
    case TK_STRING: {
        anc_tpl_next(p);
        n = anc_tpl_new_node(p, N_CONST, tk);
        if (!n) return NULL;
        if (anc_tpl_peek(p)->kind != TK_STRING) {
            n->value = anc_tv_str(tk->p, tk->n);
            return n;
        }
        tpl_buf buf = {0};
        buf.arena = &p->t->arena;
        if (anc_tpl_buf_put(&buf, tk->p, tk->n)) return anc_tpl_oom(p);
        while (anc_tpl_peek(p)->kind == TK_STRING) {
            const tpl_tok *s = anc_tpl_next(p);
            if (anc_tpl_buf_put(&buf, s->p, s->n)) return anc_tpl_oom(p);
        }
        n->value = anc_tv_str(buf.p, buf.n);
        return n;
    }
    case TK_INT:
        anc_tpl_next(p);
        if (tk->i < 0) return anc_tpl_unsupported(p, tk, "integer literal %.*s is too large", (int)tk->n, tk->p);
        n = anc_tpl_new_node(p, N_CONST, tk);
        if (n) n->value = anc_tv_int(tk->i);
        return n;
    case TK_FLOAT:
        anc_tpl_next(p);
        if (tk->i < 0) return anc_tpl_unsupported(p, tk, "float literal %.*s is too long", (int)tk->n, tk->p);
        n = anc_tpl_new_node(p, N_CONST, tk);
        if (n) n->value = anc_tv_float(tk->f);
        return n;
    case TK_OP:
        if (tk->op == OP_LPAREN) {
            anc_tpl_next(p);
            n = anc_tpl_parse_tuple(p, 0, 1, NULL, 1);
            if (!n || anc_tpl_expect_op(p, OP_RPAREN, ")")) return NULL;
            return n;
        }
        if (tk->op == OP_LBRACKET) return parse_seq(p, N_LIST, OP_RBRACKET, "]");
        if (tk->op == OP_LBRACE) return parse_seq(p, N_DICT, OP_RBRACE, "}");
        break;
    default: break;
    }
    if (tk->kind == TK_EOF) return anc_tpl_syntax_error(p, tk, "unexpected end of template");
    return anc_tpl_syntax_error(p, tk, "unexpected %s", anc_tpl_tok_desc(tk, b, sizeof b));
}

static int is_tuple_end(tpl_parser *p, const char *const *end_names) {
    const tpl_tok *tk = anc_tpl_peek(p);
    if (tk->kind == TK_VAR_END || tk->kind == TK_BLOCK_END || tk->kind == TK_EOF || anc_tpl_is_op(tk, OP_RPAREN))
        return 1;
    for (size_t i = 0; end_names && end_names[i]; i++)
        if (anc_tpl_is_name(tk, end_names[i])) return 1;
    return 0;
}

tpl_node *anc_tpl_parse_tuple(tpl_parser *p, int simplified, int with_condexpr, const char *const *end_names,
                              int explicit_parens) {
    const tpl_tok *at = anc_tpl_peek(p);
    tpl_node *tuple = anc_tpl_new_node(p, N_TUPLE, at);
    if (!tuple) return NULL;
    size_t cap = 0;
    int is_tuple = 0;
    for (;;) {
        if (tuple->n_items && anc_tpl_expect_op(p, OP_COMMA, ",")) return NULL;
        if (is_tuple_end(p, end_names)) break;
        tpl_node *x;
        if (simplified) {
            x = parse_primary(p);
        } else {
            x = anc_tpl_parse_expression(p, with_condexpr);
        }
        if (!x || push_node(p, &tuple->items, &tuple->n_items, &cap, x)) return NULL;
        if (anc_tpl_is_op(anc_tpl_peek(p), OP_COMMA)) {
            is_tuple = 1;
        } else {
            break;
        }
    }
    if (!is_tuple) {
        if (tuple->n_items) return tuple->items[0];
        if (!explicit_parens) {
            char b[64];
            return anc_tpl_syntax_error(p, at, "expected an expression, got %s", anc_tpl_tok_desc(at, b, sizeof b));
        }
    }
    return tuple;
}

int anc_tpl_parse_call_args(tpl_parser *p, tpl_node *call) {
    if (anc_tpl_expect_op(p, OP_LPAREN, "(")) return -1;
    size_t cap = 0, cap2 = 0, capn = 0;
    while (!anc_tpl_is_op(anc_tpl_peek(p), OP_RPAREN)) {
        if ((call->n_items || call->n_items2) && anc_tpl_expect_op(p, OP_COMMA, ",")) return -1;
        const tpl_tok *tk = anc_tpl_peek(p);
        if (anc_tpl_is_op(tk, OP_RPAREN)) break;
        if (anc_tpl_is_op(tk, OP_MUL) || anc_tpl_is_op(tk, OP_POW)) {
            anc_tpl_unsupported(p, tk, "*args / **kwargs in calls");
            return -1;
        }
        if (tk->kind == TK_NAME && anc_tpl_is_op(anc_tpl_peek2(p), OP_ASSIGN)) {
            anc_tpl_next(p);
            anc_tpl_next(p);
            tpl_node *v = anc_tpl_parse_expression(p, 1);
            if (!v) return -1;
            if (push_tv(p, &call->names, call->n_items2, &capn, anc_tv_str(tk->p, tk->n))) return -1;
            if (push_node(p, &call->items2, &call->n_items2, &cap2, v)) return -1;
            continue;
        }
        if (call->n_items2) {
            anc_tpl_syntax_error(p, tk, "positional argument follows keyword argument");
            return -1;
        }
        tpl_node *x = anc_tpl_parse_expression(p, 1);
        if (!x || push_node(p, &call->items, &call->n_items, &cap, x)) return -1;
    }
    anc_tpl_next(p);
    return 0;
}

/* A dotted name (filter and test names may contain dots). */
static int parse_dotted_name(tpl_parser *p, tv *out) {
    const tpl_tok *tk = anc_tpl_peek(p);
    char b[64];
    if (tk->kind != TK_NAME) {
        anc_tpl_syntax_error(p, tk, "expected a name, got %s", anc_tpl_tok_desc(tk, b, sizeof b));
        return -1;
    }
    anc_tpl_next(p);
    *out = anc_tv_str(tk->p, tk->n);
    if (!anc_tpl_is_op(anc_tpl_peek(p), OP_DOT)) return 0;
    tpl_buf buf = {0};
    buf.arena = &p->t->arena;
    if (anc_tpl_buf_put(&buf, tk->p, tk->n)) return anc_tpl_oom(p), -1;
    while (anc_tpl_is_op(anc_tpl_peek(p), OP_DOT) && anc_tpl_peek2(p)->kind == TK_NAME) {
        anc_tpl_next(p);
        const tpl_tok *nt = anc_tpl_next(p);
        if (anc_tpl_buf_putc(&buf, '.') || anc_tpl_buf_put(&buf, nt->p, nt->n)) return anc_tpl_oom(p), -1;
    }
    *out = anc_tv_str(buf.p, buf.n);
    return 0;
}

tpl_node *anc_tpl_parse_filter_chain(tpl_parser *p, tpl_node *input, int start_inline) {
    while (input && (anc_tpl_is_op(anc_tpl_peek(p), OP_PIPE) || start_inline)) {
        if (!start_inline) anc_tpl_next(p);
        start_inline = 0;
        const tpl_tok *at = anc_tpl_peek(p);
        tpl_node *f = anc_tpl_new_node(p, N_FILTER, at);
        if (!f || parse_dotted_name(p, &f->value)) return NULL;
        f->a = input;
        f->op = anc_tpl_filter_id(f->value.u.s.p, f->value.u.s.n);
        if (f->op == -1)
            return anc_tpl_unsupported(p, at, "no filter named '%.*s'", (int)f->value.u.s.n, f->value.u.s.p);
        if (f->op == -2)
            return anc_tpl_unsupported(p, at, "filter '%.*s' is not supported", (int)f->value.u.s.n, f->value.u.s.p);
        if (anc_tpl_is_op(anc_tpl_peek(p), OP_LPAREN) && anc_tpl_parse_call_args(p, f)) return NULL;
        input = f;
    }
    return input;
}

static tpl_node *parse_test(tpl_parser *p, tpl_node *node) {
    const tpl_tok *is_tok = anc_tpl_next(p);
    int negated = 0;
    if (anc_tpl_is_name(anc_tpl_peek(p), "not")) {
        anc_tpl_next(p);
        negated = 1;
    }
    const tpl_tok *at = anc_tpl_peek(p);
    tpl_node *t = anc_tpl_new_node(p, N_TEST, at);
    if (!t || parse_dotted_name(p, &t->value)) return NULL;
    t->a = node;
    t->op = anc_tpl_test_id(t->value.u.s.p, t->value.u.s.n);
    if (t->op == -1) return anc_tpl_unsupported(p, at, "no test named '%.*s'", (int)t->value.u.s.n, t->value.u.s.p);
    if (t->op == -2)
        return anc_tpl_unsupported(p, at, "test '%.*s' is not supported", (int)t->value.u.s.n, t->value.u.s.p);
    const tpl_tok *tk = anc_tpl_peek(p);
    if (anc_tpl_is_op(tk, OP_LPAREN)) {
        if (anc_tpl_parse_call_args(p, t)) return NULL;
    } else if ((tk->kind == TK_NAME || tk->kind == TK_STRING || tk->kind == TK_INT || tk->kind == TK_FLOAT ||
                anc_tpl_is_op(tk, OP_LPAREN) || anc_tpl_is_op(tk, OP_LBRACKET) || anc_tpl_is_op(tk, OP_LBRACE)) &&
               !anc_tpl_is_name(tk, "else") && !anc_tpl_is_name(tk, "or") && !anc_tpl_is_name(tk, "and")) {
        if (anc_tpl_is_name(tk, "is")) return anc_tpl_syntax_error(p, tk, "you cannot chain multiple tests with is");
        tpl_node *arg = parse_primary(p);
        if (arg) arg = parse_postfix(p, arg);
        if (!arg) return NULL;
        t->items = anc_tpl_alloc(&p->t->arena, sizeof *t->items);
        if (!t->items) return anc_tpl_oom(p);
        t->items[0] = arg;
        t->n_items = 1;
    }
    return negated ? new_bin(p, N_UNARY, OP_NOT, is_tok, t, NULL) : t;
}

static tpl_node *parse_call(tpl_parser *p, tpl_node *callee) {
    tpl_node *c = anc_tpl_new_node(p, N_CALL, anc_tpl_peek(p));
    if (!c) return NULL;
    c->line = callee->line; /* errors point at what is called */
    c->col = callee->col;
    c->a = callee;
    return anc_tpl_parse_call_args(p, c) ? NULL : c;
}

static tpl_node *parse_filter_expr(tpl_parser *p, tpl_node *node) {
    for (;;) {
        if (!node) return NULL;
        const tpl_tok *tk = anc_tpl_peek(p);
        if (anc_tpl_is_op(tk, OP_PIPE)) {
            node = anc_tpl_parse_filter_chain(p, node, 0);
        } else if (anc_tpl_is_name(tk, "is")) {
            node = parse_test(p, node);
        } else if (anc_tpl_is_op(tk, OP_LPAREN)) {
            node = parse_call(p, node);
        } else {
            return node;
        }
    }
}

/* One entry inside [...]: an expression or a slice start:stop:step. */
static tpl_node *parse_subscribed(tpl_parser *p) {
    const tpl_tok *at = anc_tpl_peek(p);
    tpl_node *parts[3] = {NULL, NULL, NULL};
    if (anc_tpl_is_op(at, OP_COLON)) {
        anc_tpl_next(p);
    } else {
        tpl_node *x = anc_tpl_parse_expression(p, 1);
        if (!x || !anc_tpl_is_op(anc_tpl_peek(p), OP_COLON)) return x;
        anc_tpl_next(p);
        parts[0] = x;
    }
    const tpl_tok *tk = anc_tpl_peek(p);
    if (!anc_tpl_is_op(tk, OP_COLON) && !anc_tpl_is_op(tk, OP_RBRACKET) && !anc_tpl_is_op(tk, OP_COMMA)) {
        if (!(parts[1] = anc_tpl_parse_expression(p, 1))) return NULL;
    }
    if (anc_tpl_is_op(anc_tpl_peek(p), OP_COLON)) {
        anc_tpl_next(p);
        tk = anc_tpl_peek(p);
        if (!anc_tpl_is_op(tk, OP_RBRACKET) && !anc_tpl_is_op(tk, OP_COMMA)) {
            if (!(parts[2] = anc_tpl_parse_expression(p, 1))) return NULL;
        }
    }
    tpl_node *s = anc_tpl_new_node(p, N_SLICE, at);
    if (!s) return NULL;
    s->b = parts[0];
    s->c = parts[1];
    s->d = parts[2];
    return s;
}

static tpl_node *parse_postfix(tpl_parser *p, tpl_node *node) {
    for (;;) {
        if (!node) return NULL;
        const tpl_tok *tk = anc_tpl_peek(p);
        char b[64];
        if (anc_tpl_is_op(tk, OP_DOT)) {
            anc_tpl_next(p);
            const tpl_tok *attr = anc_tpl_next(p);
            tpl_node *g;
            if (attr->kind == TK_NAME) {
                g = anc_tpl_new_node(p, N_GETATTR, tk);
                if (g) g->value = anc_tv_str(attr->p, attr->n);
            } else if (attr->kind == TK_INT) {
                g = anc_tpl_new_node(p, N_GETITEM, tk);
                tpl_node *k = g ? anc_tpl_new_node(p, N_CONST, attr) : NULL;
                if (!k) return NULL;
                k->value = anc_tv_int(attr->i);
                g->b = k;
            } else {
                return anc_tpl_syntax_error(p, attr, "expected name or number, got %s",
                                            anc_tpl_tok_desc(attr, b, sizeof b));
            }
            if (!g) return NULL;
            g->a = node;
            node = g;
        } else if (anc_tpl_is_op(tk, OP_LBRACKET)) {
            anc_tpl_next(p);
            tpl_node *keys[2] = {NULL, NULL};
            size_t nk = 0;
            while (!anc_tpl_is_op(anc_tpl_peek(p), OP_RBRACKET)) {
                if (nk && anc_tpl_expect_op(p, OP_COMMA, ",")) return NULL;
                if (nk == 1) return anc_tpl_unsupported(p, anc_tpl_peek(p), "tuple subscripts");
                if (!(keys[nk++] = parse_subscribed(p))) return NULL;
            }
            anc_tpl_next(p);
            if (nk == 0) return anc_tpl_syntax_error(p, tk, "expected a subscript");
            tpl_node *k = keys[0];
            if (k->kind == N_SLICE && k->a == NULL) {
                k->a = node;
                node = k;
            } else {
                tpl_node *g = anc_tpl_new_node(p, N_GETITEM, tk);
                if (!g) return NULL;
                g->a = node;
                g->b = k;
                node = g;
            }
        } else if (anc_tpl_is_op(tk, OP_LPAREN)) {
            node = parse_call(p, node);
        } else {
            return node;
        }
    }
}
