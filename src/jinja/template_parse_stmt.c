/* Chat-template engine: statement parser and the compile entry point.
 * Tags: if/elif/else, for/else (with `if` filter), set (expression and
 * block forms, ns.attr), macro, call, filter, with, break, continue and
 * transformers' pass-through generation block. */
#include <stdlib.h>
#include <string.h>

#include "jinja/template_internal.h"

static tpl_node *parse_body(tpl_parser *p, const char *const *end_names, const char *block);

static int push_stmt(tpl_parser *p, tpl_node *body, size_t *cap, tpl_node *x) {
    if (body->n_items == *cap) {
        size_t nc = *cap ? *cap * 2 : 8;
        tpl_node **nv = anc_tpl_grow(&p->t->arena, body->items, *cap * sizeof *nv, nc * sizeof *nv);
        if (!nv) {
            anc_tpl_oom(p);
            return -1;
        }
        body->items = nv;
        *cap = nc;
    }
    body->items[body->n_items++] = x;
    return 0;
}

static int expect_block_end(tpl_parser *p) {
    const tpl_tok *tk = anc_tpl_peek(p);
    if (tk->kind == TK_BLOCK_END) {
        anc_tpl_next(p);
        return 0;
    }
    char b[64];
    anc_tpl_syntax_error(p, tk, "expected end of statement block, got %s", anc_tpl_tok_desc(tk, b, sizeof b));
    return -1;
}

static int expect_name(tpl_parser *p, const char *name) {
    const tpl_tok *tk = anc_tpl_peek(p);
    if (anc_tpl_is_name(tk, name)) {
        anc_tpl_next(p);
        return 0;
    }
    char b[64];
    anc_tpl_syntax_error(p, tk, "expected '%s', got %s", name, anc_tpl_tok_desc(tk, b, sizeof b));
    return -1;
}

/* Converts an expression (N_NAME or N_TUPLE of names) into a target. */
static int to_target(tpl_parser *p, const tpl_tok *at, tpl_node *x, tpl_target *out) {
    tpl_node *one[1] = {x};
    tpl_node **names = one;
    size_t n = 1;
    out->is_tuple = 0;
    if (x->kind == N_TUPLE) {
        names = x->items;
        n = x->n_items;
        out->is_tuple = 1;
    }
    out->syms = anc_tpl_alloc(&p->t->arena, (n ? n : 1) * sizeof *out->syms);
    if (!out->syms) return anc_tpl_oom(p), -1;
    for (size_t i = 0; i < n; i++) {
        if (names[i]->kind == N_TUPLE) {
            anc_tpl_unsupported(p, at, "nested tuple unpacking");
            return -1;
        }
        if (names[i]->kind != N_NAME) {
            anc_tpl_syntax_error(p, at, "can't assign to this expression");
            return -1;
        }
        out->syms[i] = names[i]->sym;
    }
    out->n = n;
    return 0;
}

/* Target of set / for / with: NAME, a, b or ns.attr (with_namespace). */
static int parse_target(tpl_parser *p, int with_namespace, int with_tuple, const char *const *end_names,
                        tpl_target *out) {
    const tpl_tok *at = anc_tpl_peek(p);
    char b[64];
    if (with_namespace && at->kind == TK_NAME && anc_tpl_is_op(anc_tpl_peek2(p), OP_DOT)) {
        anc_tpl_next(p);
        anc_tpl_next(p);
        const tpl_tok *attr = anc_tpl_next(p);
        if (attr->kind != TK_NAME) {
            anc_tpl_syntax_error(p, attr, "expected an attribute name, got %s", anc_tpl_tok_desc(attr, b, sizeof b));
            return -1;
        }
        out->syms = anc_tpl_alloc(&p->t->arena, sizeof *out->syms);
        int sym = anc_tpl_sym_intern(p->t, at->p, at->n);
        if (!out->syms || sym < 0) return anc_tpl_oom(p), -1;
        out->syms[0] = sym;
        out->n = 1;
        out->attr = anc_tv_str(attr->p, attr->n);
        return 0;
    }
    tpl_node *x;
    if (with_tuple) {
        x = anc_tpl_parse_tuple(p, 1, 0, end_names, 0);
    } else {
        if (at->kind != TK_NAME) {
            anc_tpl_syntax_error(p, at, "expected a name, got %s", anc_tpl_tok_desc(at, b, sizeof b));
            return -1;
        }
        x = anc_tpl_parse_expression(p, 0);
        if (x && x->kind != N_NAME) {
            anc_tpl_syntax_error(p, at, "can't assign to this expression");
            return -1;
        }
    }
    if (!x) return -1;
    return to_target(p, at, x, out);
}

