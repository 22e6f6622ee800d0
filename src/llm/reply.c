#define _GNU_SOURCE
/* Chat-completion reply parsing (the fuzzed parser: fuzz/fuzz_chat_reply.c),
 * plain-text replies, and the text helpers for safe error messages. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "llm/llm_internal.h"

#define REASON_MAX 200

void anc_llm_reply_free(anc_llm_reply *r) {
    if (!r) return;
    free(r->text);
    free(r->finish_reason);
    json_decref(r->raw);
    memset(r, 0, sizeof *r);
    r->prompt_tokens = r->completion_tokens = r->total_tokens = -1;
}

static void reply_zero(anc_llm_reply *r) {
    memset(r, 0, sizeof *r);
    r->prompt_tokens = r->completion_tokens = r->total_tokens = -1;
}

static char *dup_n(const char *s, size_t n) {
    char *o = malloc(n + 1);
    if (!o) return NULL;
    if (n) memcpy(o, s, n);
    o[n] = '\0';
    return o;
}

static int64_t usage_field(const json_t *usage, const char *name) {
    const json_t *v = json_object_get(usage, name);
    if (!json_is_integer(v)) return -1;
    json_int_t x = json_integer_value(v);
    return x < 0 ? -1 : (int64_t)x;
}

/* Copies a short excerpt of a JSON string value for messages. */
static void short_text(const json_t *v, char *out, size_t cap) {
    const char *s = json_is_string(v) ? json_string_value(v) : NULL;
    if (!s) {
        snprintf(out, cap, "(no message)");
        return;
    }
    size_t n = json_string_length(v);
    if (n > REASON_MAX) n = REASON_MAX;
    size_t j = 0;
    for (size_t i = 0; i < n && j + 1 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        out[j++] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
    }
    while (j > 0 && ((unsigned char)out[j - 1] & 0xC0) == 0x80) j--; /* whole UTF-8 sequences only */
    if (j > 0 && ((unsigned char)out[j - 1] & 0xC0) == 0xC0) j--;
    out[j] = '\0';
}

/* Joins the "text" of every text part of a content array. */
static char *join_parts(const json_t *parts, size_t *out_len) {
    size_t total = 0, idx;
    const json_t *p;
    json_array_foreach(parts, idx, p) {
        const json_t *t = json_object_get(p, "text");
        const char *type = json_string_value(json_object_get(p, "type"));
        if (json_is_string(t) && (!type || strcmp(type, "text") == 0 || strcmp(type, "output_text") == 0)) {
            size_t n = json_string_length(t);
            if (n > SIZE_MAX - total - 1) return NULL;
            total += n;
        }
    }
    char *out = malloc(total + 1);
    if (!out) return NULL;
    size_t at = 0;
    json_array_foreach(parts, idx, p) {
        const json_t *t = json_object_get(p, "text");
        const char *type = json_string_value(json_object_get(p, "type"));
        if (json_is_string(t) && (!type || strcmp(type, "text") == 0 || strcmp(type, "output_text") == 0)) {
            size_t n = json_string_length(t);
            memcpy(out + at, json_string_value(t), n);
            at += n;
        }
    }
    out[at] = '\0';
    *out_len = at;
    return out;
}

int anc_llm_reply_fill_meta(anc_llm_reply *r) {
    r->prompt_tokens = r->completion_tokens = r->total_tokens = -1;
    free(r->finish_reason);
    r->finish_reason = NULL;
    if (!json_is_object(r->raw)) return 0;
    const json_t *c0 = json_array_get(json_object_get(r->raw, "choices"), 0);
    const json_t *fr = json_is_object(c0) ? json_object_get(c0, "finish_reason") : NULL;
    if (json_is_string(fr) && !(r->finish_reason = dup_n(json_string_value(fr), json_string_length(fr)))) return -1;
    const json_t *usage = json_object_get(r->raw, "usage");
    if (json_is_object(usage)) {
        r->prompt_tokens = usage_field(usage, "prompt_tokens");
        r->completion_tokens = usage_field(usage, "completion_tokens");
        r->total_tokens = usage_field(usage, "total_tokens");
    }
    return 0;
}

