/* anc_train_opts (anchor/train.h): the public training settings are the
 * train step's options struct (flow/train.h), set by name through the same
 * option table as `anchor train`, with copies of the values kept in it. */
#include <stdlib.h>
#include <string.h>

#include "anchor/train.h"
#include "flow/advise.h"
#include "flow/train.h"

anc_status anc_train_opts_create(anc_train_opts **out, const char *model_dir, const char *data_path,
                                 const char *output_dir, anc_error *err) {
    *out = NULL;
    if (!model_dir || !*model_dir || !data_path || !*data_path || !output_dir || !*output_dir)
        return anc_error_set(err, ANC_ERR_INVALID, "train: the model folder, the data file and the output folder are required");
    anc_train_opts *o = malloc(sizeof *o);
    if (!o) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    anc_train_opts_init(o);
    anc_status st = anc_train_opts_set(o, "model", model_dir, err);
    if (!st) st = anc_train_opts_set(o, "data", data_path, err);
    if (!st) st = anc_train_opts_set(o, "output-dir", output_dir, err);
    if (st) {
        anc_train_opts_free(o);
        return st;
    }
    *out = o;
    return ANC_OK;
}

anc_status anc_train_opts_set(anc_train_opts *o, const char *key, const char *value, anc_error *err) {
    if (!o || !key || !value) return anc_error_set(err, ANC_ERR_INVALID, "train setting: NULL argument");
    const anc_option *row = anc_options_find(anc_train_option_table, key);
    /* --config reads a YAML file of these settings: the command's business */
    if (!row || !strcmp(row->name, "config"))
        return anc_error_set(err, ANC_ERR_INVALID, "unknown train setting '%.200s' (the options of 'anchor train --help')", key);
    anc_status st = anc_option_set_copy(row, o, value, &o->kept, err);
    if (st == ANC_ERR_INVALID) anc_error_prefix(err, "train setting %s", row->name);
    return st;
}

void anc_train_opts_free(anc_train_opts *o) {
    if (!o) return;
    anc_opt_strings_free(&o->kept);
    free(o);
}

anc_status anc_train_run(const anc_train_opts *o, anc_train_report_fn report, void *ctx, anc_error *err) {
    if (!o) return anc_error_set(err, ANC_ERR_INVALID, "train: no settings");
    anc_train_config c;
    if (!anc_train_opts_auto(o)) {
        anc_status st = anc_train_opts_config(o, &c, err);
        return st ? st : anc_train(&c, report, ctx, err);
    }
    /* --loss-type auto: the advisor's verdict lives in a copy (o is const;
     * the copy shares o's strings and is not freed) */
    anc_train_opts copy = *o;
    anc_advise_result res;
    anc_status st = anc_train_opts_advise(&copy, NULL, &res, err);
    if (!st) st = anc_train_opts_config(&copy, &c, err);
    if (!st) st = anc_train(&c, report, ctx, err);
    anc_advise_result_free(&res);
    return st;
}
