/* OpenAI requests in, replies and error objects out (openai.h). */
#include "serve/openai.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/strbuf.h"

int anc_oai_fail(anc_oai_error *e, int status, const char *type, const char *param, const char *code, const char *fmt,
                 ...) {
    e->status = status;
    e->type = type;
    snprintf(e->param, sizeof e->param, "%s", param ? param : "");
    e->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    return status;
}

char *anc_oai_error_json(const anc_oai_error *e) {
    json_t *in = json_object();
    if (!in) return NULL;
    json_object_set_new(in, "message", json_string(e->message));
    json_object_set_new(in, "type", json_string(e->type ? e->type : "invalid_request_error"));
    json_object_set_new(in, "param", e->param[0] ? json_string(e->param) : json_null());
    json_object_set_new(in, "code", e->code ? json_string(e->code) : json_null());
    json_t *o = json_object();
    if (!o) {
        json_decref(in);
        return NULL;
    }
    json_object_set_new(o, "error", in);
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    return s;
}

void anc_oai_request_free(anc_oai_request *r) {
    free(r->model);
    json_decref(r->messages);
    json_decref(r->prompts);
    for (int i = 0; i < r->n_stop; i++) free(r->stop[i]);
    memset(r, 0, sizeof *r);
}

#define BAD(e, param, code, ...) anc_oai_fail(e, 400, "invalid_request_error", param, code, __VA_ARGS__)

static const char *json_kind(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a decimal";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

static int bad_type(anc_oai_error *e, const char *key, const char *want, const json_t *v) {
    return BAD(e, key, "invalid_type", "Invalid type for '%s': expected %s, but got %s instead.", key, want,
               json_kind(v));
}

/* A number field in [lo, hi]; null or absent keeps *out. */
static int get_number(const json_t *root, const char *key, double lo, double hi, double *out, anc_oai_error *e) {
    json_t *v = json_object_get(root, key);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_number(v)) return bad_type(e, key, "a decimal", v);
    double x = json_number_value(v);
    if (!isfinite(x) || x < lo || x > hi)
        return BAD(e, key, "invalid_value", "Invalid '%s': expected a value between %g and %g, but got %g instead.", key,
                   lo, hi, x);
    *out = x;
    return 0;
}

/* An integer field in [lo, hi]; null or absent keeps *out. */
static int get_int(const json_t *root, const char *key, long long lo, long long hi, long long *out, anc_oai_error *e) {
    json_t *v = json_object_get(root, key);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_integer(v)) return bad_type(e, key, "an integer", v);
    long long x = json_integer_value(v);
    if (x < lo || x > hi)
        return BAD(e, key, "invalid_value", "Invalid '%s': expected an integer between %lld and %lld, but got %lld instead.",
                   key, lo, hi, x);
    *out = x;
    return 0;
}

static int get_bool(const json_t *root, const char *key, int *out, anc_oai_error *e) {
    json_t *v = json_object_get(root, key);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_boolean(v)) return bad_type(e, key, "a boolean", v);
    *out = json_is_true(v);
    return 0;
}

/* "stop": a string or an array of strings (none empty). */
static int get_stop(const json_t *root, anc_oai_request *r, anc_oai_error *e) {
    json_t *v = json_object_get(root, "stop");
    if (!v || json_is_null(v)) return 0;
    json_t *one = json_is_string(v) ? v : NULL;
    if (!one && !json_is_array(v)) return bad_type(e, "stop", "a string or an array of strings", v);
    size_t n = one ? 1 : json_array_size(v);
    if (n > ANC_OAI_MAX_STOP)
        return BAD(e, "stop", "invalid_value", "Invalid 'stop': at most %d stop sequences, got %zu.", ANC_OAI_MAX_STOP, n);
    for (size_t i = 0; i < n; i++) {
        json_t *s = one ? one : json_array_get(v, i);
        if (!json_is_string(s)) return bad_type(e, "stop", "a string or an array of strings", s);
        if (json_string_length(s) == 0) return BAD(e, "stop", "invalid_value", "Invalid 'stop': empty stop sequence.");
        if (!(r->stop[r->n_stop] = strdup(json_string_value(s))))
            return anc_oai_fail(e, 500, "server_error", NULL, NULL, "out of memory");
        r->n_stop++;
    }
    return 0;
}

