/* Chat-template engine: built-in templates for `--chat-template NAME`,
 * written from the public descriptions of each format. Expected variables:
 * messages (role/content), add_generation_prompt, bos_token, eos_token.
 *
 *   chatml  <|im_start|>ROLE\nCONTENT<|im_end|>\n per message;
 *           generation prompt <|im_start|>assistant\n. No BOS.
 *   llama3  BOS, then <|start_header_id|>ROLE<|end_header_id|>\n\nCONTENT<|eot_id|>
 *           (content trimmed); prompt <|start_header_id|>assistant<|end_header_id|>\n\n.
 *   llama2  BOS[INST] USER [/INST] ASSISTANT EOS per exchange, an optional system
 *           message wrapped in <<SYS>>\n...\n<</SYS>>\n\n inside the first
 *           [INST]; contents trimmed; user/assistant must alternate. The
 *           generation prompt adds nothing (the text already ends in [/INST]).
 *   zephyr  <|ROLE|>\nCONTENT EOS\n per message; prompt <|assistant|>\n.
 *   mistral BOS once, then [INST] USER [/INST]ASSISTANT EOS (Mistral-7B-Instruct
 *           v0.1); a system message is put before the first user message,
 *           separated by a blank line; user/assistant must alternate; the
 *           generation prompt adds nothing. */
#include <string.h>

#include "jinja/template.h"

static const char CHATML[] =
    "{%- for message in messages -%}\n"
    "{{- '<|im_start|>' ~ message['role'] ~ '\\n' ~ message['content'] ~ '<|im_end|>\\n' -}}\n"
    "{%- endfor -%}\n"
    "{%- if add_generation_prompt -%}\n"
    "{{- '<|im_start|>assistant\\n' -}}\n"
    "{%- endif -%}\n";

static const char LLAMA3[] =
    "{{- bos_token -}}\n"
    "{%- for message in messages -%}\n"
    "{{- '<|start_header_id|>' ~ message['role'] ~ '<|end_header_id|>\\n\\n' -}}\n"
    "{{- (message['content'] | trim) ~ '<|eot_id|>' -}}\n"
    "{%- endfor -%}\n"
    "{%- if add_generation_prompt -%}\n"
    "{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' -}}\n"
    "{%- endif -%}\n";

static const char LLAMA2[] =
    "{%- if messages and messages[0]['role'] == 'system' -%}\n"
    "  {%- set system = messages[0]['content'] | trim -%}\n"
    "  {%- set turns = messages[1:] -%}\n"
    "{%- else -%}\n"
    "  {%- set system = none -%}\n"
    "  {%- set turns = messages -%}\n"
    "{%- endif -%}\n"
    "{%- for message in turns -%}\n"
    "  {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}\n"
    "    {{- raise_exception('llama2 template: roles must alternate user/assistant after an optional system "
    "message') -}}\n"
    "  {%- endif -%}\n"
    "  {%- if message['role'] == 'user' -%}\n"
    "    {%- set text = message['content'] | trim -%}\n"
    "    {%- if loop.first and system is not none -%}\n"
    "      {%- set text = '<<SYS>>\\n' ~ system ~ '\\n<</SYS>>\\n\\n' ~ text -%}\n"
    "    {%- endif -%}\n"
    "    {{- bos_token ~ '[INST] ' ~ text ~ ' [/INST]' -}}\n"
    "  {%- else -%}\n"
    "    {{- ' ' ~ (message['content'] | trim) ~ ' ' ~ eos_token -}}\n"
    "  {%- endif -%}\n"
    "{%- endfor -%}\n";

static const char ZEPHYR[] =
    "{%- for message in messages -%}\n"
    "{{- '<|' ~ message['role'] ~ '|>\\n' ~ message['content'] ~ eos_token ~ '\\n' -}}\n"
    "{%- endfor -%}\n"
    "{%- if add_generation_prompt -%}\n"
    "{{- '<|assistant|>\\n' -}}\n"
    "{%- endif -%}\n";

static const char MISTRAL[] =
    "{{- bos_token -}}\n"
    "{%- if messages and messages[0]['role'] == 'system' -%}\n"
    "  {%- set system = messages[0]['content'] -%}\n"
    "  {%- set turns = messages[1:] -%}\n"
    "{%- else -%}\n"
    "  {%- set system = '' -%}\n"
    "  {%- set turns = messages -%}\n"
    "{%- endif -%}\n"
    "{%- for message in turns -%}\n"
    "  {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}\n"
    "    {{- raise_exception('mistral template: roles must alternate user/assistant after an optional system "
    "message') -}}\n"
    "  {%- endif -%}\n"
    "  {%- if message['role'] == 'user' -%}\n"
    "    {%- set text = (system ~ '\\n\\n' ~ message['content']) if loop.first and system else message['content'] "
    "-%}\n"
    "    {{- '[INST] ' ~ text ~ ' [/INST]' -}}\n"
    "  {%- else -%}\n"
    "    {{- message['content'] ~ eos_token -}}\n"
    "  {%- endif -%}\n"
    "{%- endfor -%}\n";

static const struct {
    const char *name;
    const char *source;
} BUILTINS[] = {
    {"chatml", CHATML}, {"llama3", LLAMA3}, {"llama2", LLAMA2}, {"zephyr", ZEPHYR}, {"mistral", MISTRAL},
};

const char *anc_template_builtin(const char *name) {
    if (!name) return NULL;
    for (size_t i = 0; i < sizeof BUILTINS / sizeof BUILTINS[0]; i++)
        if (strcmp(BUILTINS[i].name, name) == 0) return BUILTINS[i].source;
    return NULL;
}

const char *anc_template_builtin_name(size_t i) {
    return i < sizeof BUILTINS / sizeof BUILTINS[0] ? BUILTINS[i].name : NULL;
}