anc_status anc_llm_parse_chat_reply(const char *body, size_t len, anc_llm_reply *reply, anc_error *err) {
    if (!reply) return anc_error_set(err, ANC_ERR_INVALID, "chat reply: no reply to fill");
    reply_zero(reply);
    if (!body || len == 0) return anc_error_set(err, ANC_ERR_FORMAT, "chat reply: empty body");
    json_error_t je;
    json_t *root = json_loadb(body, len, 0, &je);
    if (!root)
        return anc_error_set(err, ANC_ERR_FORMAT, "chat reply: invalid JSON at line %d column %d (byte %d): %s",
                             je.line, je.column, je.position, je.text);
    anc_status st = ANC_OK;
    char why[REASON_MAX + 8];
    if (!json_is_object(root)) {
        st = anc_error_set(err, ANC_ERR_FORMAT, "chat reply: expected a JSON object, got %s",
                           json_is_array(root) ? "an array" : "a scalar");
        goto fail;
    }
    const json_t *e = json_object_get(root, "error");
    if (e && !json_is_null(e)) {
        short_text(json_is_object(e) ? json_object_get(e, "message") : e, why, sizeof why);
        st = anc_error_set(err, ANC_ERR_FORMAT, "chat reply: the server reported an error: %s", why);
        goto fail;
    }
    const json_t *choices = json_object_get(root, "choices");
    if (!json_is_array(choices) || json_array_size(choices) == 0) {
        st = anc_error_set(err, ANC_ERR_FORMAT, "chat reply: expected a non-empty \"choices\" array");
        goto fail;
    }
    const json_t *c0 = json_array_get(choices, 0);
    if (!json_is_object(c0)) {
        st = anc_error_set(err, ANC_ERR_FORMAT, "chat reply: choices[0] is not an object");
        goto fail;
    }
    const json_t *msg = json_object_get(c0, "message");
    const json_t *content = json_is_object(msg) ? json_object_get(msg, "content") : json_object_get(c0, "text");
    size_t n = 0;
    if (json_is_string(content)) {
        n = json_string_length(content);
        reply->text = dup_n(json_string_value(content), n);
    } else if (json_is_array(content)) {
        reply->text = join_parts(content, &n);
    } else {
        const json_t *refusal = json_is_object(msg) ? json_object_get(msg, "refusal") : NULL;
        if (json_is_string(refusal)) {
            short_text(refusal, why, sizeof why);
            st = anc_error_set(err, ANC_ERR_FORMAT, "chat reply: the model refused: %s", why);
        } else if (json_is_object(msg) && json_object_get(msg, "tool_calls")) {
            st = anc_error_set(err, ANC_ERR_FORMAT, "chat reply: choices[0].message has tool calls but no text content");
        } else {
            st = anc_error_set(err, ANC_ERR_FORMAT,
                               json_is_object(msg) ? "chat reply: choices[0].message.content is not text"
                                                   : "chat reply: choices[0] has no \"message\" object");
        }
        goto fail;
    }
    if (!reply->text) {
        st = anc_error_set(err, ANC_ERR_NOMEM, "chat reply: out of memory copying %zu bytes of content", n);
        goto fail;
    }
    reply->raw = root;
    if (anc_llm_reply_fill_meta(reply) != 0) {
        st = anc_error_set(err, ANC_ERR_NOMEM, "chat reply: out of memory");
        anc_llm_reply_free(reply);
        return st;
    }
    return ANC_OK;
fail:
    json_decref(root);
    anc_llm_reply_free(reply);
    return st;
}

anc_status anc_llm_reply_from_text(const char *text, size_t len, const char *model, const char *source,
                               anc_llm_reply *reply, anc_error *err) {
    reply_zero(reply);
    json_t *content = json_stringn(text, len);
    if (!content) return anc_error_set(err, ANC_ERR_FORMAT, "%s reply is not valid UTF-8 text", source);
    json_t *raw = json_pack("{s:s, s:[{s:i, s:{s:s, s:o}, s:n}], s:s}", "object", "chat.completion", "choices",
                            "index", 0, "message", "role", "assistant", "content", content, "finish_reason",
                            "anchor_source", source);
    if (raw && model && json_object_set_new(raw, "model", json_string(model)) != 0) {
        json_decref(raw);
        raw = NULL;
    }
    reply->text = dup_n(text, len);
    if (!raw || !reply->text) {
        json_decref(raw);
        anc_llm_reply_free(reply);
        return anc_error_set(err, ANC_ERR_NOMEM, "%s reply: out of memory", source);
    }
    reply->raw = raw;
    return ANC_OK;
}

json_t *anc_llm_user_message(const char *text) {
    if (!text) return NULL;
    return json_pack("[{s:s, s:s}]", "role", "user", "content", text);
}