/* A field anchor does not implement, accepted only at its default. */
static int default_only(const json_t *root, const char *key, anc_oai_error *e) {
    json_t *v = json_object_get(root, key);
    if (!v || json_is_null(v) || json_is_false(v)) return 0;
    if (json_is_number(v) && json_number_value(v) == 0 && strcmp(key, "best_of") != 0) return 0;
    if (json_is_integer(v) && json_integer_value(v) == 1 && strcmp(key, "best_of") == 0) return 0;
    if ((json_is_object(v) || json_is_array(v)) && json_object_size(v) == 0 && json_array_size(v) == 0) return 0;
    if (json_is_string(v) && (json_string_length(v) == 0 || strcmp(json_string_value(v), "none") == 0)) return 0;
    if (json_is_object(v) && !strcmp(key, "response_format") && json_object_size(v) == 1 &&
        !strcmp(json_string_value(json_object_get(v, "type")) ? json_string_value(json_object_get(v, "type")) : "", "text"))
        return 0;
    return BAD(e, key, "unsupported_parameter", "Unsupported parameter: '%s' is not supported by anchor serve.", key);
}

/* A message's content as one string: a string, text parts joined by
 * newlines, or null (assistant turns). */
static int message_content(const json_t *m, size_t i, const char *role, char **out, anc_oai_error *e) {
    char param[64];
    snprintf(param, sizeof param, "messages[%zu].content", i);
    json_t *c = json_object_get(m, "content");
    if (json_is_string(c)) {
        *out = strdup(json_string_value(c));
    } else if ((!c || json_is_null(c)) && !strcmp(role, "assistant")) {
        *out = strdup("");
    } else if (json_is_array(c)) {
        anc_sbuf b = {0};
        for (size_t k = 0; k < json_array_size(c); k++) {
            json_t *p = json_array_get(c, k);
            const char *type = json_string_value(json_object_get(p, "type"));
            json_t *t = json_object_get(p, "text");
            if (!type || strcmp(type, "text") != 0 || !json_is_string(t)) {
                anc_sbuf_free(&b);
                return BAD(e, param, "invalid_value",
                           "Invalid '%s[%zu]': anchor serve takes text parts only ({\"type\": \"text\", \"text\": ...}).",
                           param, k);
            }
            if (k) anc_sbuf_putc(&b, '\n');
            anc_sbuf_append(&b, json_string_value(t), json_string_length(t));
        }
        *out = b.oom ? NULL : anc_sbuf_take(&b);
        anc_sbuf_free(&b);
    } else {
        return c ? bad_type(e, param, "a string or an array of text parts", c)
                 : BAD(e, param, "missing_required_parameter", "Missing required parameter: '%s'.", param);
    }
    return *out ? 0 : anc_oai_fail(e, 500, "server_error", NULL, NULL, "out of memory");
}

/* "messages" -> [{role, content}] with content a string. */
static int get_messages(const json_t *root, anc_oai_request *r, anc_oai_error *e) {
    json_t *v = json_object_get(root, "messages");
    if (!v) return BAD(e, "messages", "missing_required_parameter", "Missing required parameter: 'messages'.");
    if (!json_is_array(v)) return bad_type(e, "messages", "an array", v);
    if (json_array_size(v) == 0)
        return BAD(e, "messages", "empty_array", "Invalid 'messages': empty array. Expected an array with minimum length 1.");
    static const char *const roles[] = {"system", "developer", "user", "assistant", "tool"};
    r->messages = json_array();
    if (!r->messages) return anc_oai_fail(e, 500, "server_error", NULL, NULL, "out of memory");
    for (size_t i = 0; i < json_array_size(v); i++) {
        json_t *m = json_array_get(v, i);
        char param[64];
        snprintf(param, sizeof param, "messages[%zu]", i);
        if (!json_is_object(m)) return bad_type(e, param, "an object", m);
        const char *role = json_string_value(json_object_get(m, "role"));
        int known = 0;
        for (size_t k = 0; role && k < sizeof roles / sizeof *roles; k++) known |= !strcmp(role, roles[k]);
        if (!known) {
            snprintf(param, sizeof param, "messages[%zu].role", i);
            return BAD(e, param, "invalid_value", "Invalid '%s': expected one of system, developer, user, assistant, tool.",
                       param);
        }
        char *text = NULL;
        int st = message_content(m, i, role, &text, e);
        if (st) return st;
        json_t *o = json_pack("{s:s, s:s}", "role", !strcmp(role, "developer") ? "system" : role, "content", text);
        free(text);
        if (!o || json_array_append_new(r->messages, o))
            return anc_oai_fail(e, 500, "server_error", NULL, NULL, "out of memory");
    }
    return 0;
}

static int is_id_array(const json_t *a) {
    if (!json_is_array(a) || json_array_size(a) == 0) return 0;
    for (size_t i = 0; i < json_array_size(a); i++)
        if (!json_is_integer(json_array_get(a, i))) return 0;
    return 1;
}

