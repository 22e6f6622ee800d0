#include "llm/local.h"

#include <stdlib.h>
#include <string.h>

#include "core/fileutil.h"
#include "data/dataset.h"
#include "model/generate.h"

struct anc_chat_model {
    anc_model *model;
    anc_tokenizer *tok;
    anc_template *tmpl;
    int32_t stop[16];
    int n_stop;
};

anc_status anc_chat_model_load(anc_chat_model **out, const char *dir, const char *chat_template, anc_error *err) {
    *out = NULL;
    anc_chat_model *c = calloc(1, sizeof *c);
    if (!c) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    anc_status st = anc_model_load_hf(&c->model, dir, err);
    if (!st) st = anc_tokenizer_load_dir(&c->tok, dir, err);
    if (!st) st = anc_chat_template_resolve(c->tok, chat_template, &c->tmpl, err);
    if (!st && !c->tmpl)
        st = anc_error_set(err, ANC_ERR_INVALID, "local:%s: the model has no chat template; give one (e.g. chatml)", dir);
    if (st) {
        anc_chat_model_free(c);
        return st;
    }
    c->n_stop = anc_stop_ids(dir, c->tok, c->stop, 16);
    *out = c;
    return ANC_OK;
}

static void add_stop(int32_t *out, int *n, int cap, int32_t id) {
    if (id < 0 || *n >= cap) return;
    for (int k = 0; k < *n; k++)
        if (out[k] == id) return;
    out[(*n)++] = id;
}

int anc_stop_ids(const char *model_dir, const anc_tokenizer *tok, int32_t *out, int cap) {
    int n = 0;
    add_stop(out, &n, cap, anc_tokenizer_eos_id(tok));
    char *p = model_dir ? anc_path_join(model_dir, "generation_config.json") : NULL;
    json_error_t je;
    json_t *g = p && anc_path_exists(p) ? json_load_file(p, 0, &je) : NULL;
    free(p);
    json_t *e = g ? json_object_get(g, "eos_token_id") : NULL;
    for (size_t i = 0; e && i < (json_is_array(e) ? json_array_size(e) : 1); i++) {
        json_t *x = json_is_array(e) ? json_array_get(e, i) : e;
        if (json_is_integer(x)) add_stop(out, &n, cap, (int32_t)json_integer_value(x));
    }
    json_decref(g);
    static const char *const eot[] = {"<|im_end|>", "<|eot_id|>", "<|end|>", "<end_of_turn>"};
    for (size_t i = 0; i < sizeof eot / sizeof eot[0]; i++)
        add_stop(out, &n, cap, anc_tokenizer_token_to_id(tok, eot[i], strlen(eot[i])));
    return n;
}

void anc_chat_model_free(anc_chat_model *c) {
    if (!c) return;
    anc_model_free(c->model);
    anc_tokenizer_free(c->tok);
    anc_template_free(c->tmpl);
    free(c);
}

static double num(const json_t *params, const char *key, double def) {
    json_t *v = params ? json_object_get(params, key) : NULL;
    return json_is_number(v) ? json_number_value(v) : def;
}

anc_status anc_chat_model_answer(void *ctx, const json_t *messages, const json_t *params, char **text, anc_error *err) {
    anc_chat_model *c = ctx;
    *text = NULL;
    int32_t *ids = NULL;
    size_t n = 0;
    anc_status st = anc_prompt_ids(c->tok, c->tmpl, messages, &ids, &n, err);
    if (st) return st;
    if (n == 0) {
        free(ids);
        return anc_error_set(err, ANC_ERR_INVALID, "local model: the rendered prompt is empty");
    }
    anc_gen_request req = {ids, (int)n, 0};
    anc_gen_config gc;
    memset(&gc, 0, sizeof gc);
    gc.max_new_tokens = (int)num(params, "max_tokens", 512);
    if (gc.max_new_tokens < 1) gc.max_new_tokens = 1;
    gc.sampling.temperature = (float)num(params, "temperature", 0.0);
    gc.sampling.top_p = (float)num(params, "top_p", 1.0);
    gc.seed = (uint64_t)num(params, "seed", 0);
    gc.stop_ids = c->stop;
    gc.n_stop_ids = c->n_stop;
    gc.parallel = 1;
    anc_gen_result res;
    st = anc_generate(c->model, &req, 1, &gc, &res, NULL, NULL, err);
    free(ids);
    if (st) return st;
    size_t len = 0;
    st = anc_tokenizer_decode(c->tok, res.ids, (size_t)res.n, 1, text, &len, err);
    anc_gen_results_free(&res, 1);
    return st;
}
