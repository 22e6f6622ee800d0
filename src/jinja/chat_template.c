/* Chat templates over a tokenizer (see chat_template.h). */
#include "jinja/chat_template.h"

#include <stdlib.h>
#include <string.h>

#include "core/fileutil.h"

anc_status anc_chat_template_resolve(const anc_tokenizer *tok, const char *override, anc_template **out,
                                     anc_error *err) {
    *out = NULL;
    const char *src = NULL, *label = "chat_template";
    char *file_text = NULL;
    if (override) {
        src = anc_template_builtin(override);
        label = override;
        if (!src) {
            size_t len = 0;
            anc_status st = anc_read_file(override, 16u << 20, &file_text, &len, err);
            if (st) return anc_error_prefix(err, "--chat-template '%s' is neither a built-in name (chatml, llama3, llama2, zephyr, mistral) nor a readable file", override);
            src = file_text;
        }
    } else if (tok) {
        src = anc_tokenizer_chat_template(tok, NULL);
        label = "tokenizer_config.json chat_template";
    }
    if (!src) return ANC_OK;
    anc_status st = anc_template_compile(out, src, strlen(src), label, err);
    free(file_text);
    return st;
}

anc_status anc_render_chat(const anc_template *tmpl, const anc_tokenizer *tok, json_t *messages,
                           int add_generation_prompt, char **out, size_t *out_len, anc_error *err) {
    json_t *ctx = json_object();
    json_object_set(ctx, "messages", messages);
    json_object_set_new(ctx, "add_generation_prompt", json_boolean(add_generation_prompt));
    const char *bos = tok ? anc_tokenizer_special_token(tok, "bos") : NULL;
    const char *eos = tok ? anc_tokenizer_special_token(tok, "eos") : NULL;
    json_object_set_new(ctx, "bos_token", bos ? json_string(bos) : json_string(""));
    json_object_set_new(ctx, "eos_token", eos ? json_string(eos) : json_string(""));
    json_object_set_new(ctx, "tools", json_null());
    json_object_set_new(ctx, "documents", json_null());
    anc_status st = anc_template_render(tmpl, ctx, NULL, out, out_len, err);
    json_decref(ctx);
    return st;
}
