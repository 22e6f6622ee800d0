/* Chat-template engine: statement execution (output, if, for, set, macro,
 * call, filter and with blocks, loop controls) and anc_template_render.
 *
 * Scoping follows jinja2: a for-loop body gets a fresh scope on every
 * iteration (assignments inside do not survive the iteration or the loop),
 * if-blocks share the enclosing scope, macros see their arguments plus the
 * scope they were defined in (read at call time), and namespace() objects
 * carry state out of loops. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jinja/template_internal.h"

static int step(tpl_rs *r, const tpl_node *at) {
    if (++r->steps > r->max_steps)
        return anc_tpl_fail(r, at, ANC_ERR_INVALID, "render exceeded its step limit (%llu statements/iterations)",
                            (unsigned long long)r->max_steps);
    return 0;
}

/* Assigns v to a target (name, tuple of names or ns.attr) in frame f. */
static int assign(tpl_rs *r, const tpl_node *at, const tpl_target *tg, tpl_frame *f, tv v) {
    if (tg->attr.kind == TV_STR) {
        tv ns;
        anc_tpl_lookup(r, tg->syms[0], &ns);
        if (ns.kind != TV_NS)
            return anc_tpl_fail(r, at, ANC_ERR_INVALID,
                                "TypeError: cannot assign attribute on non-namespace object '%s'",
                                r->t->sym_names[tg->syms[0]]);
        return anc_tv_dict_set(r, ns.u.d, tg->attr, v) ? anc_tpl_oom_rs(r, at) : 0;
    }
    if (!tg->is_tuple) return anc_tpl_frame_set(r, at, f, tg->syms[0], v);
    tv_list *items;
    if (anc_tv_iterate(r, at, v, &items)) return -1;
    if (items->n != tg->n)
        return anc_tpl_fail(r, at, ANC_ERR_INVALID, "ValueError: %s values to unpack (expected %zu, got %zu)",
                            items->n < tg->n ? "not enough" : "too many", tg->n, items->n);
    for (size_t i = 0; i < tg->n; i++)
        if (anc_tpl_frame_set(r, at, f, tg->syms[i], items->items[i])) return -1;
    return 0;
}

/* Runs body with output redirected into a fresh string. */
static int capture(tpl_rs *r, const tpl_node *body_owner, tv *out) {
    tpl_buf buf, *saved = r->out;
    anc_tpl_scratch(r, &buf);
    buf.max = saved ? saved->max : 0;
    r->out = &buf;
    int rc = anc_tpl_exec_body(r, body_owner);
    r->out = saved;
    if (rc) return -1;
    *out = anc_tpl_scratch_done(&buf);
    return 0;
}

static int exec_for(tpl_rs *r, const tpl_node *n) {
    tv seq;
    tv_list *items;
    if (anc_tpl_eval(r, n->a, &seq) || anc_tv_iterate(r, n->a, seq, &items)) return -1;
    tpl_frame *outer = r->frame;
    if (n->b && items->n) { /* `for x in xs if cond`: loop.* counts the kept items */
        tv_list *kept = anc_tv_list_new(r, items->n);
        if (!kept) return anc_tpl_oom_rs(r, n);
        kept->n = 0;
        tpl_frame *f = anc_tpl_frame_new(r, n, outer);
        if (!f) return -1;
        for (size_t i = 0; i < items->n; i++) {
            tv c;
            f->n = 0;
            if (assign(r, n, &n->target, f, items->items[i])) return -1;
            r->frame = f;
            int rc = anc_tpl_eval(r, n->b, &c);
            r->frame = outer;
            if (rc) return -1;
            if (anc_tv_truthy(c)) kept->items[kept->n++] = items->items[i];
        }
        items = kept;
    }
    tpl_loop *loop = anc_tpl_alloc(&r->arena, sizeof *loop);
    if (!loop) return anc_tpl_oom_rs(r, n);
    loop->items = items;
    tv loop_v = anc_tv_none();
    loop_v.kind = TV_LOOP;
    loop_v.u.loop = loop;
    tpl_frame *f = NULL;
    /* jinja2 3.1 runs the else block unless some iteration reached the end
     * of the body: an empty loop, but also a break or continue in every
     * iteration before one completed. */
    int completed = 0;
    for (size_t i = 0; i < items->n; i++) {
        if (step(r, n)) return -1;
        if (!f || f->captured) {
            if (!(f = anc_tpl_frame_new(r, n, outer))) return -1;
        } else {
            f->n = 0;
        }
        loop->index0 = i;
        if (anc_tpl_frame_set(r, n, f, SYM_LOOP, loop_v) || assign(r, n, &n->target, f, items->items[i])) return -1;
        r->frame = f;
        int rc = anc_tpl_exec_body(r, n);
        r->frame = outer;
        if (rc) return -1;
        if (r->loop_ctl == 0) completed = 1;
        if (r->loop_ctl == 1) {
            r->loop_ctl = 0;
            break;
        }
        r->loop_ctl = 0;
    }
    if (completed || n->n_items2 == 0) return 0;
    tpl_node body = *n;
    body.items = n->items2;
    body.n_items = n->n_items2;
    return anc_tpl_exec_body(r, &body);
}