/* "prompt" -> an array of prompts, each a string or an array of ids. */
static int get_prompts(const json_t *root, anc_oai_request *r, anc_oai_error *e) {
    json_t *v = json_object_get(root, "prompt");
    if (!v) return BAD(e, "prompt", "missing_required_parameter", "Missing required parameter: 'prompt'.");
    if (json_is_string(v) || is_id_array(v)) {
        r->prompts = json_pack("[O]", v);
    } else if (json_is_array(v) && json_array_size(v) > 0) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            json_t *p = json_array_get(v, i);
            if (!json_is_string(p) && !is_id_array(p))
                return bad_type(e, "prompt", "a string, an array of strings, an array of token ids or an array of those", p);
        }
        r->prompts = json_incref(v);
    } else {
        return bad_type(e, "prompt", "a string, an array of strings, an array of token ids or an array of those", v);
    }
    return r->prompts ? 0 : anc_oai_fail(e, 500, "server_error", NULL, NULL, "out of memory");
}

static const char *const COMMON_KEYS[] = {"model", "stream", "stream_options", "max_tokens", "temperature", "top_p",
                                          "top_k", "seed", "n", "stop", "user", "frequency_penalty", "presence_penalty",
                                          "logit_bias", "logprobs", "store", "metadata", "service_tier", NULL};
static const char *const CHAT_KEYS[] = {"messages", "max_completion_tokens", "top_logprobs", "response_format",
                                        "tools", "tool_choice", "functions", "function_call", "parallel_tool_calls",
                                        "modalities", NULL};
static const char *const COMPLETION_KEYS[] = {"prompt", "echo", "suffix", "best_of", NULL};
static const char *const DEFAULT_ONLY[] = {"frequency_penalty", "presence_penalty", "logit_bias", "logprobs",
                                           "top_logprobs", "response_format", "tools", "tool_choice", "functions",
                                           "function_call", "echo", "suffix", "best_of", "modalities", NULL};

static int in_list(const char *const *l, const char *k) {
    for (; *l; l++)
        if (!strcmp(*l, k)) return 1;
    return 0;
}

/* Sampling, limits and streaming fields shared by both kinds. */
static int common_fields(const json_t *root, long max_tokens_limit, anc_oai_request *r, anc_oai_error *e) {
    json_t *model = json_object_get(root, "model");
    if (model && !json_is_null(model)) {
        if (!json_is_string(model)) return bad_type(e, "model", "a string", model);
        if (!(r->model = strdup(json_string_value(model))))
            return anc_oai_fail(e, 500, "server_error", NULL, NULL, "out of memory");
    }
    int st;
    if ((st = get_bool(root, "stream", &r->stream, e))) return st;
    json_t *so = json_object_get(root, "stream_options");
    if (so && !json_is_null(so)) {
        if (!json_is_object(so)) return bad_type(e, "stream_options", "an object", so);
        if (!r->stream)
            return BAD(e, "stream_options", "invalid_value", "The 'stream_options' parameter is only allowed when 'stream' is enabled.");
        if ((st = get_bool(so, "include_usage", &r->include_usage, e))) return st;
    }
    long long mt = 0, n = 1, top_k = 0, seed = 0;
    const char *mt_key = json_object_get(root, "max_completion_tokens") ? "max_completion_tokens" : "max_tokens";
    if ((st = get_int(root, mt_key, 1, INT32_MAX, &mt, e))) return st;
    if (mt > max_tokens_limit)
        return BAD(e, mt_key, "invalid_value",
                   "Invalid '%s': %lld is too large; this server allows at most %ld completion tokens per choice.", mt_key,
                   mt, max_tokens_limit);
    r->max_tokens = (long)mt;
    r->temperature = 1.0;
    r->top_p = 1.0;
    if ((st = get_number(root, "temperature", 0, 2, &r->temperature, e))) return st;
    if ((st = get_number(root, "top_p", 0, 1, &r->top_p, e))) return st;
    if (r->top_p == 0) { /* nothing but the most likely token */
        r->temperature = 0;
        r->top_p = 1;
    }
    if ((st = get_int(root, "top_k", 0, INT32_MAX, &top_k, e))) return st;
    r->top_k = (long)top_k;
    json_t *sv = json_object_get(root, "seed");
    if (sv && !json_is_null(sv)) {
        if ((st = get_int(root, "seed", INT64_MIN, INT64_MAX, &seed, e))) return st;
        r->has_seed = 1;
        r->seed = (int64_t)seed;
    }
    if ((st = get_int(root, "n", 1, ANC_OAI_MAX_CHOICES, &n, e))) return st;
    r->n = (int)n;
    return get_stop(root, r, e);
}

