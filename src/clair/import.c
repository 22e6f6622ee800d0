#include "clair/import.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Row context for error messages. */
typedef struct ictx {
    const char *label;
    size_t line;
    anc_error *err;
} ictx;

#define ROW_ERR(c, ...) row_err((c), __VA_ARGS__)

__attribute__((format(printf, 2, 3))) static anc_status row_err(const ictx *c, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return anc_error_set(c->err, ANC_ERR_FORMAT, "%s:%zu: %s", c->label, c->line, msg);
}

static anc_status oom(const ictx *c) {
    return anc_error_set(c->err, ANC_ERR_NOMEM, "%s:%zu: out of memory converting the row", c->label, c->line);
}

/* Skip reasons (static: the summary groups rows by these pointers). */
static const char SK_EMPTY_CHOSEN[] = "empty chosen response";
static const char SK_EMPTY_REJECTED[] = "empty rejected response";
static const char SK_IDENTICAL[] = "chosen and rejected are identical";
static const char SK_NOT_ASSISTANT[] = "a response is not a final assistant message";
static const char SK_PROMPT_MISMATCH[] = "chosen and rejected differ before the final assistant turn";
static const char SK_NO_PROMPT[] = "no prompt before the response";
static const char SK_TOOL[] = "tool or function-call turns are not supported";
static const char SK_ROLE[] = "unknown message role";
static const char SK_HH_START[] = "transcript does not start with a Human turn";
static const char SK_HH_BOUNDARY[] = "no shared prompt ending at an Assistant turn";
static const char SK_HH_MULTI[] = "a response contains further dialogue turns (Human:/Assistant:)";
static const char SK_ENDS_ASSISTANT[] = "conversation ends with an assistant turn (expected the user turn to answer)";
static const char SK_NO_COMPLETION[] = "conversation does not end with an assistant completion";
static const char SK_EMPTY_COMPLETION[] = "empty completion";

/* ---- formats ------------------------------------------------------------- */

static const char *const FORMAT_NAMES[] = {"ultrafeedback", "hh-rlhf", "llama-factory", "llama-factory-kto"};

anc_status anc_import_format_parse(const char *name, anc_import_format *out, anc_error *err) {
    for (size_t i = 0; name && i < sizeof FORMAT_NAMES / sizeof FORMAT_NAMES[0]; i++) {
        const char *a = FORMAT_NAMES[i], *b = name;
        while (*a && *b && (*a == *b || (*a == '-' && *b == '_'))) a++, b++;
        if (!*a && !*b) {
            *out = (anc_import_format)i;
            return ANC_OK;
        }
    }
    return anc_error_set(err, ANC_ERR_INVALID,
                         "unknown import format '%s' (expected ultrafeedback, hh-rlhf, llama-factory or "
                         "llama-factory-kto)", name ? name : "");
}

const char *anc_import_format_name(anc_import_format f) {
    return (size_t)f < sizeof FORMAT_NAMES / sizeof FORMAT_NAMES[0] ? FORMAT_NAMES[f] : "unknown";
}

/* ---- messages -------------------------------------------------------------- */

static int blank_text(const char *s, size_t n) {
    anc_text_trim(&s, &n);
    return n == 0;
}

/* Appends the text of a message content (string, or list of text parts). */
static anc_status content_text(const json_t *content, anc_sbuf *b, const ictx *c, const char *what) {
    if (json_is_string(content)) return anc_sbuf_append(b, json_string_value(content), json_string_length(content));
    if (json_is_array(content)) {
        size_t i;
        const json_t *part;
        json_array_foreach(content, i, part) {
            const json_t *t = json_is_object(part) ? json_object_get(part, "text") : part;
            if (json_is_object(part) && !t) t = json_object_get(part, "value");
            if (!json_is_string(t))
                return ROW_ERR(c, "%s: content part %zu is not text (expected a string or {\"type\":\"text\", "
                                  "\"text\"|\"value\": string})", what, i);
            anc_sbuf_append(b, json_string_value(t), json_string_length(t));
        }
        return b->oom ? oom(c) : ANC_OK;
    }
    return ROW_ERR(c, "%s: content is %s (expected a string or a list of text parts)", what,
                   content ? "not text" : "missing");
}