/* ------------------------------------------------ safe message helpers */

void anc_llm_redact(const anc_llm *llm, char *msg, size_t cap) {
    static const char mark[] = "[REDACTED]";
    if (!llm || !llm->api_key || !msg || cap == 0) return;
    size_t klen = strlen(llm->api_key);
    if (klen < 4) return; /* too short to be a secret; redacting would mangle text */
    char *hit;
    size_t from = 0;
    while ((hit = strstr(msg + from, llm->api_key)) != NULL) {
        size_t at = (size_t)(hit - msg), len = strlen(msg);
        size_t tail = len - at - klen; /* bytes after the key */
        size_t mlen = sizeof mark - 1;
        if (at + mlen >= cap) { /* no room even for the mark: cut here */
            msg[at] = '\0';
            return;
        }
        size_t keep_tail = tail;
        if (at + mlen + keep_tail >= cap) keep_tail = cap - 1 - at - mlen;
        memmove(msg + at + mlen, hit + klen, keep_tail);
        memcpy(msg + at, mark, mlen);
        msg[at + mlen + keep_tail] = '\0';
        from = at + mlen;
    }
}

int anc_llm_scrub_key(const anc_llm *llm, char **data, size_t *len) {
    static const char mark[] = "[REDACTED]";
    if (!llm || !llm->api_key || !*data) return 0;
    size_t klen = strlen(llm->api_key), mlen = sizeof mark - 1;
    if (klen < 4 || !memmem(*data, *len, llm->api_key, klen)) return 0; /* short: see anc_llm_redact */
    /* Each hit shrinks or grows by klen - mlen: at most len / klen hits. */
    size_t cap = *len + (*len / klen + 1) * (mlen > klen ? mlen - klen : 0) + 1;
    char *out = malloc(cap);
    if (!out) return -1;
    size_t o = 0, i = 0;
    while (i < *len) {
        const char *hit = memmem(*data + i, *len - i, llm->api_key, klen);
        size_t upto = hit ? (size_t)(hit - *data) : *len;
        memcpy(out + o, *data + i, upto - i);
        o += upto - i;
        if (!hit) break;
        memcpy(out + o, mark, mlen);
        o += mlen;
        i = upto + klen;
    }
    out[o] = '\0';
    explicit_bzero(*data, *len);
    free(*data);
    *data = out;
    *len = o;
    return 0;
}

void anc_llm_excerpt(const anc_llm *llm, const char *data, size_t len, size_t max, char *out, size_t cap) {
    static const char mark[] = "[REDACTED]";
    const size_t mlen = sizeof mark - 1;
    if (!out || cap < 8) {
        if (out && cap) out[0] = '\0';
        return;
    }
    if (!data || len == 0) {
        snprintf(out, cap, "(empty)");
        return;
    }
    const char *key = llm ? llm->api_key : NULL;
    size_t klen = key ? strlen(key) : 0;
    if (klen < 4) klen = 0;
    size_t limit = max < cap - 4 ? max : cap - 4, o = 0, i = 0;
    int cut = 0;
    while (i < len) {
        /* The key is matched in the input, not the output, so a cut can never
         * leave a prefix of it; input that ends inside a key prefix is
         * scrubbed too. */
        if (klen && data[i] == key[0]) {
            size_t cmp = len - i < klen ? len - i : klen;
            if (memcmp(data + i, key, cmp) == 0) {
                if (o + mlen > limit) {
                    cut = 1;
                    break;
                }
                memcpy(out + o, mark, mlen);
                o += mlen;
                i += cmp;
                continue;
            }
        }
        unsigned char c = (unsigned char)data[i];
        size_t seq = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
        for (size_t k = 1; k < seq; k++)
            if (i + k >= len || ((unsigned char)data[i + k] & 0xC0) != 0x80) seq = 0;
        size_t need = seq ? seq : 1;
        if (o + need > limit) {
            cut = 1;
            break;
        }
        if (seq > 1) {
            memcpy(out + o, data + i, seq);
            o += seq;
            i += seq;
        } else {
            out[o++] = seq == 0 ? '?' : c < 0x20 || c == 0x7f ? ' ' : (char)c;
            i++;
        }
    }
    while (!cut && o > 0 && out[o - 1] == ' ') o--; /* a trailing newline reads as nothing */
    if (o == 0 && !cut) {
        snprintf(out, cap, "(empty)");
        return;
    }
    if (cut) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
}

double anc_llm_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