int anc_oai_parse(const char *body, size_t len, anc_oai_kind kind, long max_tokens_limit, anc_oai_request *r,
                  anc_oai_error *e) {
    memset(r, 0, sizeof *r);
    r->kind = kind;
    json_error_t je;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return BAD(e, NULL, NULL,
                   "We could not parse the JSON body of your request: %s (line %d, column %d). The body must be a JSON "
                   "object.", je.text, je.line, je.column);
    int st = 0;
    if (!json_is_object(root)) st = BAD(e, NULL, NULL, "The body of your request must be a JSON object, got %s.", json_kind(root));
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) {
        if (st) break;
        if (!in_list(COMMON_KEYS, key) && !in_list(kind == ANC_OAI_CHAT ? CHAT_KEYS : COMPLETION_KEYS, key))
            st = BAD(e, key, "unknown_parameter", "Unrecognized request argument supplied: %s", key);
        else if (in_list(DEFAULT_ONLY, key))
            st = default_only(root, key, e);
    }
    if (!st) st = kind == ANC_OAI_CHAT ? get_messages(root, r, e) : get_prompts(root, r, e);
    if (!st) st = common_fields(root, max_tokens_limit, r, e);
    if (!st && (size_t)r->n * (r->prompts ? json_array_size(r->prompts) : 1) > ANC_OAI_MAX_CHOICES)
        st = BAD(e, "n", "invalid_value", "Invalid 'n': prompts x n is more than %d choices.", ANC_OAI_MAX_CHOICES);
    json_decref(root);
    if (st) anc_oai_request_free(r);
    return st;
}

/* ---- replies ---- */

static json_t *usage_obj(int64_t p, int64_t c) {
    return json_pack("{s:I, s:I, s:I}", "prompt_tokens", (json_int_t)p, "completion_tokens", (json_int_t)c,
                     "total_tokens", (json_int_t)(p + c));
}

static json_t *head(anc_oai_kind kind, const char *id, int64_t created, const char *model, int chunk) {
    const char *object = kind == ANC_OAI_COMPLETION ? "text_completion" : chunk ? "chat.completion.chunk" : "chat.completion";
    return json_pack("{s:s, s:s, s:I, s:s, s:s}", "id", id, "object", object, "created", (json_int_t)created, "model",
                     model, "system_fingerprint", "anchor");
}

json_t *anc_oai_reply(anc_oai_kind kind, const char *id, int64_t created, const char *model, const anc_oai_choice *c,
                      int n, int64_t prompt_tokens, int64_t completion_tokens) {
    json_t *o = head(kind, id, created, model, 0), *choices = json_array();
    if (!o || !choices) {
        json_decref(o);
        json_decref(choices);
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        json_t *ch;
        if (kind == ANC_OAI_CHAT)
            ch = json_pack("{s:i, s:{s:s, s:s, s:n}, s:n, s:s}", "index", i, "message", "role", "assistant", "content",
                           c[i].text, "refusal", "logprobs", "finish_reason", c[i].finish_reason);
        else
            ch = json_pack("{s:s, s:i, s:n, s:s}", "text", c[i].text, "index", i, "logprobs", "finish_reason",
                           c[i].finish_reason);
        if (!ch || json_array_append_new(choices, ch)) { /* out of memory: no reply with fewer choices than n */
            json_decref(o);
            json_decref(choices);
            return NULL;
        }
    }
    json_object_set_new(o, "choices", choices);
    json_object_set_new(o, "usage", usage_obj(prompt_tokens, completion_tokens));
    return o;
}

json_t *anc_oai_chunk(anc_oai_kind kind, const char *id, int64_t created, const char *model, int index,
                      const char *role, const char *text, const char *finish, int with_usage) {
    json_t *o = head(kind, id, created, model, 1);
    if (!o) return NULL;
    json_t *ch;
    if (kind == ANC_OAI_CHAT) {
        json_t *delta = json_object();
        if (role) json_object_set_new(delta, "role", json_string(role));
        if (text) json_object_set_new(delta, "content", json_string(text));
        ch = json_pack("{s:i, s:o, s:n, s:o}", "index", index, "delta", delta, "logprobs", "finish_reason",
                       finish ? json_string(finish) : json_null());
    } else {
        ch = json_pack("{s:s, s:i, s:n, s:o}", "text", text ? text : "", "index", index, "logprobs", "finish_reason",
                       finish ? json_string(finish) : json_null());
    }
    json_t *list = ch ? json_pack("[o]", ch) : NULL;
    if (!list || json_object_set_new(o, "choices", list)) {
        json_decref(o);
        return NULL;
    }
    if (with_usage) json_object_set_new(o, "usage", json_null());
    return o;
}

json_t *anc_oai_usage_chunk(anc_oai_kind kind, const char *id, int64_t created, const char *model,
                            int64_t prompt_tokens, int64_t completion_tokens) {
    json_t *o = head(kind, id, created, model, 1);
    if (!o) return NULL;
    json_object_set_new(o, "choices", json_array());
    json_object_set_new(o, "usage", usage_obj(prompt_tokens, completion_tokens));
    return o;
}