/* Canonical role: "user", "assistant", "system"; NULL with *skip set. */
static const char *map_role(const char *r, const char **skip) {
    static const struct { const char *from, *to; } MAP[] = {
        {"user", "user"},           {"human", "user"},        {"assistant", "assistant"}, {"gpt", "assistant"},
        {"bot", "assistant"},       {"model", "assistant"},   {"chatgpt", "assistant"},   {"system", "system"}};
    static const char *const TOOL[] = {"tool", "function", "function_call", "observation", "ipython"};
    for (size_t i = 0; i < sizeof MAP / sizeof MAP[0]; i++)
        if (strcmp(r, MAP[i].from) == 0) return MAP[i].to;
    *skip = SK_ROLE;
    for (size_t i = 0; i < sizeof TOOL / sizeof TOOL[0]; i++)
        if (strcmp(r, TOOL[i]) == 0) *skip = SK_TOOL;
    return NULL;
}

static json_t *msg_new(const char *role, const char *text, size_t len) {
    return json_pack("{s:s, s:s%}", "role", role, "content", text, len);
}

/* Appends {"role","content"} built from a message object (role/content or
 * from/value) to arr; *skip set for unsupported roles. */
static anc_status add_message(json_t *arr, const json_t *m, const char **skip, const ictx *c, const char *what) {
    if (!json_is_object(m)) return ROW_ERR(c, "%s: a message is not an object (expected {\"role\", \"content\"})", what);
    const json_t *role = json_object_get(m, "role"), *content = json_object_get(m, "content");
    if (!role) role = json_object_get(m, "from");
    if (!content) content = json_object_get(m, "value");
    if (!json_is_string(role))
        return ROW_ERR(c, "%s: message without a string \"role\" (or \"from\")", what);
    const char *r = map_role(json_string_value(role), skip);
    if (!r) return ANC_OK;
    anc_sbuf b = {0};
    anc_status st = content_text(content, &b, c, what);
    if (!st) {
        json_t *msg = msg_new(r, anc_sbuf_str(&b), b.len);
        if (!msg || json_array_append_new(arr, msg)) st = oom(c);
    }
    anc_sbuf_free(&b);
    return st;
}

/* Normalises a message list into a new array (*out). */
static anc_status norm_messages(const json_t *list, json_t **out, const char **skip, const ictx *c, const char *key) {
    *out = NULL;
    if (!json_is_array(list)) return ROW_ERR(c, "\"%s\" is %s (expected a list of messages)", key, list ? "not a list" : "missing");
    json_t *arr = json_array();
    if (!arr) return oom(c);
    size_t i;
    const json_t *m;
    json_array_foreach(list, i, m) {
        anc_status st = add_message(arr, m, skip, c, key);
        if (st || *skip) {
            json_decref(arr);
            return st;
        }
    }
    *out = arr;
    return ANC_OK;
}

static const char *msg_role(const json_t *m) { return json_string_value(json_object_get(m, "role")); }
static const json_t *msg_content(const json_t *m) { return json_object_get(m, "content"); }

/* Builds {"prompt","chosen","rejected"} from normalised lists. The final
 * message of ch and rj is the answer; their earlier turns must agree and
 * are the prompt, else prompt (may be NULL) is. Takes ownership of all. */
