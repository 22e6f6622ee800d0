/* Safe YAML loading (see yaml_load.h): an event pass bounds the nesting
 * before libyaml builds the document, then one pass over the document's node
 * array (no recursion) finds repeated keys. */
#include "core/yaml_load.h"

#include <stdlib.h>
#include <string.h>

#include "core/fileutil.h"

static anc_status yaml_problem(const yaml_parser_t *p, const char *label, anc_error *err) {
    if (p->error == YAML_MEMORY_ERROR) return anc_error_set(err, ANC_ERR_NOMEM, "%s: out of memory reading YAML", label);
    return anc_error_set(err, ANC_ERR_FORMAT, "%s:%zu:%zu: invalid YAML: %s%s%s", label, p->problem_mark.line + 1,
                         p->problem_mark.column + 1, p->problem ? p->problem : "parse error",
                         p->context ? " " : "", p->context ? p->context : "");
}

/* Streams the events of text, refusing nesting past ANC_YAML_MAX_DEPTH as
 * soon as it is reached (before libyaml has scanned the rest). */
static anc_status check_depth(const char *text, size_t len, const char *label, anc_error *err) {
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p)) return anc_error_set(err, ANC_ERR_NOMEM, "%s: out of memory reading YAML", label);
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    anc_status st = ANC_OK;
    int depth = 0;
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) {
            st = yaml_problem(&p, label, err);
            break;
        }
        yaml_event_type_t type = ev.type;
        size_t line = ev.start_mark.line + 1, col = ev.start_mark.column + 1;
        yaml_event_delete(&ev);
        if (type == YAML_SEQUENCE_START_EVENT || type == YAML_MAPPING_START_EVENT) {
            if (++depth > ANC_YAML_MAX_DEPTH) {
                st = anc_error_set(err, ANC_ERR_FORMAT, "%s:%zu:%zu: YAML nested more than %d levels deep", label, line,
                                   col, ANC_YAML_MAX_DEPTH);
                break;
            }
        } else if (type == YAML_SEQUENCE_END_EVENT || type == YAML_MAPPING_END_EVENT) {
            depth--;
        } else if (type == YAML_STREAM_END_EVENT) {
            break;
        }
    }
    yaml_parser_delete(&p);
    return st;
}

typedef struct key_ref {
    const char *s;
    size_t n, line;
} key_ref;

static int cmp_key(const void *a, const void *b) {
    const key_ref *x = a, *y = b;
    size_t n = x->n < y->n ? x->n : y->n;
    int c = memcmp(x->s, y->s, n);
    if (c) return c;
    if (x->n != y->n) return x->n < y->n ? -1 : 1;
    return x->line < y->line ? -1 : x->line > y->line;
}

/* Sorts each mapping's scalar keys, so a mapping of many keys costs
 * n log n, and reports the first repeated one. */
static anc_status check_duplicate_keys(yaml_document_t *doc, const char *label, anc_error *err) {
    key_ref *keys = NULL;
    size_t cap = 0;
    anc_status st = ANC_OK;
    for (yaml_node_t *m = doc->nodes.start; m < doc->nodes.top && !st; m++) {
        if (m->type != YAML_MAPPING_NODE) continue;
        size_t n = 0, total = (size_t)(m->data.mapping.pairs.top - m->data.mapping.pairs.start);
        if (total < 2) continue;
        if (total > cap) {
            key_ref *more = realloc(keys, total * sizeof *keys);
            if (!more) {
                st = anc_error_set(err, ANC_ERR_NOMEM, "%s: out of memory reading YAML", label);
                break;
            }
            keys = more;
            cap = total;
        }
        for (yaml_node_pair_t *pr = m->data.mapping.pairs.start; pr < m->data.mapping.pairs.top; pr++) {
            yaml_node_t *k = yaml_document_get_node(doc, pr->key);
            if (!k || k->type != YAML_SCALAR_NODE) continue;
            keys[n++] = (key_ref){(const char *)k->data.scalar.value, k->data.scalar.length, k->start_mark.line + 1};
        }
        qsort(keys, n, sizeof *keys, cmp_key);
        size_t worst = 0; /* report the repeat that comes first in the file */
        int found = 0;
        for (size_t i = 1; i < n; i++) {
            if (keys[i].n != keys[i - 1].n || memcmp(keys[i].s, keys[i - 1].s, keys[i].n) != 0) continue;
            if (!found || keys[i].line < keys[worst].line) worst = i;
            found = 1;
        }
        if (found) {
            size_t first = worst - 1;
            while (first > 0 && keys[first - 1].n == keys[worst].n && !memcmp(keys[first - 1].s, keys[worst].s, keys[worst].n))
                first--;
            int shown = keys[worst].n > 60 ? 60 : (int)keys[worst].n;
            st = anc_error_set(err, ANC_ERR_FORMAT, "%s:%zu: key '%.*s' given twice (first at line %zu)", label,
                               keys[worst].line, shown, keys[worst].s, keys[first].line);
        }
    }
    free(keys);
    return st;
}

anc_status anc_yaml_load_text(const char *text, size_t len, const char *label, yaml_document_t *doc, anc_error *err) {
    memset(doc, 0, sizeof *doc);
    if (!label) label = "YAML";
    anc_status st = check_depth(text, len, label, err);
    if (st) return st;
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p)) return anc_error_set(err, ANC_ERR_NOMEM, "%s: out of memory reading YAML", label);
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    if (!yaml_parser_load(&p, doc)) {
        st = yaml_problem(&p, label, err);
        yaml_parser_delete(&p);
        memset(doc, 0, sizeof *doc);
        return st;
    }
    yaml_parser_delete(&p);
    st = check_duplicate_keys(doc, label, err);
    if (st) {
        yaml_document_delete(doc);
        memset(doc, 0, sizeof *doc);
    }
    return st;
}

anc_status anc_yaml_load_file(const char *path, yaml_document_t *doc, anc_error *err) {
    memset(doc, 0, sizeof *doc);
    char *text = NULL;
    size_t len = 0;
    anc_status st = anc_read_file(path, ANC_YAML_MAX_BYTES, &text, &len, err);
    if (st) return st;
    st = anc_yaml_load_text(text, len, path, doc, err);
    free(text);
    return st;
}