static tpl_node *parse_for(tpl_parser *p, const tpl_tok *at) {
    static const char *const in_end[] = {"in", NULL};
    static const char *const rec_end[] = {"recursive", NULL};
    static const char *const body_end[] = {"endfor", "else", NULL};
    static const char *const else_end[] = {"endfor", NULL};
    tpl_node *n = anc_tpl_new_node(p, S_FOR, at);
    if (!n || parse_target(p, 0, 1, in_end, &n->target)) return NULL;
    if (expect_name(p, "in")) return NULL;
    if (!(n->a = anc_tpl_parse_tuple(p, 0, 0, rec_end, 0))) return NULL;
    if (anc_tpl_is_name(anc_tpl_peek(p), "if")) {
        anc_tpl_next(p);
        if (!(n->b = anc_tpl_parse_expression(p, 1))) return NULL;
    }
    if (anc_tpl_is_name(anc_tpl_peek(p), "recursive"))
        return anc_tpl_unsupported(p, anc_tpl_peek(p), "recursive for loops");
    if (expect_block_end(p)) return NULL;
    p->loop_depth++;
    tpl_node *body = parse_body(p, body_end, "for");
    p->loop_depth--;
    if (!body) return NULL;
    n->items = body->items;
    n->n_items = body->n_items;
    if (anc_tpl_is_name(anc_tpl_next(p), "else")) {
        if (expect_block_end(p)) return NULL;
        tpl_node *eb = parse_body(p, else_end, "for");
        if (!eb) return NULL;
        n->items2 = eb->items;
        n->n_items2 = eb->n_items;
        anc_tpl_next(p);
    }
    return expect_block_end(p) ? NULL : n;
}

static tpl_node *parse_if(tpl_parser *p, const tpl_tok *at) {
    static const char *const body_end[] = {"elif", "else", "endif", NULL};
    static const char *const else_end[] = {"endif", NULL};
    tpl_node *result = anc_tpl_new_node(p, S_IF, at), *node = result;
    if (!node) return NULL;
    for (;;) {
        if (!(node->a = anc_tpl_parse_tuple(p, 0, 0, NULL, 0)) || expect_block_end(p)) return NULL;
        tpl_node *body = parse_body(p, body_end, "if");
        if (!body) return NULL;
        node->items = body->items;
        node->n_items = body->n_items;
        const tpl_tok *tk = anc_tpl_next(p);
        if (anc_tpl_is_name(tk, "elif")) {
            tpl_node *next = anc_tpl_new_node(p, S_IF, tk);
            if (!next) return NULL;
            node->items2 = anc_tpl_alloc(&p->t->arena, sizeof *node->items2);
            if (!node->items2) return anc_tpl_oom(p);
            node->items2[0] = next;
            node->n_items2 = 1;
            node = next;
            continue;
        }
        if (anc_tpl_is_name(tk, "else")) {
            if (expect_block_end(p)) return NULL;
            tpl_node *eb = parse_body(p, else_end, "if");
            if (!eb) return NULL;
            node->items2 = eb->items;
            node->n_items2 = eb->n_items;
            anc_tpl_next(p);
        }
        break;
    }
    return expect_block_end(p) ? NULL : result;
}

static tpl_node *parse_set(tpl_parser *p, const tpl_tok *at) {
    static const char *const end[] = {"endset", NULL};
    tpl_node *n = anc_tpl_new_node(p, S_SET, at);
    if (!n || parse_target(p, 1, 1, NULL, &n->target)) return NULL;
    if (anc_tpl_is_op(anc_tpl_peek(p), OP_ASSIGN)) {
        anc_tpl_next(p);
        if (!(n->a = anc_tpl_parse_tuple(p, 0, 1, NULL, 0))) return NULL;
        return expect_block_end(p) ? NULL : n;
    }
    if (n->target.is_tuple) return anc_tpl_syntax_error(p, at, "a block set needs a single name");
    n->kind = S_SETBLOCK;
    if (anc_tpl_is_op(anc_tpl_peek(p), OP_PIPE)) {
        tpl_node *ph = anc_tpl_new_node(p, N_BLOCKVAL, anc_tpl_peek(p));
        if (!ph || !(n->a = anc_tpl_parse_filter_chain(p, ph, 0))) return NULL;
    }
    if (expect_block_end(p)) return NULL;
    tpl_node *body = parse_body(p, end, "set");
    if (!body) return NULL;
    n->items = body->items;
    n->n_items = body->n_items;
    anc_tpl_next(p);
    return expect_block_end(p) ? NULL : n;
}