static anc_status finish_pair(json_t *prompt, json_t *ch, json_t *rj, json_t **out, const char **skip, const ictx *c) {
    *out = NULL;
    anc_status st = ANC_OK;
    size_t nc = json_array_size(ch), nr = json_array_size(rj);
    json_t *pc = NULL, *pair = NULL;
    const json_t *lc = nc ? json_array_get(ch, nc - 1) : NULL, *lr = nr ? json_array_get(rj, nr - 1) : NULL;
    if (!lc || !lr || strcmp(msg_role(lc), "assistant") != 0 || strcmp(msg_role(lr), "assistant") != 0) {
        *skip = SK_NOT_ASSISTANT;
        goto done;
    }
    pc = json_array();
    json_t *pr = json_array();
    int same = pc && pr;
    for (size_t i = 0; same && i + 1 < nc; i++) same = !json_array_append(pc, json_array_get(ch, i));
    for (size_t i = 0; same && i + 1 < nr; i++) same = !json_array_append(pr, json_array_get(rj, i));
    if (!pc || !pr || !same) {
        json_decref(pr);
        st = oom(c);
        goto done;
    }
    same = json_equal(pc, pr);
    json_decref(pr);
    if (!same) {
        *skip = SK_PROMPT_MISMATCH;
        goto done;
    }
    if (json_array_size(pc) == 0) {
        json_decref(pc);
        pc = prompt;
        prompt = NULL;
    } else if (prompt && json_array_size(prompt) > 0 && !json_equal(prompt, pc)) {
        /* an explicit prompt followed by turns inside chosen: prompt + turns */
        if (json_array_extend(prompt, pc)) {
            st = oom(c);
            goto done;
        }
        json_decref(pc);
        pc = prompt;
        prompt = NULL;
    }
    if (!pc || json_array_size(pc) == 0) {
        *skip = SK_NO_PROMPT;
        goto done;
    }
    const char *tc = json_string_value(msg_content(lc)), *tr = json_string_value(msg_content(lr));
    size_t lcn = json_string_length(msg_content(lc)), lrn = json_string_length(msg_content(lr));
    if (blank_text(tc, lcn)) *skip = SK_EMPTY_CHOSEN;
    else if (blank_text(tr, lrn)) *skip = SK_EMPTY_REJECTED;
    else if (lcn == lrn && memcmp(tc, tr, lcn) == 0) *skip = SK_IDENTICAL;
    if (*skip) goto done;
    pair = json_pack("{s:O, s:[O], s:[O]}", "prompt", pc, "chosen", lc, "rejected", lr);
    if (!pair) st = oom(c);
    *out = pair;
done:
    json_decref(pc);
    json_decref(prompt);
    json_decref(ch);
    json_decref(rj);
    return st;
}

/* A response given as a string, one message object, or a message list. */
static anc_status response_list(const json_t *v, json_t **out, const char **skip, const ictx *c, const char *key) {
    *out = NULL;
    if (json_is_array(v)) return norm_messages(v, out, skip, c, key);
    if (!json_is_string(v) && !json_is_object(v))
        return ROW_ERR(c, "\"%s\" is %s (expected a string, a message or a list of messages)", key,
                       v ? "of the wrong type" : "missing");
    json_t *arr = json_array();
    if (!arr) return oom(c);
    anc_status st;
    if (json_is_string(v)) {
        json_t *m = msg_new("assistant", json_string_value(v), json_string_length(v));
        st = m && !json_array_append_new(arr, m) ? ANC_OK : oom(c);
    } else {
        st = add_message(arr, v, skip, c, key);
    }
    if (st || *skip) {
        json_decref(arr);
        return st;
    }
    *out = arr;
    return ANC_OK;
}

/* A prompt given as a string (one user turn) or a message list. */
static anc_status prompt_list(const json_t *v, json_t **out, const char **skip, const ictx *c, const char *key) {
    *out = NULL;
    if (!v || json_is_null(v)) return ANC_OK;
    if (json_is_array(v)) return norm_messages(v, out, skip, c, key);
    if (!json_is_string(v)) return ROW_ERR(c, "\"%s\" is not a string or a list of messages", key);
    *out = json_pack("[{s:s, s:s%}]", "role", "user", "content", json_string_value(v), json_string_length(v));
    return *out ? ANC_OK : oom(c);
}

/* Optional string field: NULL when absent or null; error when another type. */
static anc_status opt_string(const json_t *row, const char *key, const json_t **out, const ictx *c) {
    const json_t *v = json_object_get(row, key);
    *out = NULL;
    if (!v || json_is_null(v)) return ANC_OK;
    if (!json_is_string(v)) return ROW_ERR(c, "\"%s\" is not a string", key);
    *out = v;
    return ANC_OK;
}

/* ---- ultrafeedback / TRL ------------------------------------------------- */

static anc_status imp_ultrafeedback(const json_t *row, json_t **out, const char **skip, const ictx *c) {
    json_t *prompt = NULL, *ch = NULL, *rj = NULL;
    anc_status st;
    if ((st = prompt_list(json_object_get(row, "prompt"), &prompt, skip, c, "prompt")) || *skip) return st;
    if ((st = response_list(json_object_get(row, "chosen"), &ch, skip, c, "chosen")) || *skip ||
        (st = response_list(json_object_get(row, "rejected"), &rj, skip, c, "rejected")) || *skip) {
        json_decref(prompt);
        json_decref(ch);
        json_decref(rj);
        return st;
    }
    st = finish_pair(prompt, ch, rj, out, skip, c);
    static const char *const KEEP[] = {"score_chosen", "score_rejected"};
    for (size_t k = 0; !st && *out && k < 2; k++) {
        json_t *v = json_object_get(row, KEEP[k]);
        if (v && json_object_set(*out, KEEP[k], v)) st = oom(c);
    }
    return st;
}

