/* OpenAI-compatible HTTP transport: one POST {base}/chat/completions attempt
 * with libcurl, classified as success, retryable or final failure. Reply
 * bodies are read into a buffer bounded by max_reply_bytes whatever the
 * server's Content-Length says. */
#include <curl/curl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/strbuf.h"
#include "llm/llm_internal.h"

#define EXCERPT_MAX 300

typedef struct http_hdr {
    char retry_after[128];
} http_hdr;

/* A body past b->max aborts the transfer (truncated); so does running out
 * of memory (oom). */
static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud) {
    anc_sbuf *b = ud;
    size_t n = size * nmemb; /* curl guarantees size == 1 */
    if (b->max && n > b->max - b->len) {
        b->truncated = 1;
        return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
    }
    return anc_sbuf_append(b, ptr, n) == ANC_OK ? n : 0;
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *ud) {
    http_hdr *h = ud;
    size_t n = size * nmemb;
    if (n >= 5 && memcmp(ptr, "HTTP/", 5) == 0) h->retry_after[0] = '\0'; /* a new response (after 100) */
    static const char name[] = "retry-after:";
    size_t nl = sizeof name - 1;
    if (n > nl && strncasecmp(ptr, name, nl) == 0) {
        size_t from = nl, to = n;
        while (from < to && (ptr[from] == ' ' || ptr[from] == '\t')) from++;
        while (to > from && (ptr[to - 1] == '\r' || ptr[to - 1] == '\n' || ptr[to - 1] == ' ')) to--;
        size_t len = to - from;
        if (len >= sizeof h->retry_after) len = sizeof h->retry_after - 1;
        memcpy(h->retry_after, ptr + from, len);
        h->retry_after[len] = '\0';
    }
    return n;
}

/* Network errors that another try cannot fix. */
static int curl_error_is_final(CURLcode rc) {
    switch (rc) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_NOT_BUILT_IN:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CIPHER:
    case CURLE_LOGIN_DENIED:
    case CURLE_TOO_MANY_REDIRECTS:
    case CURLE_OUT_OF_MEMORY: return 1;
    default: return 0;
    }
}

static long ms(double seconds) {
    if (!(seconds > 0)) return 0;
    double v = ceil(seconds * 1000.0);
    return v > 2147483647.0 ? 2147483647L : (long)v;
}

llm_try anc_llm_http_try(const anc_llm *llm, llm_worker *w, const char *body, size_t len, anc_llm_reply *reply,
                     double *retry_after, anc_error *err) {
    *retry_after = -1;
    const char *url = llm->display_url;
    if (!w->curl) {
        w->curl = curl_easy_init();
        if (!w->curl) {
            anc_error_set(err, ANC_ERR_NOMEM, "POST %s: cannot create a curl handle", url);
            return LLM_TRY_FATAL;
        }
    }
    CURL *c = w->curl;
    curl_easy_reset(c); /* keeps the connection cache: kept-alive connections are reused */
    struct curl_slist *hdrs = NULL, *tmp;
    const char *fixed[] = {"Content-Type: application/json", "Accept: application/json", "Expect:"};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        if (!(tmp = curl_slist_append(hdrs, fixed[i]))) goto oom;
        hdrs = tmp;
    }
    if (llm->auth_header) {
        if (!(tmp = curl_slist_append(hdrs, llm->auth_header))) goto oom;
        hdrs = tmp;
    }
    anc_sbuf buf = {.max = llm->opt.max_reply_bytes};
    http_hdr hh = {{0}};
    char errbuf[CURL_ERROR_SIZE];
    errbuf[0] = '\0';
    curl_easy_setopt(c, CURLOPT_URL, llm->endpoint);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &buf);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &hh);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, ms(llm->opt.connect_timeout_s));
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, ms(llm->opt.timeout_s));
    if (llm->opt.read_timeout_s > 0) {
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (long)ceil(llm->opt.read_timeout_s));
    }
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "anchor/0.1");

    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(hdrs);
    hdrs = NULL;

    llm_try out;
    char excerpt[EXCERPT_MAX + 8];
    if (rc != CURLE_OK) {
        if (buf.truncated) {
            anc_error_set(err, ANC_ERR_FORMAT, "POST %s: reply larger than the %zu-byte limit (HTTP %ld)", url,
                          llm->opt.max_reply_bytes, status);
            out = LLM_TRY_FATAL;
        } else if (buf.oom) {
            anc_error_set(err, ANC_ERR_NOMEM, "POST %s: out of memory reading the reply", url);
            out = LLM_TRY_FATAL;
        } else {
            /* errbuf may name the URL with user:password; the redaction of
             * the key happens in anc_llm_send. */
            anc_error_set(err, ANC_ERR_IO, "POST %s: %s (curl %d%s%s)%s", url, curl_easy_strerror(rc), (int)rc,
                          errbuf[0] ? ": " : "", errbuf[0] && !strchr(errbuf, '@') ? errbuf : "",
                          status ? " after the reply status arrived" : "");
            out = curl_error_is_final(rc) ? LLM_TRY_FATAL : LLM_TRY_RETRY;
        }
    } else if (status >= 200 && status < 300) {
        anc_error perr;
        anc_error_clear(&perr);
        if (anc_llm_scrub_key(llm, &buf.data, &buf.len) != 0) {
            anc_error_set(err, ANC_ERR_NOMEM, "POST %s: out of memory reading the reply", url);
            out = LLM_TRY_FATAL;
        } else if (anc_llm_parse_chat_reply(buf.data, buf.len, reply, &perr) == ANC_OK) {
            out = LLM_TRY_OK;
        } else {
            anc_llm_excerpt(llm, buf.data, buf.len, EXCERPT_MAX, excerpt, sizeof excerpt);
            anc_error_set(err, perr.code == ANC_ERR_NOMEM ? ANC_ERR_NOMEM : ANC_ERR_FORMAT,
                          "POST %s: HTTP %ld with an unusable body (%zu bytes): %s; body: %s", url, status, buf.len,
                          perr.message, excerpt);
            out = perr.code == ANC_ERR_NOMEM ? LLM_TRY_FATAL : LLM_TRY_RETRY;
        }
    } else {
        int retryable = status == 408 || status == 409 || status == 429 || (status >= 500 && status < 600);
        anc_llm_excerpt(llm, buf.data, buf.len, EXCERPT_MAX, excerpt, sizeof excerpt);
        if ((status == 429 || status == 503) && hh.retry_after[0])
            *retry_after = anc_llm_parse_retry_after(hh.retry_after, time(NULL));
        anc_error_set(err, status >= 400 && status < 500 && !retryable ? ANC_ERR_INVALID : ANC_ERR_IO,
                      "POST %s: HTTP %ld%s; body: %s", url, status,
                      status >= 300 && status < 400 ? " (redirects are not followed: check the URL)" : "", excerpt);
        out = retryable ? LLM_TRY_RETRY : LLM_TRY_FATAL;
    }
    free(buf.data);
    return out;
oom:
    curl_slist_free_all(hdrs);
    anc_error_set(err, ANC_ERR_NOMEM, "POST %s: out of memory building headers", url);
    return LLM_TRY_FATAL;
}

void anc_llm_worker_cleanup(llm_worker *w) {
    if (!w) return;
    if (w->curl) curl_easy_cleanup(w->curl);
    w->curl = NULL;
}
