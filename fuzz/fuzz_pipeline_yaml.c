/* libFuzzer target for pipeline files (`anchor run PIPELINE.yaml`): the
 * bytes are written to p.yaml in a private temp folder and loaded with
 * anc_pipeline_load, once with the file's own run_dir and once with a
 * --run-dir override. A pipeline that loads must give every step a name
 * that anc_pipeline_find finds, an output, a config hash, dependencies on
 * earlier steps only, an argv from anc_pipeline_argv (NULL-terminated,
 * argc right), and write an effective plan (anc_pipeline_write_effective)
 * that is valid YAML. anc_pipeline_input_hash runs when every input of a
 * step lies inside the temp folder (the file names arbitrary paths; hashing
 * those could read devices). Failures explain themselves.
 *
 * The train --config YAML reader (cli_apply_yaml) lives in src/cli/cli_yaml.c,
 * outside the library this links, so it has no target here.
 * Seeds: fuzz/corpus/fuzz_pipeline_yaml/. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "fuzz_tmp.h"
#include "pipeline/pipeline.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int inside(const char *path, const char *dir) {
    size_t n = strlen(dir);
    return !strncmp(path, dir, n) && path[n] == '/' && !strstr(path + n, "/..");
}

static void check_yaml_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) abort();
    yaml_parser_t yp;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&yp)) abort();
    yaml_parser_set_input_file(&yp, f);
    if (!yaml_parser_load(&yp, &doc)) abort(); /* the effective plan must be YAML */
    if (!yaml_document_get_root_node(&doc)) abort();
    yaml_document_delete(&doc);
    yaml_parser_delete(&yp);
    fclose(f);
}

static void check_pipeline(const anc_pipeline *p, const char *dir) {
    anc_error err;
    anc_error_clear(&err);
    if (!p->path || !p->run_dir || !p->store_path || p->n_steps == 0) abort();
    for (size_t i = 0; i < p->n_steps; i++) {
        const anc_pipe_step *s = &p->steps[i];
        if (!s->name || anc_pipeline_find(p, s->name) != (long)i) abort();
        if (!anc_step_kind_name(s->kind) || !s->out || !s->out_rel) abort();
        if (strlen(s->config_hash) != 64) abort();
        for (size_t j = 0; j < s->n_deps; j++)
            if (s->deps[j] >= i) abort();
        for (size_t j = 0; j < s->n_opts; j++)
            if (!s->opts[j].key || (s->opts[j].n_values && !s->opts[j].values)) abort();

        static const char *const extra[] = {"--dry-run"};
        for (size_t e = 0; e < 2; e++) {
            char **argv = NULL;
            int argc = -1;
            if (anc_pipeline_argv(p, i, e ? extra : NULL, e, &argv, &argc, &err) != ANC_OK) {
                if (err.message[0] == '\0') abort();
                continue;
            }
            if (argc < 1 || !argv || argv[argc] != NULL) abort();
            for (int k = 0; k < argc; k++)
                if (!argv[k]) abort();
            if (e && strcmp(argv[argc - 1], "--dry-run") != 0) abort();
            anc_pipeline_argv_free(argv);
        }
        int local = 1;
        for (size_t j = 0; j < s->n_inputs; j++) local &= inside(s->inputs[j], dir);
        if (local) {
            char hash[ANC_SHA256_HEX];
            if (anc_pipeline_input_hash(p, i, hash, &err) != ANC_OK) {
                if (err.message[0] == '\0') abort();
            } else if (strlen(hash) != 64) {
                abort();
            }
        }
    }
    char *eff = fz_path(dir, "pipeline.effective.yaml");
    if (!eff) return;
    if (anc_pipeline_write_effective(p, eff, &err) != ANC_OK) abort();
    check_yaml_file(eff);
    free(eff);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *dir = fz_tmpdir();
    if (!dir) return 0;
    char *path = fz_path(dir, "p.yaml"), *over = fz_path(dir, "run");
    if (!path || !over || fz_write(path, data, size) != 0) goto done;

    for (int k = 0; k < 2; k++) {
        anc_pipeline p;
        memset(&p, 0xA5, sizeof p); /* untouched on error */
        anc_pipeline before = p;
        anc_error err;
        anc_error_clear(&err);
        if (anc_pipeline_load(&p, path, k ? over : NULL, &err) != ANC_OK) {
            if (err.message[0] == '\0' || memcmp(&p, &before, sizeof p) != 0) abort();
            continue;
        }
        if (k && strcmp(p.run_dir, over) != 0) abort();
        check_pipeline(&p, dir);
        anc_pipeline_free(&p);
        if (p.steps || p.path) abort(); /* zeroed */
    }
done:
    free(path);
    free(over);
    fz_rmtree(dir);
    free(dir);
    return 0;
}
