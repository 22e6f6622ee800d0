/* Flattening rounds blocks (rounds.h). */
#include "pipeline/rounds.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ROUNDS 100
#define MAX_ENTRIES 10000

static size_t line_of(const yaml_node_t *n) { return n->start_mark.line + 1; }

static const char *scalar_of(const yaml_node_t *n) {
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* The value of key in mapping m, or NULL; *key_node the key. */
static yaml_node_t *get(yaml_document_t *doc, yaml_node_t *m, const char *key, yaml_node_t **key_node) {
    for (yaml_node_pair_t *pr = m->data.mapping.pairs.start; pr < m->data.mapping.pairs.top; pr++) {
        yaml_node_t *k = yaml_document_get_node(doc, pr->key);
        const char *s = scalar_of(k);
        if (s && !strcmp(s, key)) {
            if (key_node) *key_node = k;
            return yaml_document_get_node(doc, pr->value);
        }
    }
    return NULL;
}

/* Checks block m and reads its rounds count and step list. */
static anc_status read_block(const char *path, yaml_document_t *doc, yaml_node_t *m, long *rounds, yaml_node_t **seq,
                             anc_error *err) {
    for (yaml_node_pair_t *pr = m->data.mapping.pairs.start; pr < m->data.mapping.pairs.top; pr++) {
        yaml_node_t *k = yaml_document_get_node(doc, pr->key);
        const char *s = scalar_of(k);
        if (!s || (strcmp(s, "rounds") && strcmp(s, "steps")))
            return anc_error_set(err, ANC_ERR_FORMAT, "%s:%zu: key '%s': unknown in a rounds block (expected rounds, steps)",
                                 path, line_of(k), s ? s : "?");
    }
    yaml_node_t *r = get(doc, m, "rounds", NULL);
    const char *rv = scalar_of(r);
    char *end = NULL;
    errno = 0;
    *rounds = rv ? strtol(rv, &end, 10) : 0;
    if (!rv || end == rv || *end || errno || *rounds < 1 || *rounds > MAX_ROUNDS)
        return anc_error_set(err, ANC_ERR_FORMAT, "%s:%zu: key 'rounds': expected a count 1..%d, got '%s'", path,
                             line_of(r), MAX_ROUNDS, rv ? rv : "a list or mapping");
    *seq = get(doc, m, "steps", NULL);
    if (!*seq || (*seq)->type != YAML_SEQUENCE_NODE || (*seq)->data.sequence.items.top == (*seq)->data.sequence.items.start)
        return anc_error_set(err, ANC_ERR_FORMAT, "%s:%zu: key 'steps': a rounds block needs a non-empty list of steps",
                             path, *seq ? line_of(*seq) : line_of(m));
    for (yaml_node_item_t *it = (*seq)->data.sequence.items.start; it < (*seq)->data.sequence.items.top; it++) {
        yaml_node_t *s = yaml_document_get_node(doc, *it);
        if (s->type == YAML_MAPPING_NODE && get(doc, s, "rounds", NULL))
            return anc_error_set(err, ANC_ERR_FORMAT, "%s:%zu: key 'rounds': rounds blocks do not nest", path, line_of(s));
    }
    return ANC_OK;
}

static anc_status push(anc_pipe_entry **v, size_t *n, size_t *cap, anc_pipe_entry e, const char *path, size_t line,
                       anc_error *err) {
    if (*n == MAX_ENTRIES)
        return anc_error_set(err, ANC_ERR_FORMAT, "%s:%zu: more than %d steps once the rounds are unrolled", path, line,
                             MAX_ENTRIES);
    if (*n == *cap) {
        size_t nc = *cap ? 2 * *cap : 16;
        anc_pipe_entry *nv = realloc(*v, nc * sizeof *nv);
        if (!nv) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
        *v = nv;
        *cap = nc;
    }
    (*v)[(*n)++] = e;
    return ANC_OK;
}

anc_status anc_pipe_flatten(const char *path, yaml_document_t *doc, yaml_node_t *steps, anc_pipe_entry **out,
                            size_t *n, anc_error *err) {
    anc_pipe_entry *v = NULL;
    size_t nv = 0, cap = 0;
    anc_status st = ANC_OK;
    for (yaml_node_item_t *it = steps->data.sequence.items.start; !st && it < steps->data.sequence.items.top; it++) {
        yaml_node_t *m = yaml_document_get_node(doc, *it);
        if (m->type != YAML_MAPPING_NODE || !get(doc, m, "rounds", NULL)) {
            st = push(&v, &nv, &cap, (anc_pipe_entry){m, 0, 0, 0}, path, line_of(m), err);
            continue;
        }
        long rounds = 0;
        yaml_node_t *seq = NULL;
        if ((st = read_block(path, doc, m, &rounds, &seq, err))) break;
        size_t nb = (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
        for (long r = 1; !st && r <= rounds; r++) {
            size_t first = nv;
            for (size_t j = 0; !st && j < nb; j++) {
                yaml_node_t *s = yaml_document_get_node(doc, seq->data.sequence.items.start[j]);
                st = push(&v, &nv, &cap, (anc_pipe_entry){s, (int)r, first, nb}, path, line_of(s), err);
            }
        }
    }
    if (st) {
        free(v);
        return st;
    }
    *out = v;
    *n = nv;
    return ANC_OK;
}