static tv macro_value(tpl_rs *r, const tpl_node *def, tv_macro **m) {
    tv v = anc_tv_none();
    *m = anc_tpl_alloc(&r->arena, sizeof **m);
    if (!*m) return v;
    (*m)->def = def;
    (*m)->closure = r->frame;
    (*m)->name = def->kind == S_MACRO ? def->value.u.s.p : NULL;
    (*m)->name_len = def->kind == S_MACRO ? def->value.u.s.n : 6;
    r->frame->captured = 1;
    v.kind = TV_MACRO;
    v.u.m = *m;
    return v;
}

static int exec_call_block(tpl_rs *r, const tpl_node *n) {
    tv_macro *cm;
    tv caller = macro_value(r, n, &cm);
    if (!cm) return anc_tpl_oom_rs(r, n);
    const tpl_node *call = n->a;
    tv fn, res;
    tpl_args args;
    if (anc_tpl_eval(r, call->a, &fn) || anc_tpl_eval_args(r, call, &args)) return -1;
    if (fn.kind != TV_MACRO)
        return anc_tpl_fail(r, n, ANC_ERR_UNSUPPORTED, "{%% call %%} of a %s (only macros take a caller)",
                            anc_tv_type_name(fn));
    if (anc_tpl_call_macro(r, n, fn.u.m, &args, &caller, &res)) return -1;
    return anc_tv_str_append(r, n, r->out, res);
}

/* Runs an if / elif ... / else chain in a loop: an elif is an S_IF alone in
 * the else branch, and 100,000 of them must not recurse 100,000 deep. */
static int exec_if(tpl_rs *r, const tpl_node *n) {
    for (;;) {
        tv v;
        if (anc_tpl_eval(r, n->a, &v)) return -1;
        if (anc_tv_truthy(v)) return anc_tpl_exec_body(r, n);
        if (!n->n_items2) return 0;
        if (n->n_items2 == 1 && n->items2[0]->kind == S_IF) {
            n = n->items2[0];
            if (step(r, n)) return -1;
            continue;
        }
        tpl_node body = *n;
        body.items = n->items2;
        body.n_items = n->n_items2;
        return anc_tpl_exec_body(r, &body);
    }
}

static int exec_node(tpl_rs *r, const tpl_node *n);

static int exec_stmt(tpl_rs *r, const tpl_node *n) {
    if (anc_tpl_too_deep(r))
        return anc_tpl_fail(r, n, ANC_ERR_INVALID, "statements nested more than %d deep (or past %d KiB of stack)",
                            TPL_MAX_RENDER_NESTING, (int)(TPL_MAX_STACK_BYTES >> 10));
    r->nesting++;
    int rc = exec_node(r, n);
    r->nesting--;
    return rc;
}

