#include "eval/gen.h"

#include <stdlib.h>
#include <string.h>

#include "core/fileutil.h"
#include "data/dataset.h"
#include "llm/local.h"
#include "model/generate.h"

void anc_eval_gen_opts_init(anc_eval_gen_opts *o) {
    memset(o, 0, sizeof *o);
    o->max_new_tokens = 256;
    o->top_p = 1.0;
    o->parallel = 8;
}

void anc_eval_texts_free(char **texts, size_t n) {
    for (size_t i = 0; texts && i < n; i++) free(texts[i]);
    free(texts);
}

anc_status anc_eval_generate(const anc_model *m, anc_tokenizer *tok, const anc_template *tmpl, const char *model_dir,
                             const json_t *const *prompts, size_t n, const anc_eval_gen_opts *o, char ***texts,
                             anc_progress_fn progress, void *progress_ctx, anc_error *err) {
    *texts = NULL;
    if (o->max_new_tokens < 1 || o->parallel < 1 || o->temperature < 0)
        return anc_error_set(err, ANC_ERR_INVALID, "generation: expected max_new_tokens >= 1, parallel >= 1, temperature >= 0");
    anc_gen_request *reqs = calloc(n ? n : 1, sizeof *reqs);
    anc_gen_result *res = calloc(n ? n : 1, sizeof *res);
    int32_t **ids = calloc(n ? n : 1, sizeof *ids);
    char **out = calloc(n ? n : 1, sizeof *out);
    anc_status st = ANC_OK;
    int generated = 0;
    if (!reqs || !res || !ids || !out) {
        st = anc_error_set(err, ANC_ERR_NOMEM, "generation: out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        size_t len = 0;
        if ((st = anc_prompt_ids(tok, tmpl, prompts[i], &ids[i], &len, err))) {
            anc_error_prefix(err, "prompt %zu", i);
            goto done;
        }
        if (!len) {
            st = anc_error_set(err, ANC_ERR_INVALID, "prompt %zu: encodes to no tokens", i);
            goto done;
        }
        reqs[i].prompt = ids[i];
        reqs[i].n_prompt = (int)len;
        reqs[i].stream = i;
    }
    int32_t stops[16];
    anc_gen_config gc;
    memset(&gc, 0, sizeof gc);
    gc.max_new_tokens = o->max_new_tokens;
    gc.sampling.temperature = (float)o->temperature;
    gc.sampling.top_k = o->top_k;
    gc.sampling.top_p = (float)o->top_p;
    gc.stop_ids = stops;
    gc.n_stop_ids = anc_stop_ids(model_dir, tok, stops, 16);
    gc.seed = o->seed;
    gc.parallel = o->parallel;
    if ((st = anc_generate(m, reqs, (int)n, &gc, res, progress, progress_ctx, err))) goto done;
    generated = 1;
    for (size_t i = 0; i < n; i++) {
        size_t len = 0;
        if ((st = anc_tokenizer_decode(tok, res[i].ids, (size_t)res[i].n, 1, &out[i], &len, err))) {
            anc_error_prefix(err, "prompt %zu", i);
            goto done;
        }
    }
done:
    if (generated) anc_gen_results_free(res, (int)n);
    free(res);
    free(reqs);
    for (size_t i = 0; ids && i < n; i++) free(ids[i]);
    free(ids);
    if (st) anc_eval_texts_free(out, n);
    else *texts = out;
    return st;
}