/* ---- HH-RLHF -------------------------------------------------------------- */

static const char HUMAN[] = "\n\nHuman:", ASSIST[] = "\n\nAssistant:";
#define HUMAN_LEN (sizeof HUMAN - 1)
#define ASSIST_LEN (sizeof ASSIST - 1)

static int at(const char *s, size_t n, size_t i, const char *w, size_t wn) { return i + wn <= n && memcmp(s + i, w, wn) == 0; }

/* Offset of the next turn marker at or after i, or n. */
static size_t next_turn(const char *s, size_t n, size_t i) {
    for (; i + 2 <= n; i++)
        if (s[i] == '\n' && s[i + 1] == '\n' && (at(s, n, i, HUMAN, HUMAN_LEN) || at(s, n, i, ASSIST, ASSIST_LEN)))
            return i;
    return n;
}

static anc_status imp_hh(const json_t *row, json_t **out, const char **skip, const ictx *c) {
    const json_t *jc = json_object_get(row, "chosen"), *jr = json_object_get(row, "rejected");
    if (!json_is_string(jc) || !json_is_string(jr))
        return ROW_ERR(c, "expected \"chosen\" and \"rejected\" transcripts as strings (\"\\n\\nHuman: ...\\n\\nAssistant: ...\")");
    const char *ch = json_string_value(jc), *rj = json_string_value(jr);
    size_t chn = json_string_length(jc), rjn = json_string_length(jr), lcp = 0;
    while (lcp < chn && lcp < rjn && ch[lcp] == rj[lcp]) lcp++;
    size_t idx = (size_t)-1;
    for (size_t i = lcp >= ASSIST_LEN ? lcp - ASSIST_LEN + 1 : 0; i-- > 0;)
        if (at(ch, chn, i, ASSIST, ASSIST_LEN)) {
            idx = i;
            break;
        }
    if (idx == (size_t)-1) {
        *skip = SK_HH_BOUNDARY;
        return ANC_OK;
    }
    /* the prompt transcript ch[0..idx) as messages */
    size_t pos = 0;
    if (at(ch, idx, 0, HUMAN + 2, HUMAN_LEN - 2)) pos = 0; /* "Human:" without the leading blank line */
    else if (!at(ch, idx, 0, HUMAN, HUMAN_LEN)) {
        *skip = SK_HH_START;
        return ANC_OK;
    }
    json_t *prompt = json_array();
    if (!prompt) return oom(c);
    while (pos < idx) {
        int human = ch[pos] == 'H' || at(ch, idx, pos, HUMAN, HUMAN_LEN);
        size_t start = pos + (ch[pos] == 'H' ? HUMAN_LEN - 2 : human ? HUMAN_LEN : ASSIST_LEN);
        if (start < idx && ch[start] == ' ') start++;
        size_t end = next_turn(ch, idx, start);
        json_t *m = msg_new(human ? "user" : "assistant", ch + start, end - start);
        if (!m || json_array_append_new(prompt, m)) {
            json_decref(prompt);
            return oom(c);
        }
        pos = end;
    }
    const char *resp[2] = {ch, rj};
    size_t rn[2] = {chn, rjn};
    json_t *lists[2] = {NULL, NULL};
    for (int k = 0; k < 2; k++) {
        size_t s = idx + ASSIST_LEN;
        if (s < rn[k] && resp[k][s] == ' ') s++;
        if (next_turn(resp[k], rn[k], s) != rn[k]) {
            *skip = SK_HH_MULTI;
            break;
        }
        lists[k] = json_pack("[{s:s, s:s%}]", "role", "assistant", "content", resp[k] + s, rn[k] - s);
        if (!lists[k]) break;
    }
    if (*skip || !lists[0] || !lists[1]) {
        json_decref(prompt);
        json_decref(lists[0]);
        json_decref(lists[1]);
        return *skip ? ANC_OK : oom(c);
    }
    return finish_pair(prompt, lists[0], lists[1], out, skip, c);
}

/* ---- LLaMA-Factory ----------------------------------------------------------- */

