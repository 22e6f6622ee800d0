/* --config FILE.yaml for subcommands: a flat YAML mapping of option names to
 * scalars or lists of scalars, applied through the same option table as the
 * command line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "cli/cli.h"
#include "core/yaml_load.h"

const char *cli_find_config(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) return argv[i + 1];
        if (strncmp(argv[i], "--config=", 9) == 0) return argv[i] + 9;
    }
    return NULL;
}

/* Strings taken from a config file must outlive the parsed YAML document:
 * they are kept here and released at exit (the CLI's only global state). */
static char **kept;
static size_t n_kept;

static void release_kept(void) {
    for (size_t i = 0; i < n_kept; i++) free(kept[i]);
    free(kept);
    kept = NULL;
    n_kept = 0;
}

static char *keep(const char *s) {
    char **nk = realloc(kept, (n_kept + 1) * sizeof *nk);
    char *copy = strdup(s);
    if (!nk || !copy) {
        free(copy);
        if (nk) kept = nk;
        return NULL;
    }
    if (n_kept == 0) atexit(release_kept);
    kept = nk;
    kept[n_kept++] = copy;
    return copy;
}

static const cli_opt *find_opt(const cli_opt *opts, const char *key) {
    for (const cli_opt *o = opts; o->name; o++) {
        size_t i = 0;
        for (; o->name[i] && key[i]; i++) {
            char a = o->name[i] == '_' ? '-' : o->name[i], b = key[i] == '_' ? '-' : key[i];
            if (a != b) break;
        }
        if (!o->name[i] && !key[i]) return o;
    }
    return NULL;
}

static int set_scalar(const cli_opt *o, const char *v, const char *path, size_t line, const char *cmd) {
    char *end = NULL;
    switch (o->kind) {
    case OPT_STR: *(const char **)o->dest = keep(v); return 0;
    case OPT_INT:
    case OPT_COUNT: {
        const char *why = cli_parse_int(o, v, (long *)o->dest);
        if (!why) return 0;
        fprintf(stderr, "anchor %s: %s:%zu: key '%s': expected %s, got '%s'\n", cmd, path, line, o->name, why, v);
        return 2;
    }
    case OPT_FLOAT: {
        double x = strtod(v, &end);
        if (!*v || *end) break;
        *(double *)o->dest = x;
        return 0;
    }
    case OPT_FLAG:
        if (!strcmp(v, "true") || !strcmp(v, "True") || !strcmp(v, "yes")) { *(int *)o->dest = 1; return 0; }
        if (!strcmp(v, "false") || !strcmp(v, "False") || !strcmp(v, "no")) { *(int *)o->dest = 0; return 0; }
        break;
    case OPT_LIST: {
        cli_list *l = o->dest;
        if (!l->from_file) { l->n = 0; l->from_file = 1; }
        char *copy = keep(v);
        if (!copy) return 2;
        for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            while (*tok == ' ') tok++;
            if (l->n == CLI_LIST_MAX) break;
            l->v[l->n++] = tok;
        }
        return 0;
    }
    }
    fprintf(stderr, "anchor %s: %s:%zu: key '%s': '%s' is not a valid %s\n", cmd, path, line, o->name, v,
            o->kind == OPT_INT ? "integer" : o->kind == OPT_FLOAT ? "number" : "true/false");
    return 2;
}

int cli_apply_yaml(const char *path, const cli_opt *opts, const char *cmd) {
    yaml_document_t doc;
    int rc = 0;
    anc_error err;
    anc_error_clear(&err);
    if (anc_yaml_load_file(path, &doc, &err) != ANC_OK) {
        fprintf(stderr, "anchor %s: config: %s\n", cmd, err.message);
        return 2;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root) goto out;  /* empty file */
    if (root->type != YAML_MAPPING_NODE) {
        fprintf(stderr, "anchor %s: %s:%zu: expected a mapping of option names to values\n", cmd, path, root->start_mark.line + 1);
        rc = 2;
        goto out;
    }
    for (yaml_node_pair_t *pr = root->data.mapping.pairs.start; pr < root->data.mapping.pairs.top && !rc; pr++) {
        yaml_node_t *k = yaml_document_get_node(&doc, pr->key), *v = yaml_document_get_node(&doc, pr->value);
        size_t line = k->start_mark.line + 1;
        if (k->type != YAML_SCALAR_NODE) {
            fprintf(stderr, "anchor %s: %s:%zu: keys must be option names\n", cmd, path, line);
            rc = 2;
            break;
        }
        const char *key = (const char *)k->data.scalar.value;
        /* a --loss-type auto run's train_config.yaml records the advisor's
         * verdict (a mapping, not an option): it is evidence, not a setting */
        if (!strcmp(cmd, "train") && !strcmp(key, "advisor")) continue;
        const cli_opt *o = find_opt(opts, key);
        if (!o || !strcmp(key, "config")) {
            fprintf(stderr, "anchor %s: %s:%zu: unknown key '%s' (keys are the option names of 'anchor %s --help')\n", cmd, path, line, key, cmd);
            rc = 2;
            break;
        }
        if (v->type == YAML_SCALAR_NODE) {
            const char *val = (const char *)v->data.scalar.value;
            if (!strcmp(val, "null") || !strcmp(val, "~") || (!*val && v->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)) continue;
            rc = set_scalar(o, val, path, line, cmd);
        } else if (v->type == YAML_SEQUENCE_NODE && o->kind == OPT_LIST) {
            cli_list *l = o->dest;
            l->n = 0;
            l->from_file = 1;
            for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top && !rc; it++) {
                yaml_node_t *x = yaml_document_get_node(&doc, *it);
                if (x->type != YAML_SCALAR_NODE) {
                    fprintf(stderr, "anchor %s: %s:%zu: key '%s': list items must be scalars\n", cmd, path, x->start_mark.line + 1, key);
                    rc = 2;
                } else {
                    rc = set_scalar(o, (const char *)x->data.scalar.value, path, x->start_mark.line + 1, cmd);
                }
            }
        } else {
            fprintf(stderr, "anchor %s: %s:%zu: key '%s' expects a single value\n", cmd, path, line, key);
            rc = 2;
        }
    }
out:
    yaml_document_delete(&doc);
    return rc;
}