/* "(a, b=default, ...)" into n->params / n->defaults. */
static int parse_signature(tpl_parser *p, tpl_node *n) {
    if (anc_tpl_expect_op(p, OP_LPAREN, "(")) return -1;
    size_t cap = 0;
    int seen_default = 0;
    while (!anc_tpl_is_op(anc_tpl_peek(p), OP_RPAREN)) {
        if (n->n_params && anc_tpl_expect_op(p, OP_COMMA, ",")) return -1;
        if (anc_tpl_is_op(anc_tpl_peek(p), OP_RPAREN)) break;
        const tpl_tok *tk = anc_tpl_next(p);
        char b[64];
        if (tk->kind != TK_NAME) {
            anc_tpl_syntax_error(p, tk, "expected a parameter name, got %s", anc_tpl_tok_desc(tk, b, sizeof b));
            return -1;
        }
        if (n->n_params == cap) {
            size_t nc = cap ? cap * 2 : 4;
            int *np = anc_tpl_grow(&p->t->arena, n->params, cap * sizeof *np, nc * sizeof *np);
            if (!np) return anc_tpl_oom(p), -1;
            n->params = np;
            tpl_node **nd = anc_tpl_grow(&p->t->arena, n->defaults, cap * sizeof *nd, nc * sizeof *nd);
            if (!nd) return anc_tpl_oom(p), -1;
            n->defaults = nd;
            cap = nc;
        }
        int sym = anc_tpl_sym_intern(p->t, tk->p, tk->n);
        if (sym < 0) return anc_tpl_oom(p), -1;
        tpl_node *def = NULL;
        if (anc_tpl_is_op(anc_tpl_peek(p), OP_ASSIGN)) {
            anc_tpl_next(p);
            if (!(def = anc_tpl_parse_expression(p, 1))) return -1;
            seen_default = 1;
        } else if (seen_default) {
            anc_tpl_syntax_error(p, tk, "non-default argument follows default argument");
            return -1;
        }
        n->params[n->n_params] = sym;
        n->defaults[n->n_params++] = def;
    }
    anc_tpl_next(p);
    return 0;
}

static tpl_node *parse_macro(tpl_parser *p, const tpl_tok *at, int is_call) {
    static const char *const macro_end[] = {"endmacro", NULL};
    static const char *const call_end[] = {"endcall", NULL};
    tpl_node *n = anc_tpl_new_node(p, is_call ? S_CALLBLOCK : S_MACRO, at);
    if (!n) return NULL;
    if (is_call) {
        if (anc_tpl_is_op(anc_tpl_peek(p), OP_LPAREN) && parse_signature(p, n)) return NULL;
        const tpl_tok *ct = anc_tpl_peek(p);
        if (!(n->a = anc_tpl_parse_expression(p, 1))) return NULL;
        if (n->a->kind != N_CALL) return anc_tpl_syntax_error(p, ct, "expected a call after {%% call %%}");
    } else {
        const tpl_tok *name = anc_tpl_next(p);
        char b[64];
        if (name->kind != TK_NAME)
            return anc_tpl_syntax_error(p, name, "expected a macro name, got %s", anc_tpl_tok_desc(name, b, sizeof b));
        n->sym = anc_tpl_sym_intern(p->t, name->p, name->n);
        if (n->sym < 0) return anc_tpl_oom(p);
        n->value = anc_tv_str(name->p, name->n);
        if (parse_signature(p, n)) return NULL;
    }
    if (expect_block_end(p)) return NULL;
    int saved = p->loop_depth;
    p->loop_depth = 0;
    tpl_node *body = parse_body(p, is_call ? call_end : macro_end, is_call ? "call" : "macro");
    p->loop_depth = saved;
    if (!body) return NULL;
    n->items = body->items;
    n->n_items = body->n_items;
    anc_tpl_next(p);
    if (!is_call && anc_tpl_peek(p)->kind == TK_NAME) anc_tpl_next(p); /* {% endmacro name %} */
    return expect_block_end(p) ? NULL : n;
}