static int exec_node(tpl_rs *r, const tpl_node *n) {
    tv v;
    if (step(r, n)) return -1;
    switch (n->kind) {
    case S_TEXT: return anc_tpl_buf_check(r, n, anc_tpl_buf_put(r->out, n->value.u.s.p, n->value.u.s.n));
    case S_OUT:
        if (anc_tpl_eval(r, n->a, &v)) return -1;
        return anc_tv_str_append(r, n, r->out, v);
    case S_IF: return exec_if(r, n);
    case S_FOR: return exec_for(r, n);
    case S_SET:
        if (anc_tpl_eval(r, n->a, &v)) return -1;
        return assign(r, n, &n->target, r->frame, v);
    case S_SETBLOCK:
        if (capture(r, n, &v)) return -1;
        if (n->a) {
            r->block_value = v;
            if (anc_tpl_eval(r, n->a, &v)) return -1;
        }
        return assign(r, n, &n->target, r->frame, v);
    case S_FILTERBLOCK:
        if (capture(r, n, &v)) return -1;
        r->block_value = v;
        if (anc_tpl_eval(r, n->a, &v)) return -1;
        return anc_tv_str_append(r, n, r->out, v);
    case S_MACRO: {
        tv_macro *m;
        v = macro_value(r, n, &m);
        if (!m) return anc_tpl_oom_rs(r, n);
        return anc_tpl_frame_set(r, n, r->frame, n->sym, v);
    }
    case S_CALLBLOCK: return exec_call_block(r, n);
    case S_WITH: {
        tpl_frame *outer = r->frame, *f = anc_tpl_frame_new(r, n, outer);
        if (!f) return -1;
        for (size_t i = 0; i < n->n_params; i++) {
            if (anc_tpl_eval(r, n->defaults[i], &v) || anc_tpl_frame_set(r, n, f, n->params[i], v)) return -1;
        }
        r->frame = f;
        int rc = anc_tpl_exec_body(r, n);
        r->frame = outer;
        return rc;
    }
    case S_BREAK: r->loop_ctl = 1; return 0;
    case S_CONTINUE: r->loop_ctl = 2; return 0;
    case S_BODY: return anc_tpl_exec_body(r, n);
    default: return anc_tpl_fail(r, n, ANC_ERR_INTERNAL, "not a statement (node kind %d)", (int)n->kind);
    }
}

int anc_tpl_exec_body(tpl_rs *r, const tpl_node *body) {
    for (size_t i = 0; i < body->n_items; i++) {
        if (exec_stmt(r, body->items[i])) return -1;
        if (r->loop_ctl) return 0;
    }
    return 0;
}

static int param_index(const tpl_rs *r, const tpl_node *def, tv name) {
    for (size_t i = 0; i < def->n_params; i++) {
        int s = def->params[i];
        if (r->t->sym_lens[s] == name.u.s.n && memcmp(r->t->sym_names[s], name.u.s.p, name.u.s.n) == 0)
            return (int)i;
    }
    return -1;
}

int anc_tpl_call_macro(tpl_rs *r, const tpl_node *at, const tv_macro *m, tpl_args *a, const tv *caller, tv *out) {
    const tpl_node *def = m->def;
    if (r->macro_depth >= TPL_MAX_MACRO_DEPTH)
        return anc_tpl_fail(r, at, ANC_ERR_INVALID, "macro calls nested more than %d deep", TPL_MAX_MACRO_DEPTH);
    if (step(r, at)) return -1;
    tpl_frame *f = anc_tpl_frame_new(r, at, m->closure);
    if (!f) return -1;
    size_t np = def->n_params;
    tv *vals = anc_tpl_alloc(&r->arena, (np ? np : 1) * sizeof *vals);
    uint8_t *have = anc_tpl_calloc(&r->arena, np ? np : 1, 1);
    tv_list *varargs = anc_tv_list_new(r, a->npos > np ? a->npos - np : 0);
    tv_dict *kwargs = anc_tv_dict_new(r, 4);
    if (!vals || !have || !varargs || !kwargs) return anc_tpl_oom_rs(r, at);
    for (size_t i = 0; i < a->npos; i++) {
        if (i < np) {
            vals[i] = a->pos[i];
            have[i] = 1;
        } else {
            varargs->items[i - np] = a->pos[i];
        }
    }
    for (size_t k = 0; k < a->nkw; k++) {
        int i = param_index(r, def, a->kw_names[k]);
        if (i < 0) {
            if (anc_tv_dict_set(r, kwargs, a->kw_names[k], a->kw[k])) return anc_tpl_oom_rs(r, at);
            continue;
        }
        if (have[i])
            return anc_tpl_fail(r, at, ANC_ERR_INVALID, "TypeError: macro '%.*s' got multiple values for argument '%s'",
                                (int)m->name_len, m->name ? m->name : "caller", r->t->sym_names[def->params[i]]);
        vals[i] = a->kw[k];
        have[i] = 1;
    }
    tpl_frame *saved_frame = r->frame;
    tpl_buf *saved_out = r->out;
    int saved_ctl = r->loop_ctl;
    r->frame = f;
    r->loop_ctl = 0;
    r->macro_depth++;
    int rc = 0;
    for (size_t i = 0; i < np && !rc; i++) {
        tv v = vals[i];
        if (!have[i]) {
            if (def->defaults[i]) {
                rc = anc_tpl_eval(r, def->defaults[i], &v);
            } else {
                int s = def->params[i];
                v = anc_tv_undef_named(r->t->sym_names[s], r->t->sym_lens[s]);
            }
        }
        if (!rc) rc = anc_tpl_frame_set(r, at, f, def->params[i], v);
    }
    tv va = anc_tv_none(), kw = anc_tv_none();
    va.kind = TV_LIST;
    va.tuple = 1;
    va.u.l = varargs;
    kw.kind = TV_DICT;
    kw.u.d = kwargs;
    if (!rc) rc = anc_tpl_frame_set(r, at, f, SYM_VARARGS, va) || anc_tpl_frame_set(r, at, f, SYM_KWARGS, kw);
    if (!rc && caller) rc = anc_tpl_frame_set(r, at, f, SYM_CALLER, *caller);
    tpl_buf buf;
    anc_tpl_scratch(r, &buf);
    buf.max = saved_out ? saved_out->max : 0;
    r->out = &buf;
    if (!rc) rc = anc_tpl_exec_body(r, def);
    r->out = saved_out;
    r->frame = saved_frame;
    r->loop_ctl = saved_ctl;
    r->macro_depth--;
    if (rc) return -1;
    *out = anc_tpl_scratch_done(&buf);
    return 0;
}

