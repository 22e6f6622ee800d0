/* The public forms of the template, chat and dataset calls whose internal
 * twins take jansson values (anchor/chat.h, anchor/dataset.h): JSON text
 * in, parsed here, handed to the internal call. */
#include <jansson.h>
#include <string.h>

#include "anchor/chat.h"
#include "anchor/dataset.h"
#include "data/dataset.h"
#include "data/jsonl.h"
#include "jinja/chat_template.h"
#include "jinja/template.h"

/* Parses text[0..len) (flags: jansson decoding flags); NULL with err set to
 * ANC_ERR_FORMAT naming what and line:column. */
static json_t *parse_json(const char *text, size_t len, size_t flags, const char *what, anc_error *err) {
    if (!text) {
        anc_error_set(err, ANC_ERR_INVALID, "%s: no JSON text given", what);
        return NULL;
    }
    json_error_t je;
    json_t *v = json_loadb(text, len, flags | JSON_REJECT_DUPLICATES, &je);
    if (!v) anc_error_set(err, ANC_ERR_FORMAT, "%s:%d:%d: invalid JSON: %s", what, je.line, je.column, je.text);
    return v;
}

anc_status anc_template_render_json(const anc_template *t, const char *context_json, size_t len,
                                    const anc_template_options *opts, char **out, size_t *out_len, anc_error *err) {
    *out = NULL;
    json_t *ctx = NULL;
    if (context_json && len > 0) {
        if (!(ctx = parse_json(context_json, len, 0, "template context", err))) return err ? err->code : ANC_ERR_FORMAT;
        if (!json_is_object(ctx)) {
            json_decref(ctx);
            return anc_error_set(err, ANC_ERR_FORMAT, "template context: must be a JSON object");
        }
    }
    anc_status st = anc_template_render(t, ctx, opts, out, out_len, err);
    json_decref(ctx);
    return st;
}

anc_status anc_render_chat_json(const anc_template *tmpl, const anc_tokenizer *tok, const char *messages_json,
                                size_t len, int add_generation_prompt, char **out, size_t *out_len, anc_error *err) {
    *out = NULL;
    json_t *msgs = parse_json(messages_json, len, 0, "messages", err);
    if (!msgs) return err ? err->code : ANC_ERR_FORMAT;
    anc_status st = json_is_array(msgs)
                        ? anc_render_chat(tmpl, tok, msgs, add_generation_prompt, out, out_len, err)
                        : anc_error_set(err, ANC_ERR_FORMAT, "messages: must be a JSON array of {role, content} objects");
    json_decref(msgs);
    return st;
}

anc_status anc_prompt_ids_json(anc_tokenizer *tok, const anc_template *tmpl, const char *prompt_json, size_t len,
                               int32_t **ids, size_t *n, anc_error *err) {
    *ids = NULL;
    *n = 0;
    json_t *prompt = parse_json(prompt_json, len, JSON_DECODE_ANY, "prompt", err);
    if (!prompt) return err ? err->code : ANC_ERR_FORMAT;
    anc_status st = anc_prompt_ids(tok, tmpl, prompt, ids, n, err);
    json_decref(prompt);
    return st;
}

/* Builds *ps from parsed rows (consumed). */
static anc_status build(anc_rows *rows, const char *label, anc_tokenizer *tok, const anc_template *tmpl,
                        const anc_dataset_opts *o, int vocab, anc_pairset *ps, uint8_t **labels,
                        anc_dataset_stats *st, anc_error *err) {
    anc_dataset_stats local;
    anc_status s = anc_dataset_build(tok, tmpl, rows, label, o, vocab, ps, labels, st ? st : &local, err);
    anc_rows_free(rows);
    return s;
}

anc_status anc_dataset_load(const char *path, anc_tokenizer *tok, const anc_template *tmpl, const anc_dataset_opts *o,
                            int vocab, anc_pairset *ps, uint8_t **labels, anc_dataset_stats *st, anc_error *err) {
    memset(ps, 0, sizeof *ps);
    if (labels) *labels = NULL;
    if (!path) return anc_error_set(err, ANC_ERR_INVALID, "dataset: no path given");
    anc_dataset_opts defaults = {0};
    if (!o) o = &defaults;
    anc_rows rows;
    anc_status s = anc_rows_load_limited(&rows, path, anc_dataset_line_limit(o), err);
    if (s) return s;
    return build(&rows, path, tok, tmpl, o, vocab, ps, labels, st, err);
}

anc_status anc_dataset_parse(const char *text, size_t len, const char *label, anc_tokenizer *tok,
                             const anc_template *tmpl, const anc_dataset_opts *o, int vocab, anc_pairset *ps,
                             uint8_t **labels, anc_dataset_stats *st, anc_error *err) {
    memset(ps, 0, sizeof *ps);
    if (labels) *labels = NULL;
    if (!text) return anc_error_set(err, ANC_ERR_INVALID, "dataset: no text given");
    if (!label) label = "dataset";
    anc_dataset_opts defaults = {0};
    if (!o) o = &defaults;
    anc_rows rows;
    anc_status s = anc_rows_parse(&rows, text, len, label, err);
    if (s) return s;
    return build(&rows, label, tok, tmpl, o, vocab, ps, labels, st, err);
}
