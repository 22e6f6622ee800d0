/* IFEval (ifeval.h): the registry of instruction types, the official
 * argument filter, and the strict and loose rules. */
#include "eval/ifeval.h"

#include <stdlib.h>
#include <string.h>

#include "core/text.h"

const anc_ifeval_kind *anc_ifeval_find(const char *id) {
    const anc_ifeval_kind *const tables[] = {anc_ifeval_text_kinds, anc_ifeval_format_kinds};
    for (size_t t = 0; t < sizeof tables / sizeof *tables; t++)
        for (const anc_ifeval_kind *k = tables[t]; k->id; k++)
            if (!strcmp(k->id, id)) return k;
    return NULL;
}

/* Python's truthiness of a JSON value (None, False, 0, 0.0, "", [], {}
 * are falsy): the official evaluator passes only truthy kwargs. */
static int truthy(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_NULL:
    case JSON_FALSE: return 0;
    case JSON_INTEGER: return json_integer_value(v) != 0;
    case JSON_REAL: return json_real_value(v) != 0.0;
    case JSON_STRING: return json_string_length(v) != 0;
    case JSON_ARRAY: return json_array_size(v) != 0;
    case JSON_OBJECT: return json_object_size(v) != 0;
    default: return 1;
    }
}

/* Python's str.strip() of s[0..n): the span without Unicode whitespace at
 * either end. */
static void py_strip(const char **s, size_t *n) { anc_text_trim(s, n); }

/* A copy of s[0..n) with every '*' removed. */
static char *without_stars(const char *s, size_t n) {
    char *o = malloc(n + 1);
    if (!o) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] != '*') o[k++] = s[i];
    o[k] = '\0';
    return o;
}

/* Whether the check passes on text (a blank text never passes, as the
 * official `response.strip() and check_following(response)`). */
static anc_status try_variant(const anc_ifeval_kind *k, const json_t *kw, const char *prompt, const char *text,
                              int *ok, anc_error *err) {
    const char *s = text;
    size_t n = strlen(text);
    py_strip(&s, &n);
    *ok = 0;
    if (!n) return ANC_OK;
    return k->check(kw, prompt, text, ok, err);
}

anc_status anc_ifeval_follows(const char *id, const json_t *kwargs, const char *prompt, const char *response,
                              int *strict, int *loose, anc_error *err) {
    *strict = *loose = 0;
    const anc_ifeval_kind *k = anc_ifeval_find(id);
    if (!k) return anc_error_set(err, ANC_ERR_UNSUPPORTED, "IFEval instruction '%s' is not one anchor knows", id);
    json_t *kw = json_object();
    if (!kw) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    const char *key;
    json_t *v;
    if (json_is_object(kwargs))
        json_object_foreach((json_t *)kwargs, key, v) if (truthy(v)) json_object_set(kw, key, v);
    anc_status st = try_variant(k, kw, prompt, response, strict, err);
    /* the loose variants: the response, without its first line, without its
     * last line, without both (those three stripped), each with and without
     * '*' */
    size_t len = strlen(response);
    const char *first_nl = memchr(response, '\n', len), *last_nl = first_nl ? strrchr(response, '\n') : NULL;
    struct { const char *s; size_t n; } cut[4] = {
        {response, len},
        {first_nl ? first_nl + 1 : response + len, first_nl ? len - (size_t)(first_nl + 1 - response) : 0},
        {response, last_nl ? (size_t)(last_nl - response) : 0},
        {first_nl ? first_nl + 1 : response, 0},
    };
    if (first_nl && last_nl > first_nl) cut[3].n = (size_t)(last_nl - (first_nl + 1));
    for (int i = 1; i < 4; i++) py_strip(&cut[i].s, &cut[i].n);
    *loose = *strict;
    for (int i = 0; i < 4 && !st && !*loose; i++)
        for (int stars = 0; stars < 2 && !st && !*loose; stars++) {
            if (i == 0 && !stars) continue; /* the response itself: the strict verdict */
            char *t = stars ? without_stars(cut[i].s, cut[i].n) : anc_text_dup(cut[i].s, cut[i].n);
            if (!t) {
                st = anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
                break;
            }
            st = try_variant(k, kw, prompt, t, loose, err);
            free(t);
        }
    json_decref(kw);
    return st;
}

anc_status anc_ifeval_score(const json_t *input_row, const char *response, int **strict, int **loose, size_t *n,
                            anc_error *err) {
    *strict = *loose = NULL;
    *n = 0;
    const json_t *ids = json_object_get(input_row, "instruction_id_list"), *kws = json_object_get(input_row, "kwargs");
    const char *prompt = json_string_value(json_object_get(input_row, "prompt"));
    if (!prompt || !json_is_array(ids))
        return anc_error_set(err, ANC_ERR_FORMAT, "expected \"prompt\" (a string) and \"instruction_id_list\" (a list)");
    size_t m = json_array_size(ids);
    if (kws && (!json_is_array(kws) || json_array_size(kws) != m))
        return anc_error_set(err, ANC_ERR_FORMAT, "\"kwargs\" must be a list with one object per instruction (%zu)", m);
    if (!m) return ANC_OK;
    int *s = calloc(m, sizeof *s), *l = calloc(m, sizeof *l);
    anc_status st = s && l ? ANC_OK : anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < m && !st; i++) {
        const char *id = json_string_value(json_array_get(ids, i));
        if (!id) st = anc_error_set(err, ANC_ERR_FORMAT, "\"instruction_id_list\"[%zu] is not a string", i);
        else st = anc_ifeval_follows(id, kws ? json_array_get(kws, i) : NULL, prompt, response, &s[i], &l[i], err);
    }
    if (st) {
        free(s);
        free(l);
        return st;
    }
    *strict = s;
    *loose = l;
    *n = m;
    return ANC_OK;
}
