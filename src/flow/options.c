/* Option tables (options.h): lookup, defaults and value parsing shared by the
 * CLI and the pipeline. */
#include "flow/options.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

static int name_eq(const char *a, const char *b) {
    size_t i = 0;
    for (; a[i] && b[i]; i++) {
        char x = a[i] == '_' ? '-' : a[i], y = b[i] == '_' ? '-' : b[i];
        if (x != y) return 0;
    }
    return !a[i] && !b[i];
}

const anc_option *anc_options_find(const anc_option *t, const char *key) {
    for (const anc_option *o = t; o && o->name; o++)
        if (name_eq(o->name, key)) return o;
    return NULL;
}

size_t anc_options_count(const anc_option *t) {
    size_t n = 0;
    while (t && t[n].name) n++;
    return n;
}

void *anc_option_field(const anc_option *o, void *base) { return (char *)base + o->offset; }

static int flag_value(const char *v) {
    if (!strcmp(v, "true") || !strcmp(v, "True") || !strcmp(v, "yes")) return 1;
    if (!strcmp(v, "false") || !strcmp(v, "False") || !strcmp(v, "no")) return 0;
    return -1;
}

/* Parses an integer of o's kind; NULL or what was expected. */
static const char *parse_long(const anc_option *o, const char *v, long *out) {
    char *end = NULL;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (!*v || *end) return "an integer";
    if (o->type == ANC_OPT_COUNT) {
        if (errno == ERANGE ? v[0] != '-' : x > INT_MAX) return "an integer of at most 2147483647";
        if (x < 0) return "an integer >= 0";
    } else if (errno == ERANGE) {
        return "an integer of at most 19 digits";
    }
    *out = x;
    return NULL;
}

static const char *parse_double(const char *v, double *out) {
    char *end = NULL;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || !*v || *end) return "a number";
    *out = x;
    return NULL;
}

const char *anc_option_check(const anc_option *o, const char *v) {
    long l;
    double d;
    switch (o->type) {
    case ANC_OPT_INT:
    case ANC_OPT_COUNT: return parse_long(o, v, &l);
    case ANC_OPT_FLOAT: return parse_double(v, &d);
    case ANC_OPT_FLAG: return flag_value(v) < 0 ? "true or false" : NULL;
    default: return NULL;
    }
}

anc_status anc_option_set(const anc_option *o, void *base, const char *v, anc_error *err) {
    void *f = anc_option_field(o, base);
    const char *why = NULL;
    switch (o->type) {
    case ANC_OPT_STR: *(const char **)f = v; return ANC_OK;
    case ANC_OPT_INT:
    case ANC_OPT_COUNT: why = parse_long(o, v, (long *)f); break;
    case ANC_OPT_FLOAT: why = parse_double(v, (double *)f); break;
    case ANC_OPT_FLAG: {
        int b = flag_value(v);
        if (b < 0) why = "true or false";
        else *(int *)f = b;
        break;
    }
    case ANC_OPT_LIST: {
        anc_opt_list *l = f;
        if (l->n == ANC_OPT_LIST_MAX)
            return anc_error_set(err, ANC_ERR_INVALID, "option '--%s' takes at most %d values", o->name, ANC_OPT_LIST_MAX);
        l->v[l->n++] = v;
        return ANC_OK;
    }
    default: return anc_error_set(err, ANC_ERR_INTERNAL, "option '--%s': unknown type %d", o->name, o->type);
    }
    if (why) return anc_error_set(err, ANC_ERR_INVALID, "option '--%s' expects %s, got '%s'", o->name, why, v);
    return ANC_OK;
}

anc_status anc_options_defaults(const anc_option *t, void *base, anc_error *err) {
    for (const anc_option *o = t; o && o->name; o++) {
        if (o->def) {
            if (anc_option_set(o, base, o->def, err))
                return anc_error_set(err, ANC_ERR_INTERNAL, "option table: bad default '%s' of --%s", o->def, o->name);
            if (o->type == ANC_OPT_LIST) ((anc_opt_list *)anc_option_field(o, base))->from_file = 1;
        }
    }
    return ANC_OK;
}

static char *keep_copy(anc_opt_strings *k, const char *v) {
    char **nv = realloc(k->v, (k->n + 1) * sizeof *nv);
    if (!nv) return NULL;
    k->v = nv;
    char *c = strdup(v);
    if (c) k->v[k->n++] = c;
    return c;
}

anc_status anc_option_set_copy(const anc_option *o, void *base, const char *v, anc_opt_strings *keep, anc_error *err) {
    if (o->type != ANC_OPT_STR && o->type != ANC_OPT_LIST) return anc_option_set(o, base, v, err);
    char *c = keep_copy(keep, v);
    if (!c) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    if (o->type == ANC_OPT_STR) return anc_option_set(o, base, c, err);
    anc_opt_list *l = anc_option_field(o, base);
    l->n = 0; /* a set is the whole list */
    l->from_file = 0;
    for (char *save = NULL, *tok = strtok_r(c, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ' || *tok == '\t') tok++;
        size_t n = strlen(tok);
        while (n && (tok[n - 1] == ' ' || tok[n - 1] == '\t')) tok[--n] = '\0';
        if (!n) continue;
        anc_status st = anc_option_set(o, base, tok, err);
        if (st) return st;
    }
    return ANC_OK;
}

void anc_opt_strings_free(anc_opt_strings *k) {
    for (size_t i = 0; i < k->n; i++) free(k->v[i]);
    free(k->v);
    k->v = NULL;
    k->n = 0;
}