static tpl_node *parse_filter_block(tpl_parser *p, const tpl_tok *at) {
    static const char *const end[] = {"endfilter", NULL};
    tpl_node *n = anc_tpl_new_node(p, S_FILTERBLOCK, at);
    tpl_node *ph = n ? anc_tpl_new_node(p, N_BLOCKVAL, anc_tpl_peek(p)) : NULL;
    if (!ph || !(n->a = anc_tpl_parse_filter_chain(p, ph, 1)) || expect_block_end(p)) return NULL;
    tpl_node *body = parse_body(p, end, "filter");
    if (!body) return NULL;
    n->items = body->items;
    n->n_items = body->n_items;
    anc_tpl_next(p);
    return expect_block_end(p) ? NULL : n;
}

static tpl_node *parse_with(tpl_parser *p, const tpl_tok *at) {
    static const char *const end[] = {"endwith", NULL};
    tpl_node *n = anc_tpl_new_node(p, S_WITH, at);
    if (!n) return NULL;
    size_t cap = 0;
    while (anc_tpl_peek(p)->kind != TK_BLOCK_END) {
        if (n->n_params && anc_tpl_expect_op(p, OP_COMMA, ",")) return NULL;
        tpl_target tg;
        memset(&tg, 0, sizeof tg);
        if (parse_target(p, 0, 0, NULL, &tg) || anc_tpl_expect_op(p, OP_ASSIGN, "=")) return NULL;
        tpl_node *v = anc_tpl_parse_expression(p, 1);
        if (!v) return NULL;
        if (n->n_params == cap) {
            size_t nc = cap ? cap * 2 : 4;
            int *np = anc_tpl_grow(&p->t->arena, n->params, cap * sizeof *np, nc * sizeof *np);
            if (!np) return anc_tpl_oom(p);
            n->params = np;
            tpl_node **nd = anc_tpl_grow(&p->t->arena, n->defaults, cap * sizeof *nd, nc * sizeof *nd);
            if (!nd) return anc_tpl_oom(p);
            n->defaults = nd;
            cap = nc;
        }
        n->params[n->n_params] = tg.syms[0];
        n->defaults[n->n_params++] = v;
    }
    anc_tpl_next(p);
    tpl_node *body = parse_body(p, end, "with");
    if (!body) return NULL;
    n->items = body->items;
    n->n_items = body->n_items;
    anc_tpl_next(p);
    return expect_block_end(p) ? NULL : n;
}

static tpl_node *parse_statement(tpl_parser *p) {
    const tpl_tok *tk = anc_tpl_next(p);
    char b[64];
    if (tk->kind != TK_NAME)
        return anc_tpl_syntax_error(p, tk, "tag name expected, got %s", anc_tpl_tok_desc(tk, b, sizeof b));
    if (++p->depth > TPL_MAX_PARSE_DEPTH) return anc_tpl_unsupported(p, tk, "blocks nested too deeply");
    tpl_node *n = NULL;
    if (anc_tpl_is_name(tk, "for")) {
        n = parse_for(p, tk);
    } else if (anc_tpl_is_name(tk, "if")) {
        n = parse_if(p, tk);
    } else if (anc_tpl_is_name(tk, "set")) {
        n = parse_set(p, tk);
    } else if (anc_tpl_is_name(tk, "macro")) {
        n = parse_macro(p, tk, 0);
    } else if (anc_tpl_is_name(tk, "call")) {
        n = parse_macro(p, tk, 1);
    } else if (anc_tpl_is_name(tk, "filter")) {
        n = parse_filter_block(p, tk);
    } else if (anc_tpl_is_name(tk, "with")) {
        n = parse_with(p, tk);
    } else if (anc_tpl_is_name(tk, "break") || anc_tpl_is_name(tk, "continue")) {
        if (p->loop_depth == 0)
            return anc_tpl_syntax_error(p, tk, "'%.*s' outside of a for loop", (int)tk->n, tk->p);
        n = anc_tpl_new_node(p, anc_tpl_is_name(tk, "break") ? S_BREAK : S_CONTINUE, tk);
        if (n && expect_block_end(p)) n = NULL;
    } else if (anc_tpl_is_name(tk, "generation")) {
        static const char *const end[] = {"endgeneration", NULL};
        if (expect_block_end(p)) return NULL;
        n = parse_body(p, end, "generation");
        if (n) {
            anc_tpl_next(p);
            if (expect_block_end(p)) n = NULL;
        }
    } else {
        static const char *const known[] = {"extends", "block", "include",   "import", "from",  "autoescape",
                                            "do",      "trans", "pluralize", "print",  "debug", NULL};
        for (size_t i = 0; known[i]; i++)
            if (anc_tpl_is_name(tk, known[i])) return anc_tpl_unsupported(p, tk, "the '%s' tag", known[i]);
        return anc_tpl_syntax_error(p, tk, "encountered unknown tag '%.*s'", (int)(tk->n > 40 ? 40 : tk->n), tk->p);
    }
    p->depth--;
    return n;
}

