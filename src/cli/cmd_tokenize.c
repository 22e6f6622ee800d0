/* anchor tokenize: encode/decode text with a model's tokenizer, and show
 * how dataset rows are tokenised (which tokens are prompt, which are scored). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/fileutil.h"
#include "data/dataset.h"

static char *read_stdin(size_t *len) {
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    if (!buf) return NULL;
    size_t r;
    while ((r = fread(buf + n, 1, cap - n - 1, stdin)) > 0) {
        n += r;
        if (cap - n < 2) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) { free(buf); return NULL; }
            buf = nb;
            cap *= 2;
        }
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* Prints one side of a row: each token as its text, prompt tokens dim,
 * scored tokens coloured (plain brackets when not a terminal). */
static void show_tokens(const anc_tokenizer *tok, const char *label, const int32_t *ids, size_t n, int scored, int color) {
    printf("  %-9s %4zu tokens: ", label, n);
    for (size_t i = 0; i < n; i++) {
        size_t len = 0;
        const char *t = anc_tokenizer_id_to_token(tok, ids[i], &len);
        if (color) printf("%s", scored ? (i % 2 ? "\033[42;30m" : "\033[46;30m") : "\033[2m");
        else printf("[");
        for (size_t k = 0; t && k < len; k++) {
            unsigned char ch = (unsigned char)t[k];
            if (ch == '\n') printf("\\n");
            else if (ch < 0x20) printf("\\x%02x", ch);
            else putchar(ch);
        }
        printf("%s", color ? "\033[0m" : "]");
    }
    printf("\n");
}

int cmd_tokenize(int argc, char **argv) {
    const char *model = NULL, *tokenizer = NULL, *text = NULL, *decode = NULL, *data = NULL, *chat_template = NULL;
    int no_special = 0, ids_only = 0;
    long show = 3;
    cli_opt opts[] = {
        {"model", OPT_STR, &model, "DIR", "model folder with tokenizer.json (+ tokenizer_config.json)"},
        {"tokenizer", OPT_STR, &tokenizer, "FILE", "a tokenizer.json file instead of --model"},
        {"text", OPT_STR, &text, "STR", "text to encode (default: standard input)"},
        {"no-special", OPT_FLAG, &no_special, NULL, "raw encoding: no BOS/EOS or template tokens added"},
        {"ids", OPT_FLAG, &ids_only, NULL, "print only the JSON array of ids (the default prints ids and tokens)"},
        {"decode", OPT_STR, &decode, "ID,ID,...", "decode these ids instead of encoding"},
        {"data", OPT_STR, &data, "FILE", "show how the rows of a dataset are tokenised"},
        {"show", OPT_COUNT, &show, "N", "rows to show with --data (default 3)"},
        {"chat-template", OPT_STR, &chat_template, "NAME|FILE", "override the chat template for --data"},
        {0},
    };
    int rc = cli_parse(argc, argv, opts, "tokenize", "(--model DIR | --tokenizer FILE) [--text STR] [--no-special] [--ids]",
                       "Encodes text (or --decode ids) with a Hugging Face tokenizer; --data FILE --show N prints\n"
                       "rows as training sees them: prompt tokens dim, scored response tokens highlighted, counted.",
                       NULL, NULL);
    if (rc) return rc == 1 ? 0 : rc;
    if (!model == !tokenizer) return cli_usage_error("tokenize", "give exactly one of --model DIR or --tokenizer FILE");
    anc_error err = {0};
    anc_tokenizer *tok = NULL;
    anc_status st = model ? anc_tokenizer_load_dir(&tok, model, &err) : anc_tokenizer_load(&tok, tokenizer, NULL, &err);
    if (st) return cli_fail("tokenize", &err);
    int code = 0;
    if (decode) {
        size_t cap = strlen(decode) / 2 + 2, n = 0;
        int32_t *ids = malloc(sizeof(int32_t) * cap);
        char *copy = strdup(decode);
        for (char *save = NULL, *t = strtok_r(copy, ", []", &save); t; t = strtok_r(NULL, ", []", &save)) {
            char *end = NULL;
            long v = strtol(t, &end, 10);
            if (*end || v < 0 || v > INT32_MAX) {
                free(ids);
                free(copy);
                anc_tokenizer_free(tok);
                return cli_usage_error("tokenize", "--decode: '%s' is not a token id", t);
            }
            ids[n++] = (int32_t)v;
        }
        free(copy);
        char *out = NULL;
        size_t len = 0;
        if (anc_tokenizer_decode(tok, ids, n, no_special, &out, &len, &err)) code = cli_fail("tokenize", &err);
        else printf("%s\n", out);
        free(out);
        free(ids);
    } else if (data) {
        anc_template *tmpl = NULL;
        anc_rows rows;
        if (anc_chat_template_resolve(tok, chat_template, &tmpl, &err) || anc_rows_load(&rows, data, &err)) {
            anc_template_free(tmpl);
            anc_tokenizer_free(tok);
            return cli_fail("tokenize", &err);
        }
        anc_dataset_opts o = {0};
        o.unpaired = rows.n > 0 && json_object_get(rows.rows[0], "label") != NULL;
        size_t all_rows = rows.n;
        if (show >= 0 && (size_t)show < rows.n) rows.n = (size_t)show;  /* only the first rows are tokenised */
        anc_pairset ps;
        anc_dataset_stats dst;
        uint8_t *labels = NULL;
        if (anc_dataset_build(tok, tmpl, &rows, data, &o, 0, &ps, o.unpaired ? &labels : NULL, &dst, &err)) {
            code = cli_fail("tokenize", &err);
        } else {
            int color = isatty(1);
            for (size_t i = 0; i < ps.n; i++) {
                const anc_pair *p = &ps.pairs[i];
                printf("%s:%zu (%s)\n", data, p->line,
                       o.unpaired ? (labels[i] ? "desirable" : "undesirable") : "pair");
                show_tokens(tok, "prompt", p->prompt, p->n_prompt, 0, color);
                show_tokens(tok, o.unpaired ? "completion" : "chosen", p->chosen, p->n_chosen, 1, color);
                if (!o.unpaired) show_tokens(tok, "rejected", p->rejected, p->n_rejected, 1, color);
            }
            anc_pairset_free(&ps);
        }
        free(labels);
        rows.n = all_rows;  /* so every row is released */
        anc_rows_free(&rows);
        anc_template_free(tmpl);
    } else {
        size_t len = 0;
        char *in = text ? strdup(text) : read_stdin(&len);
        if (text) len = strlen(text);
        int32_t *ids = NULL;
        size_t n = 0;
        if (!in) {
            anc_error_set(&err, ANC_ERR_NOMEM, "out of memory");
            code = cli_fail("tokenize", &err);
        } else if (anc_tokenizer_encode(tok, in, len, !no_special, &ids, &n, &err)) {
            code = cli_fail("tokenize", &err);
        } else {
            printf("[");
            for (size_t i = 0; i < n; i++) printf("%s%d", i ? ", " : "", ids[i]);
            printf("]\n");
            if (!ids_only) {
                for (size_t i = 0; i < n; i++) {
                    size_t tl = 0;
                    const char *t = anc_tokenizer_id_to_token(tok, ids[i], &tl);
                    printf("%8d  %.*s\n", ids[i], (int)tl, t ? t : "");
                }
                fprintf(stderr, "%zu tokens, %zu bytes\n", n, len);
            }
        }
        free(ids);
        free(in);
    }
    anc_tokenizer_free(tok);
    return code;
}