/* ------------------------------------------------------------- render */

anc_status anc_template_render(const anc_template *t, const json_t *context, const anc_template_options *opts,
                               char **out, size_t *out_len, anc_error *err) {
    if (out) *out = NULL;
    if (out_len) *out_len = 0;
    if (!t || !out) return anc_error_set(err, ANC_ERR_INVALID, "anc_template_render: template or out is NULL");
    if (context && !json_is_object(context))
        return anc_error_set(err, ANC_ERR_INVALID, "%s: the render context must be a JSON object", t->label);
    anc_error local;
    if (!err) err = &local;
    anc_error_clear(err);
    anc_template_options o;
    memset(&o, 0, sizeof o);
    if (opts) o = *opts;
    tpl_rs r;
    memset(&r, 0, sizeof r);
    r.t = t;
    r.err = err;
    r.stack_base = (uintptr_t)__builtin_frame_address(0);
    anc_tpl_arena_init(&r.arena, o.max_memory ? o.max_memory : TPL_DEFAULT_MAX_MEMORY);
    r.max_steps = o.max_steps ? o.max_steps : TPL_DEFAULT_MAX_STEPS;
    r.now = o.has_now ? o.now_utc : (int64_t)time(NULL);
    tpl_buf result;
    memset(&result, 0, sizeof result);
    result.max = o.max_output ? o.max_output : TPL_DEFAULT_MAX_OUTPUT;
    int rc = 0;
    r.ctx = anc_tpl_calloc(&r.arena, t->n_syms, sizeof *r.ctx);
    r.ctx_set = anc_tpl_calloc(&r.arena, t->n_syms, 1);
    if (!r.ctx || !r.ctx_set) rc = anc_tpl_oom_rs(&r, NULL);
    if (!rc && context) {
        const char *key;
        size_t klen;
        json_t *val;
        json_object_keylen_foreach((json_t *)context, key, klen, val) {
            for (size_t s = 0; s < t->n_syms; s++) {
                if (t->sym_lens[s] != klen || memcmp(t->sym_names[s], key, klen) != 0) continue;
                if (anc_tpl_from_json(&r, val, &r.ctx[s], 0)) rc = -1;
                r.ctx_set[s] = 1;
                break;
            }
            if (rc) break;
        }
    }
    if (!rc) {
        r.root = r.frame = anc_tpl_frame_new(&r, NULL, NULL);
        if (!r.root) rc = -1;
    }
    r.out = &result;
    if (!rc) rc = anc_tpl_exec_body(&r, t->root);
    anc_tpl_arena_free(&r.arena);
    if (rc) {
        free(result.p);
        if (err->code == ANC_OK) anc_error_set(err, ANC_ERR_INTERNAL, "%s: render failed", t->label);
        return err->code;
    }
    if (!result.p && !(result.p = calloc(1, 1)))
        return anc_error_set(err, ANC_ERR_NOMEM, "%s: out of memory", t->label);
    *out = result.p;
    if (out_len) *out_len = result.n;
    return ANC_OK;
}