/* Alpaca prompt: [system], history turns, then instruction + "\n" + input. */
static anc_status alpaca_prompt(const json_t *row, json_t **out, const char **skip, const ictx *c) {
    *out = NULL;
    const json_t *sys, *ins, *inp;
    anc_status st;
    if ((st = opt_string(row, "system", &sys, c)) || (st = opt_string(row, "instruction", &ins, c)) ||
        (st = opt_string(row, "input", &inp, c)))
        return st;
    const json_t *hist = json_object_get(row, "history");
    if (hist && !json_is_null(hist) && !json_is_array(hist))
        return ROW_ERR(c, "\"history\" is not a list of [query, response] pairs");
    json_t *arr = json_array();
    if (!arr) return oom(c);
    if (sys && json_string_length(sys) && json_array_append_new(arr, msg_new("system", json_string_value(sys), json_string_length(sys))))
        st = oom(c);
    size_t i;
    const json_t *turn;
    json_array_foreach(hist, i, turn) {
        if (st) break;
        const json_t *q = json_array_get(turn, 0), *a = json_array_get(turn, 1);
        if (!json_is_array(turn) || json_array_size(turn) != 2 || !json_is_string(q) || !json_is_string(a)) {
            st = ROW_ERR(c, "\"history\" entry %zu is not a [query, response] pair of strings", i);
            break;
        }
        if (json_array_append_new(arr, msg_new("user", json_string_value(q), json_string_length(q))) ||
            json_array_append_new(arr, msg_new("assistant", json_string_value(a), json_string_length(a))))
            st = oom(c);
    }
    anc_sbuf b = {0};
    if (ins && json_string_length(ins)) anc_sbuf_append(&b, json_string_value(ins), json_string_length(ins));
    if (inp && json_string_length(inp)) {
        if (b.len) anc_sbuf_putc(&b, '\n');
        anc_sbuf_append(&b, json_string_value(inp), json_string_length(inp));
    }
    if (!st && b.len == 0) *skip = SK_NO_PROMPT;
    else if (!st && (b.oom || json_array_append_new(arr, msg_new("user", anc_sbuf_str(&b), b.len))))
        st = oom(c);
    anc_sbuf_free(&b);
    if (st || *skip) {
        json_decref(arr);
        return st;
    }
    *out = arr;
    return ANC_OK;
}

/* Prepends the row's "system" string to a sharegpt conversation. */
static anc_status add_system(const json_t *row, json_t *conv, const ictx *c) {
    const json_t *sys;
    anc_status st = opt_string(row, "system", &sys, c);
    if (st || !sys || json_string_length(sys) == 0) return st;
    const json_t *first = json_array_get(conv, 0);
    if (first && strcmp(msg_role(first), "system") == 0) return ANC_OK;
    return json_array_insert_new(conv, 0, msg_new("system", json_string_value(sys), json_string_length(sys))) ? oom(c)
                                                                                                              : ANC_OK;
}

static anc_status imp_llama_factory(const json_t *row, json_t **out, const char **skip, const ictx *c) {
    json_t *prompt = NULL, *ch = NULL, *rj = NULL;
    anc_status st = ANC_OK;
    if (json_object_get(row, "chosen_messages")) { /* v1 */
        if (!(st = norm_messages(json_object_get(row, "chosen_messages"), &ch, skip, c, "chosen_messages")) && !*skip)
            st = norm_messages(json_object_get(row, "rejected_messages"), &rj, skip, c, "rejected_messages");
    } else if (json_object_get(row, "conversations")) { /* sharegpt */
        st = norm_messages(json_object_get(row, "conversations"), &prompt, skip, c, "conversations");
        if (!st && !*skip) st = add_system(row, prompt, c);
        if (!st && !*skip) {
            const json_t *last = json_array_get(prompt, json_array_size(prompt) - 1);
            if (!last) *skip = SK_NO_PROMPT;
            else if (strcmp(msg_role(last), "user") != 0) *skip = SK_ENDS_ASSISTANT;
        }
        if (!st && !*skip && !(st = response_list(json_object_get(row, "chosen"), &ch, skip, c, "chosen")) && !*skip)
            st = response_list(json_object_get(row, "rejected"), &rj, skip, c, "rejected");
    } else if (json_object_get(row, "instruction")) { /* alpaca */
        if (!(st = alpaca_prompt(row, &prompt, skip, c)) && !*skip) {
            const json_t *vc = json_object_get(row, "chosen"), *vr = json_object_get(row, "rejected");
            if (!json_is_string(vc) || !json_is_string(vr))
                st = ROW_ERR(c, "alpaca rows need \"chosen\" and \"rejected\" strings");
            else if (!(st = response_list(vc, &ch, skip, c, "chosen")) && !*skip)
                st = response_list(vr, &rj, skip, c, "rejected");
        }
    } else {
        return ROW_ERR(c, "not a LLaMA-Factory preference row (expected \"conversations\" + \"chosen\" + \"rejected\" "
                          "(sharegpt), \"instruction\" + \"chosen\" + \"rejected\" (alpaca), or \"chosen_messages\" + "
                          "\"rejected_messages\")");
    }
    if (st || *skip) {
        json_decref(prompt);
        json_decref(ch);
        json_decref(rj);
        return st;
    }
    return finish_pair(prompt, ch, rj, out, skip, c);
}