/* The tag that closes a block: the first "end..." of its end names. */
static const char *closing_tag(const char *const *end_names) {
    for (size_t i = 0; end_names[i]; i++)
        if (strncmp(end_names[i], "end", 3) == 0) return end_names[i];
    return end_names[0];
}

/* Statements until one of end_names (left as the current token, after its
 * {%) or, when end_names is NULL, the end of the template. */
static tpl_node *parse_body(tpl_parser *p, const char *const *end_names, const char *block) {
    tpl_node *body = anc_tpl_new_node(p, S_BODY, anc_tpl_peek(p));
    if (!body) return NULL;
    size_t cap = 0;
    for (;;) {
        const tpl_tok *tk = anc_tpl_peek(p);
        tpl_node *x = NULL;
        if (tk->kind == TK_EOF) {
            if (!end_names) return body;
            return anc_tpl_syntax_error(p, tk, "unexpected end of template, the '%s' block needs '{%% %s %%}'", block,
                                        closing_tag(end_names));
        }
        if (tk->kind == TK_DATA) {
            anc_tpl_next(p);
            x = anc_tpl_new_node(p, S_TEXT, tk);
            if (x) x->value = anc_tv_str(tk->p, tk->n);
        } else if (tk->kind == TK_VAR_BEGIN) {
            anc_tpl_next(p);
            x = anc_tpl_new_node(p, S_OUT, tk);
            if (!x || !(x->a = anc_tpl_parse_tuple(p, 0, 1, NULL, 0))) return NULL;
            const tpl_tok *end = anc_tpl_peek(p);
            if (end->kind != TK_VAR_END) {
                char b[64];
                return anc_tpl_syntax_error(p, end, "expected end of print statement, got %s",
                                            anc_tpl_tok_desc(end, b, sizeof b));
            }
            anc_tpl_next(p);
        } else if (tk->kind == TK_BLOCK_BEGIN) {
            anc_tpl_next(p);
            const tpl_tok *name = anc_tpl_peek(p);
            for (size_t i = 0; end_names && end_names[i]; i++)
                if (anc_tpl_is_name(name, end_names[i])) return body;
            if (name->kind == TK_NAME && (anc_tpl_is_name(name, "else") || anc_tpl_is_name(name, "elif") ||
                                          (name->n > 3 && memcmp(name->p, "end", 3) == 0))) {
                if (block)
                    return anc_tpl_syntax_error(p, name, "unexpected '%.*s' inside the '%s' block (expected '%s')",
                                                (int)(name->n > 40 ? 40 : name->n), name->p, block,
                                                closing_tag(end_names));
                return anc_tpl_syntax_error(p, name, "unexpected '%.*s' with no open block",
                                            (int)(name->n > 40 ? 40 : name->n), name->p);
            }
            x = parse_statement(p);
        } else {
            char b[64];
            return anc_tpl_syntax_error(p, tk, "unexpected %s", anc_tpl_tok_desc(tk, b, sizeof b));
        }
        if (!x || push_stmt(p, body, &cap, x)) return NULL;
    }
}

/* An `elif` is stored as an S_IF alone in the else branch of the S_IF before
 * it; the renderer walks such chains in a loop, so they do not add depth. */
static int is_elif_link(const tpl_node *parent, const tpl_node *child) {
    return parent->kind == S_IF && child->kind == S_IF && parent->n_items2 == 1 && parent->items2[0] == child;
}

typedef struct depth_item {
    const tpl_node *node;
    uint32_t depth;
} depth_item;

