/* Backend creation from a spec string, options, request building and the
 * one-request call. The transports live in http.c and exec.c, the retry
 * loop in retry.c, batches in batch.c. */
#include <curl/curl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llm/llm_internal.h"

#define DEFAULT_KEY_ENV "OPENAI_API_KEY"

/* ------------------------------------------------------------- init */

static pthread_once_t g_curl_once = PTHREAD_ONCE_INIT;
static CURLcode g_curl_rc = CURLE_OK; /* written once, under pthread_once */

static void curl_init_once(void) { g_curl_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

anc_status anc_llm_global_init(anc_error *err) {
    pthread_once(&g_curl_once, curl_init_once);
    if (g_curl_rc != CURLE_OK)
        return anc_error_set(err, ANC_ERR_INTERNAL, "cannot initialise libcurl: %s (curl %d)",
                             curl_easy_strerror(g_curl_rc), (int)g_curl_rc);
    return ANC_OK;
}

void anc_llm_options_init(anc_llm_options *o) {
    if (!o) return;
    memset(o, 0, sizeof *o);
    o->temperature = -1;
    o->top_p = -1;
    o->max_tokens = 0;
    o->seed = -1;
    o->connect_timeout_s = 10;
    o->timeout_s = 600;
    o->read_timeout_s = 0;
    o->max_retries = 5;
    o->backoff_base_s = 1;
    o->backoff_cap_s = 60;
    o->retry_after_cap_s = 300;
    o->max_reply_bytes = (size_t)64 << 20;
}

/* ----------------------------------------------------------- create */

static char *dup_str(const char *s) {
    size_t n = strlen(s);
    char *o = malloc(n + 1);
    if (o) memcpy(o, s, n + 1);
    return o;
}

/* "scheme://user:pass@host/..." -> "scheme://host/..." (malloc'd). */
static char *without_userinfo(const char *url) {
    const char *p = strstr(url, "://");
    if (!p) return dup_str(url);
    const char *host = p + 3;
    size_t hostpart = strcspn(host, "/?#");
    const char *at = memchr(host, '@', hostpart);
    if (!at) return dup_str(url);
    size_t head = (size_t)(host - url), tail = strlen(at + 1);
    char *o = malloc(head + tail + 1);
    if (!o) return NULL;
    memcpy(o, url, head);
    memcpy(o + head, at + 1, tail + 1);
    return o;
}

static anc_status check_options(const anc_llm_options *o, const char *spec, anc_error *err) {
    if (!(o->timeout_s > 0) || !(o->connect_timeout_s > 0) || !(o->read_timeout_s >= 0))
        return anc_error_set(err, ANC_ERR_INVALID, "backend %s: timeouts must be positive seconds", spec);
    if (!(o->backoff_base_s >= 0) || !(o->backoff_cap_s >= o->backoff_base_s) || !(o->retry_after_cap_s >= 0) ||
        !isfinite(o->backoff_cap_s) || !isfinite(o->retry_after_cap_s))
        return anc_error_set(err, ANC_ERR_INVALID,
                             "backend %s: backoff needs 0 <= base <= cap (finite) and retry_after_cap >= 0", spec);
    if (o->max_retries > 1000)
        return anc_error_set(err, ANC_ERR_INVALID, "backend %s: max_retries %u is more than 1000", spec,
                             o->max_retries);
    if (o->max_reply_bytes == 0)
        return anc_error_set(err, ANC_ERR_INVALID, "backend %s: max_reply_bytes must be positive", spec);
    if (o->extra_params) {
        if (!json_is_object(o->extra_params))
            return anc_error_set(err, ANC_ERR_INVALID, "backend %s: extra params must be a JSON object", spec);
        if (json_is_true(json_object_get(o->extra_params, "stream")))
            return anc_error_set(err, ANC_ERR_INVALID, "backend %s: \"stream\": true is not supported", spec);
        if (json_object_get(o->extra_params, "messages"))
            return anc_error_set(err, ANC_ERR_INVALID, "backend %s: extra params may not set \"messages\"", spec);
    }
    return ANC_OK;
}

/* Parses spec into llm's kind, endpoint/command/dir and id. */
static anc_status parse_spec(anc_llm *llm, const char *spec, anc_error *err) {
    static const char expect[] = "expected http://HOST:PORT/v1, https://HOST/v1, openai, exec:COMMAND or local:DIR";
    if (strcmp(spec, "openai") == 0) spec = "https://api.openai.com/v1";
    if (strncmp(spec, "http://", 7) == 0 || strncmp(spec, "https://", 8) == 0) {
        llm->kind = ANC_LLM_HTTP;
        size_t n = strlen(spec);
        while (n > 0 && spec[n - 1] == '/') n--;
        const char *host = strstr(spec, "://") + 3;
        if ((size_t)(host - spec) >= n || *host == '/')
            return anc_error_set(err, ANC_ERR_INVALID, "backend spec: URL has no host; %s", expect);
        static const char suffix[] = "/chat/completions";
        size_t sl = sizeof suffix - 1;
        int has_suffix = n >= sl && memcmp(spec + n - sl, suffix, sl) == 0;
        size_t total = n + (has_suffix ? 0 : sl);
        llm->endpoint = malloc(total + 1);
        if (!llm->endpoint) return anc_error_set(err, ANC_ERR_NOMEM, "backend spec: out of memory");
        memcpy(llm->endpoint, spec, n);
        if (!has_suffix) memcpy(llm->endpoint + n, suffix, sl);
        llm->endpoint[total] = '\0';
        if (strpbrk(llm->endpoint, " \t\r\n"))
            return anc_error_set(err, ANC_ERR_INVALID, "backend spec: URL contains white space");
        llm->display_url = without_userinfo(llm->endpoint);
        if (!llm->display_url) return anc_error_set(err, ANC_ERR_NOMEM, "backend spec: out of memory");
        size_t il = strlen(llm->display_url) + 6;
        llm->id = malloc(il);
        if (!llm->id) return anc_error_set(err, ANC_ERR_NOMEM, "backend spec: out of memory");
        snprintf(llm->id, il, "http:%s", llm->display_url);
        return ANC_OK;
    }
    if (strncmp(spec, "exec:", 5) == 0 || strncmp(spec, "local:", 6) == 0) {
        int is_exec = spec[0] == 'e';
        const char *arg = spec + (is_exec ? 5 : 6);
        if (arg[strspn(arg, " \t")] == '\0')
            return anc_error_set(err, ANC_ERR_INVALID, "backend spec '%s': %s is empty", spec,
                                 is_exec ? "the command" : "the model directory");
        llm->kind = is_exec ? ANC_LLM_EXEC : ANC_LLM_LOCAL;
        char *copy = dup_str(arg);
        llm->id = dup_str(spec);
        if (!copy || !llm->id) {
            free(copy);
            return anc_error_set(err, ANC_ERR_NOMEM, "backend spec: out of memory");
        }
        if (is_exec) llm->command = copy;
        else llm->dir = copy;
        return ANC_OK;
    }
    /* Do not echo an unknown spec whole: it might be a URL with a password. */
    char shown[48];
    size_t n = strcspn(spec, ":@");
    snprintf(shown, sizeof shown, "%.*s", (int)(n < 40 ? n : 40), spec);
    return anc_error_set(err, ANC_ERR_INVALID, "backend spec '%s...': unknown kind; %s", shown, expect);
}

anc_status anc_llm_create(anc_llm **out, const char *spec, const anc_llm_options *opt, anc_error *err) {
    if (!out || !spec) return anc_error_set(err, ANC_ERR_INVALID, "backend: no spec given");
    *out = NULL;
    anc_llm_options defaults;
    if (!opt) {
        anc_llm_options_init(&defaults);
        opt = &defaults;
    }
    anc_status st = anc_llm_global_init(err);
    if (st != ANC_OK) return st;
    anc_llm *llm = calloc(1, sizeof *llm);
    if (!llm) return anc_error_set(err, ANC_ERR_NOMEM, "backend: out of memory");
    llm->opt = *opt;
    if ((st = parse_spec(llm, spec, err)) != ANC_OK) goto fail;
    if ((st = check_options(opt, llm->id, err)) != ANC_OK) goto fail;
    if (llm->kind == ANC_LLM_LOCAL && !opt->local_fn) {
        st = anc_error_set(err, ANC_ERR_INVALID,
                           "backend %s: no local generator was supplied (this build or command cannot run a local "
                           "model here; use an http:// or exec: backend)",
                           llm->id);
        goto fail;
    }
    if (opt->model && *opt->model && !(llm->model = dup_str(opt->model))) goto oom;
    if (opt->extra_params && !(llm->extra = json_deep_copy(opt->extra_params))) goto oom;
    llm->opt.model = llm->model;
    llm->opt.extra_params = llm->extra;
    llm->opt.api_key_env = NULL;
    if (llm->kind == ANC_LLM_HTTP) {
        const char *env = opt->api_key_env ? opt->api_key_env : DEFAULT_KEY_ENV;
        const char *key = *env ? getenv(env) : NULL;
        if (opt->api_key_env && *opt->api_key_env && (!key || !*key)) {
            /* Named on purpose: sending no key would only fail later, at the
             * server, after the requests were recorded. */
            st = anc_error_set(err, ANC_ERR_INVALID,
                               "backend %s: the API key variable $%s is not set (or empty); export it, or leave "
                               "api_key_env unset to send no key",
                               llm->id, opt->api_key_env);
            goto fail;
        }
        if (key && *key) {
            if (strpbrk(key, "\r\n")) {
                st = anc_error_set(err, ANC_ERR_INVALID, "backend %s: the API key in $%s contains a line break",
                                   llm->id, env);
                goto fail;
            }
            static const char prefix[] = "Authorization: Bearer ";
            size_t kl = strlen(key), pl = sizeof prefix - 1;
            llm->api_key = dup_str(key);
            llm->auth_header = malloc(pl + kl + 1);
            if (!llm->api_key || !llm->auth_header) goto oom;
            memcpy(llm->auth_header, prefix, pl);
            memcpy(llm->auth_header + pl, key, kl + 1);
        }
    }
    *out = llm;
    return ANC_OK;
oom:
    st = anc_error_set(err, ANC_ERR_NOMEM, "backend: out of memory");
fail:
    anc_llm_free(llm);
    return st;
}

static void wipe_free(char *s) {
    if (!s) return;
    explicit_bzero(s, strlen(s));
    free(s);
}

void anc_llm_free(anc_llm *llm) {
    if (!llm) return;
    wipe_free(llm->api_key);
    wipe_free(llm->auth_header);
    free(llm->id);
    free(llm->endpoint);
    free(llm->display_url);
    free(llm->command);
    free(llm->dir);
    free(llm->model);
    json_decref(llm->extra);
    free(llm);
}

anc_llm_kind anc_llm_get_kind(const anc_llm *llm) { return llm ? llm->kind : (anc_llm_kind)0; }
const char *anc_llm_id(const anc_llm *llm) { return llm ? llm->id : NULL; }
int anc_llm_has_api_key(const anc_llm *llm) { return llm && llm->api_key != NULL; }

/* ---------------------------------------------------------- requests */

static anc_status check_messages(const json_t *m, anc_error *err) {
    if (!json_is_array(m) || json_array_size(m) == 0)
        return anc_error_set(err, ANC_ERR_INVALID, "request: \"messages\" must be a non-empty array");
    size_t i;
    const json_t *x;
    json_array_foreach(m, i, x) {
        if (!json_is_object(x) || !json_is_string(json_object_get(x, "role")) ||
            !json_is_string(json_object_get(x, "content")))
            return anc_error_set(err, ANC_ERR_INVALID,
                                 "request: messages[%zu] must be an object with string \"role\" and \"content\"", i);
    }
    return ANC_OK;
}

anc_status anc_llm_build_request(const anc_llm *llm, const anc_llm_request *req, json_t **out, anc_error *err) {
    if (out) *out = NULL;
    if (!llm || !req || !out) return anc_error_set(err, ANC_ERR_INVALID, "request: bad arguments");
    anc_status st = check_messages(req->messages, err);
    if (st != ANC_OK) return st;
    if (req->params && !json_is_object(req->params))
        return anc_error_set(err, ANC_ERR_INVALID, "request: params must be a JSON object");
    if (req->params && (json_object_get(req->params, "messages") || json_is_true(json_object_get(req->params, "stream"))))
        return anc_error_set(err, ANC_ERR_INVALID, "request: params may not set \"messages\" or \"stream\"");
    const anc_llm_options *o = &llm->opt;
    json_t *r = json_object();
    int bad = !r;
    if (!bad && llm->model) bad |= json_object_set_new(r, "model", json_string(llm->model));
    if (!bad) bad |= json_object_set_new(r, "messages", json_deep_copy(req->messages));
    if (!bad && o->temperature >= 0) bad |= json_object_set_new(r, "temperature", json_real(o->temperature));
    if (!bad && o->top_p >= 0) bad |= json_object_set_new(r, "top_p", json_real(o->top_p));
    if (!bad && o->max_tokens > 0) bad |= json_object_set_new(r, "max_tokens", json_integer(o->max_tokens));
    if (!bad && o->seed >= 0) bad |= json_object_set_new(r, "seed", json_integer((json_int_t)o->seed));
    if (!bad && llm->extra) bad |= json_object_update(r, llm->extra);
    if (!bad && req->params) bad |= json_object_update(r, (json_t *)req->params);
    if (bad) {
        json_decref(r);
        return anc_error_set(err, ANC_ERR_NOMEM, "request: out of memory building the request JSON");
    }
    *out = r;
    return ANC_OK;
}

anc_status anc_llm_complete(anc_llm *llm, const anc_llm_request *req, anc_llm_reply *reply, anc_error *err) {
    if (!llm || !req || !reply) return anc_error_set(err, ANC_ERR_INVALID, "complete: bad arguments");
    memset(reply, 0, sizeof *reply);
    reply->prompt_tokens = reply->completion_tokens = reply->total_tokens = -1;
    json_t *request = NULL;
    anc_status st = anc_llm_build_request(llm, req, &request, err);
    if (st != ANC_OK) return st;
    char *body = json_dumps(request, JSON_COMPACT);
    if (!body) {
        json_decref(request);
        return anc_error_set(err, ANC_ERR_NOMEM, "complete: cannot serialise the request");
    }
    llm_worker w = {0};
    st = anc_llm_send(llm, &w, request, body, strlen(body), reply, err);
    anc_llm_worker_cleanup(&w);
    free(body);
    json_decref(request);
    return st;
}
