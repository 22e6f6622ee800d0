/* A program built on libanchor's public API alone (<anchor/anchor.h>):
 *
 *   embed WORK_DIR [MODEL_DIR]
 *
 * loads the Hugging Face model folder MODEL_DIR (or, without one, creates a
 * tiny random Llama), prints what it is, scores two pre-tokenised preference
 * pairs, generates a few tokens greedily, renders a chat with the built-in
 * chatml template, tokenizes a string when MODEL_DIR has a tokenizer.json,
 * records an item in a run store WORK_DIR/run.db, and saves the model to
 * WORK_DIR/model (WORK_DIR is created when absent). No network, no other files needed.
 *
 * Build against an installed anchor:
 *   cc embed.c $(pkg-config --cflags --libs anchor) -o embed */
#include <anchor/anchor.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char TINY_CONFIG[] =
    "{\"architectures\": [\"LlamaForCausalLM\"], \"model_type\": \"llama\", \"vocab_size\": 64,"
    " \"hidden_size\": 32, \"intermediate_size\": 64, \"num_hidden_layers\": 2,"
    " \"num_attention_heads\": 4, \"num_key_value_heads\": 2, \"max_position_embeddings\": 64,"
    " \"rms_norm_eps\": 1e-5, \"rope_theta\": 10000.0, \"tie_word_embeddings\": true,"
    " \"bos_token_id\": 1, \"eos_token_id\": 2}";

static const char PAIRS[] =
    "{\"prompt_ids\": [1, 5, 6], \"chosen_ids\": [7, 8], \"rejected_ids\": [9]}\n"
    "{\"prompt_ids\": [1, 10], \"chosen_ids\": [11, 12, 13], \"rejected_ids\": [14, 15]}\n";

static int fail(const char *what, const anc_error *err) {
    fprintf(stderr, "embed: %s: %s (%s)\n", what, err->message, anc_status_name(err->code));
    return 1;
}

static char *join(const char *a, const char *b) {
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", a, b);
    return p;
}

/* Scores the pairs and generates from the first prompt. */
static int run_model(const anc_model *m, anc_error *err) {
    anc_model_info info;
    anc_model_get_info(m, &info);
    printf("model: %s (%s), %d layers, hidden %d, vocab %d, %llu parameters\n", info.architecture, info.model_type,
           info.num_layers, info.hidden_size, info.vocab_size, (unsigned long long)info.n_params);

    anc_pairset ps;
    anc_dataset_stats stats;
    if (anc_dataset_parse(PAIRS, strlen(PAIRS), "pairs", NULL, NULL, NULL, info.vocab_size, &ps, NULL, &stats, err))
        return fail("dataset", err);
    float chosen[2], rejected[2];
    anc_status st = anc_score_pairs(m, NULL, &ps, 0, chosen, rejected, NULL, NULL, err);
    if (!st)
        for (size_t i = 0; i < ps.n; i++)
            printf("score: pair %zu (line %zu) chosen %.5f rejected %.5f\n", i + 1, ps.pairs[i].line, chosen[i],
                   rejected[i]);

    anc_gen_request req = {ps.pairs[0].prompt, (int)ps.pairs[0].n_prompt, 0};
    anc_gen_config gc;
    memset(&gc, 0, sizeof gc);
    gc.max_new_tokens = 6;
    gc.parallel = 1;
    anc_gen_result res;
    if (!st && !(st = anc_generate(m, &req, 1, &gc, &res, NULL, NULL, err))) {
        printf("generated: %d tokens:", res.n);
        for (int i = 0; i < res.n; i++) printf(" %d", res.ids[i]);
        printf("\n");
        anc_gen_results_free(&res, 1);
    }
    anc_pairset_free(&ps);
    return st ? fail("score/generate", err) : 0;
}

static int run_text(const char *model_dir, anc_error *err) {
    anc_template *chatml = NULL;
    if (anc_template_compile(&chatml, anc_template_builtin("chatml"), strlen(anc_template_builtin("chatml")), "chatml",
                             err))
        return fail("template", err);
    const char *msgs = "[{\"role\": \"user\", \"content\": \"Hi\"}]";
    char *text = NULL;
    anc_status st = anc_render_chat_json(chatml, NULL, msgs, strlen(msgs), 1, &text, NULL, err);
    anc_template_free(chatml);
    if (st) return fail("chat", err);
    printf("chat: ");
    for (const char *c = text; *c; c++) {
        if (*c == '\n') fputs("\\n", stdout);
        else putchar(*c);
    }
    printf("\n");
    free(text);

    char *tj = model_dir ? join(model_dir, "tokenizer.json") : NULL;
    struct stat sb;
    if (tj && stat(tj, &sb) == 0) {
        anc_tokenizer *tok = NULL;
        int32_t *ids = NULL;
        size_t n = 0, len = 0;
        char *back = NULL;
        const char *s = "hello world";
        if (!(st = anc_tokenizer_load_dir(&tok, model_dir, err)) &&
            !(st = anc_tokenizer_encode(tok, s, strlen(s), 0, &ids, &n, err)) &&
            !(st = anc_tokenizer_decode(tok, ids, n, 0, &back, &len, err))) {
            printf("tokens: %zu of a vocabulary of %zu\n", n, anc_tokenizer_vocab_size(tok));
            printf("decoded: %s\n", back);
        }
        free(ids);
        free(back);
        anc_tokenizer_free(tok);
    }
    free(tj);
    return st ? fail("tokenizer", err) : 0;
}

static int run_store(const char *work, anc_error *err) {
    char *path = join(work, "run.db");
    anc_store *s = NULL;
    anc_status st = anc_store_open(&s, path, err);
    free(path);
    if (st) return fail("store", err);
    char *rec = NULL;
    anc_item_status is = ANC_ITEM_NONE;
    if (!(st = anc_store_item_put_json(s, "embed", "item-1", ANC_ITEM_DONE, "{\"answer\": 42}", NULL, err)) &&
        !(st = anc_store_item_get_json(s, "embed", "item-1", &is, &rec, NULL, err)))
        printf("store: item-1 %s %s\n", is == ANC_ITEM_DONE ? "done" : "not done", rec ? rec : "(none)");
    free(rec);
    anc_store_close(s);
    return st ? fail("store", err) : 0;
}

int main(int argc, char **argv) {
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: embed WORK_DIR [MODEL_DIR]\n");
        return 2;
    }
    const char *work = argv[1], *model_dir = argc > 2 ? argv[2] : NULL;
    if (mkdir(work, 0777) != 0 && errno != EEXIST) {
        perror(work);
        return 1;
    }
    printf("anchor %s\n", anc_version());
    anc_error err;
    anc_error_clear(&err);
    anc_model *m = NULL;
    anc_status st = model_dir ? anc_model_load_hf(&m, model_dir, &err)
                              : anc_model_create_random(&m, TINY_CONFIG, strlen(TINY_CONFIG), 7, 0.02, &err);
    if (st) return fail("model", &err);
    int rc = run_model(m, &err);
    if (!rc) rc = run_text(model_dir, &err);
    if (!rc) rc = run_store(work, &err);
    if (!rc) {
        char *out = join(work, "model");
        if (anc_model_save_hf(m, out, ANC_DT_F32, &err)) rc = fail("save", &err);
        else printf("saved: %s\n", out);
        free(out);
    }
    anc_model_free(m);
    return rc;
}