/* Refuses a syntax tree taller than TPL_MAX_TREE_DEPTH, naming the first
 * node found too deep. Walks with its own stack (the tree may be far deeper
 * than the C stack allows to recurse). */
static anc_status check_tree_depth(const anc_template *t, anc_error *err) {
    size_t cap = 256, n = 0;
    depth_item *stack = malloc(cap * sizeof *stack);
    if (!stack) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory compiling %s", t->label);
    stack[n++] = (depth_item){t->root, 0};
    anc_status st = ANC_OK;
    while (n && st == ANC_OK) {
        depth_item it = stack[--n];
        const tpl_node *x = it.node;
        if (it.depth > TPL_MAX_TREE_DEPTH) {
            st = anc_error_set(err, ANC_ERR_UNSUPPORTED,
                               "%s:%u:%u: unsupported: expression nested too deeply (more than %d levels)", t->label,
                               x->line, x->col, TPL_MAX_TREE_DEPTH);
            break;
        }
        const tpl_node *kids[4] = {x->a, x->b, x->c, x->d};
        size_t want = 4 + x->n_items + x->n_items2 + (x->defaults ? x->n_params : 0);
        if (n + want > cap) {
            size_t nc = cap;
            while (n + want > nc) nc *= 2;
            depth_item *more = realloc(stack, nc * sizeof *stack);
            if (!more) {
                st = anc_error_set(err, ANC_ERR_NOMEM, "out of memory compiling %s", t->label);
                break;
            }
            stack = more;
            cap = nc;
        }
        uint32_t d = it.depth + 1;
        for (int k = 0; k < 4; k++)
            if (kids[k]) stack[n++] = (depth_item){kids[k], d};
        for (size_t i = 0; i < x->n_items; i++)
            if (x->items[i]) stack[n++] = (depth_item){x->items[i], d};
        for (size_t i = 0; i < x->n_items2; i++)
            if (x->items2[i]) stack[n++] = (depth_item){x->items2[i], is_elif_link(x, x->items2[i]) ? it.depth : d};
        if (x->defaults)
            for (size_t i = 0; i < x->n_params; i++)
                if (x->defaults[i]) stack[n++] = (depth_item){x->defaults[i], d};
    }
    free(stack);
    return st;
}

anc_status anc_tpl_parse(anc_template *t, const tpl_tok *toks, size_t n, anc_error *err) {
    tpl_parser p;
    memset(&p, 0, sizeof p);
    p.t = t;
    p.toks = toks;
    p.n = n;
    p.err = err;
    anc_error_clear(err);
    t->root = parse_body(&p, NULL, NULL);
    if (!t->root) {
        if (err && err->code == ANC_OK) anc_error_set(err, ANC_ERR_INTERNAL, "%s: parse failed", t->label);
        return err ? err->code : ANC_ERR_FORMAT;
    }
    return check_tree_depth(t, err);
}

anc_status anc_template_compile(anc_template **out, const char *source, size_t len, const char *label, anc_error *err) {
    if (!out) return anc_error_set(err, ANC_ERR_INVALID, "anc_template_compile: out is NULL");
    *out = NULL;
    if (!source && len) return anc_error_set(err, ANC_ERR_INVALID, "anc_template_compile: source is NULL");
    if (!label) label = "chat_template";
    anc_template *t = calloc(1, sizeof *t);
    if (!t) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory compiling %s", label);
    anc_tpl_arena_init(&t->arena, 0);
    size_t ll = strlen(label);
    t->label = anc_tpl_alloc(&t->arena, ll + 1);
    if (!t->label) {
        anc_template_free(t);
        return anc_error_set(err, ANC_ERR_NOMEM, "out of memory compiling %s", label);
    }
    memcpy(t->label, label, ll + 1);
    anc_error local;
    if (!err) err = &local;
    anc_status st = anc_tpl_syms_init(t, err);
    tpl_tok *toks = NULL;
    size_t nt = 0;
    if (!st) st = anc_tpl_lex(t, source ? source : "", len, &toks, &nt, err);
    if (!st) st = anc_tpl_parse(t, toks, nt, err);
    free(toks);
    if (st) {
        anc_template_free(t);
        return st;
    }
    *out = t;
    return ANC_OK;
}

void anc_template_free(anc_template *t) {
    if (!t) return;
    anc_tpl_arena_free(&t->arena);
    free(t);
}

const char *anc_template_label(const anc_template *t) { return t && t->label ? t->label : "chat_template"; }