static anc_status imp_kto(const json_t *row, json_t **out, const char **skip, const ictx *c) {
    *out = NULL;
    const json_t *lab = json_object_get(row, "label");
    const char *lab_key = "label";
    if (!lab) {
        lab = json_object_get(row, "kto_tag");
        lab_key = "kto_tag";
    }
    int label;
    if (json_is_boolean(lab)) label = json_is_true(lab);
    else if (json_is_integer(lab) && (json_integer_value(lab) == 0 || json_integer_value(lab) == 1))
        label = (int)json_integer_value(lab);
    else return ROW_ERR(c, "\"%s\" is %s (expected true or false)", lab_key, lab ? "not a boolean" : "missing (or \"kto_tag\")");
    json_t *prompt = NULL, *completion = NULL;
    anc_status st = ANC_OK;
    const json_t *list = json_object_get(row, "messages");
    const char *key = "messages";
    if (!list) {
        list = json_object_get(row, "conversations");
        key = "conversations";
    }
    if (list) {
        st = norm_messages(list, &prompt, skip, c, key);
        if (!st && !*skip) st = add_system(row, prompt, c);
        size_t n = json_array_size(prompt);
        if (!st && !*skip && (n == 0 || strcmp(msg_role(json_array_get(prompt, n - 1)), "assistant") != 0))
            *skip = SK_NO_COMPLETION;
        if (!st && !*skip) {
            completion = json_pack("[O]", json_array_get(prompt, n - 1));
            if (!completion || json_array_remove(prompt, n - 1)) st = oom(c);
        }
    } else if (json_object_get(row, "instruction")) {
        const json_t *o = json_object_get(row, "output");
        if (!json_is_string(o)) return ROW_ERR(c, "alpaca KTO rows need an \"output\" string");
        if (!(st = alpaca_prompt(row, &prompt, skip, c)) && !*skip) {
            completion = json_pack("[{s:s, s:s%}]", "role", "assistant", "content", json_string_value(o), json_string_length(o));
            if (!completion) st = oom(c);
        }
    } else {
        return ROW_ERR(c, "not a KTO row (expected \"messages\" or \"conversations\" ending with the assistant's "
                          "completion, or alpaca \"instruction\" + \"output\")");
    }
    if (!st && !*skip && json_array_size(prompt) == 0) *skip = SK_NO_PROMPT;
    if (!st && !*skip) {
        const json_t *t = msg_content(json_array_get(completion, 0));
        if (blank_text(json_string_value(t), json_string_length(t))) *skip = SK_EMPTY_COMPLETION;
    }
    if (!st && !*skip) {
        *out = json_pack("{s:O, s:O, s:b}", "prompt", prompt, "completion", completion, "label", label);
        if (!*out) st = oom(c);
    }
    json_decref(prompt);
    json_decref(completion);
    return st;
}

/* ---- driver ----------------------------------------------------------------- */

anc_status anc_import_row(anc_import_format f, const json_t *row, const char *source, const char *label, size_t line,
                          json_t **out, const char **skip, anc_error *err) {
    *out = NULL;
    *skip = NULL;
    ictx c = {label ? label : "input", line, err};
    if (!json_is_object(row)) return ROW_ERR(&c, "row is not a JSON object");
    if (!source) source = anc_import_format_name(f);
    anc_status st;
    switch (f) {
    case ANC_IMPORT_ULTRAFEEDBACK: st = imp_ultrafeedback(row, out, skip, &c); break;
    case ANC_IMPORT_HH_RLHF: st = imp_hh(row, out, skip, &c); break;
    case ANC_IMPORT_LLAMA_FACTORY: st = imp_llama_factory(row, out, skip, &c); break;
    case ANC_IMPORT_LLAMA_FACTORY_KTO: st = imp_kto(row, out, skip, &c); break;
    default: return anc_error_set(err, ANC_ERR_INVALID, "unknown import format %d", (int)f);
    }
    if (st || !*out) {
        json_decref(*out);
        *out = NULL;
        return st;
    }
    json_t *id = json_object_get(row, "id");
    if (!json_is_string(id) && !json_is_integer(id)) id = json_object_get(row, "prompt_id");
    json_t *idv;
    if (json_is_string(id)) idv = json_copy(id);
    else if (json_is_integer(id)) idv = json_sprintf("%" JSON_INTEGER_FORMAT, json_integer_value(id));
    else idv = json_sprintf("%s-%zu", source, line);
    if (!idv || json_object_set_new(*out, "id", idv) || json_object_set_new(*out, "source", json_string(source))) {
        json_decref(*out);
        *out = NULL;
        return oom(&c);
    }
    return ANC_OK;
}

