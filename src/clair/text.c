#include "clair/text.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fileutil.h"

/* ---- prompt templates --------------------------------------------------- */

anc_status anc_text_fill(const char *tmpl, const anc_text_var *vars, size_t n_vars, char **out, anc_error *err) {
    *out = NULL;
    anc_sbuf b = {0};
    const char *p = tmpl, *lit = tmpl;
    while (*p) {
        if (*p == '{') {
            size_t v = 0;
            for (; v < n_vars; v++) {
                size_t nl = strlen(vars[v].name);
                if (strncmp(p + 1, vars[v].name, nl) == 0 && p[1 + nl] == '}') break;
            }
            if (v < n_vars) {
                anc_sbuf_append(&b, lit, (size_t)(p - lit));
                anc_sbuf_puts(&b, vars[v].value ? vars[v].value : "");
                p += strlen(vars[v].name) + 2;
                lit = p;
                continue;
            }
        }
        p++;
    }
    anc_sbuf_append(&b, lit, (size_t)(p - lit));
    *out = anc_sbuf_take(&b);
    if (!*out) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory rendering a prompt template");
    return ANC_OK;
}

anc_status anc_text_template_check(const char *tmpl, const char *const *required, size_t n_required,
                                   const char *label, anc_error *err) {
    for (size_t i = 0; i < n_required; i++) {
        size_t nl = strlen(required[i]);
        int found = 0;
        for (const char *p = strchr(tmpl, '{'); p && !found; p = strchr(p + 1, '{'))
            found = strncmp(p + 1, required[i], nl) == 0 && p[1 + nl] == '}';
        if (!found) {
            anc_sbuf all = {0};
            for (size_t k = 0; k < n_required; k++) anc_sbuf_printf(&all, "%s{%s}", k ? ", " : "", required[k]);
            anc_error_set(err, ANC_ERR_FORMAT, "%s: template has no {%s} placeholder (expected each of %s)", label,
                          required[i], anc_sbuf_str(&all));
            anc_sbuf_free(&all);
            return ANC_ERR_FORMAT;
        }
    }
    return ANC_OK;
}

anc_status anc_text_template_load(const char *path, const char *const *required, size_t n_required, char **out,
                                  anc_error *err) {
    *out = NULL;
    char *text = NULL;
    size_t len = 0;
    anc_status st = anc_read_file(path, (size_t)1 << 20, &text, &len, err);
    if (st) return st;
    if (strlen(text) != len) {
        free(text);
        return anc_error_set(err, ANC_ERR_FORMAT, "%s: template contains a NUL byte (expected text)", path);
    }
    if (len > 0 && text[len - 1] == '\n') {
        text[--len] = '\0';
        if (len > 0 && text[len - 1] == '\r') text[--len] = '\0';
    }
    st = anc_text_template_check(text, required, n_required, path, err);
    if (st) {
        free(text);
        return st;
    }
    *out = text;
    return ANC_OK;
}