anc_status anc_import_rows(anc_import_format f, const anc_rows *rows, const char *source, const char *label,
                           json_t **out, anc_import_summary *sum, anc_error *err) {
    memset(sum, 0, sizeof *sum);
    *out = NULL;
    json_t *arr = json_array();
    if (!arr) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < rows->n; i++) {
        json_t *row = NULL;
        const char *skip = NULL;
        sum->read++;
        anc_status st = anc_import_row(f, rows->rows[i], source, label, rows->lines[i], &row, &skip, err);
        if (st) {
            json_decref(arr);
            return st;
        }
        if (row) {
            if (json_array_append_new(arr, row)) {
                json_decref(arr);
                return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
            }
            sum->written++;
            continue;
        }
        sum->skipped++;
        size_t r = 0;
        while (r < sum->n_reasons && sum->reasons[r].reason != skip) r++;
        if (r == sum->n_reasons) {
            if (r == ANC_IMPORT_MAX_REASONS) r--; /* cannot happen with the fixed set of reasons */
            else sum->n_reasons++;
            sum->reasons[r].reason = skip;
            sum->reasons[r].first_line = rows->lines[i];
        }
        sum->reasons[r].count++;
    }
    *out = arr;
    return ANC_OK;
}

anc_status anc_import_dump_jsonl(const json_t *array, anc_sbuf *out, anc_error *err) {
    size_t i;
    const json_t *row;
    json_array_foreach(array, i, row) {
        char *line = json_dumps(row, JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (!line) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory writing row %zu", i + 1);
        anc_sbuf_puts(out, line);
        anc_sbuf_putc(out, '\n');
        free(line);
    }
    return out->oom ? anc_error_set(err, ANC_ERR_NOMEM, "out of memory writing rows") : ANC_OK;
}

anc_status anc_pair_text(const json_t *row, const char *key, char **out, const char *label, size_t line,
                         anc_error *err) {
    *out = NULL;
    ictx c = {label ? label : "input", line, err};
    const json_t *v = json_object_get(row, key);
    if (!v) { /* LLaMA-Factory v1: chosen_messages / rejected_messages */
        char alt[64];
        snprintf(alt, sizeof alt, "%s_messages", key);
        v = json_object_get(row, alt);
    }
    if (json_is_string(v)) {
        *out = anc_text_dup(json_string_value(v), json_string_length(v));
        return *out ? ANC_OK : oom(&c);
    }
    const json_t *msg = NULL;
    if (json_is_object(v)) {
        msg = v;
    } else if (json_is_array(v)) {
        for (size_t i = json_array_size(v); i-- > 0 && !msg;) {
            const json_t *m = json_array_get(v, i), *r = json_object_get(m, "role");
            if (!r) r = json_object_get(m, "from");
            const char *rs = json_string_value(r);
            if (rs && (strcmp(rs, "assistant") == 0 || strcmp(rs, "gpt") == 0)) msg = m;
        }
        if (!msg) return ROW_ERR(&c, "\"%s\" has no assistant message", key);
    } else {
        return ROW_ERR(&c, "\"%s\" is %s (expected a string or a list of messages)", key, v ? "of the wrong type" : "missing");
    }
    const json_t *content = json_object_get(msg, "content");
    if (!content) content = json_object_get(msg, "value");
    anc_sbuf b = {0};
    anc_status st = content_text(content, &b, &c, key);
    if (!st) {
        *out = anc_sbuf_take(&b);
        if (!*out) st = oom(&c);
    }
    anc_sbuf_free(&b);
    return st;
}
