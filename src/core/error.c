#include "core/error.h"

#include <stdio.h>
#include <string.h>

anc_status anc_error_set(anc_error *err, anc_status code, const char *fmt, ...) {
    if (!err) return code;
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return code;
}

anc_status anc_error_prefix(anc_error *err, const char *fmt, ...) {
    if (!err) return ANC_ERR_INTERNAL;
    char prefix[ANC_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    /* Join by hand: bounded copies, the message is cut at the buffer end. */
    char joined[ANC_ERROR_MESSAGE_MAX];
    size_t np = strlen(prefix), nm = strlen(err->message), cap = sizeof joined - 1, used = 0;
    size_t take = np < cap ? np : cap;
    memcpy(joined, prefix, take);
    used = take;
    if (used + 2 <= cap) {
        memcpy(joined + used, ": ", 2);
        used += 2;
    }
    take = nm < cap - used ? nm : cap - used;
    memcpy(joined + used, err->message, take);
    used += take;
    joined[used] = '\0';
    memcpy(err->message, joined, used + 1);
    return err->code;
}

void anc_error_clear(anc_error *err) {
    if (!err) return;
    err->code = ANC_OK;
    err->message[0] = '\0';
}

const char *anc_status_name(anc_status code) {
    switch (code) {
    case ANC_OK: return "ok";
    case ANC_ERR_IO: return "io";
    case ANC_ERR_FORMAT: return "format";
    case ANC_ERR_NOMEM: return "out of memory";
    case ANC_ERR_INVALID: return "invalid";
    case ANC_ERR_UNSUPPORTED: return "unsupported";
    case ANC_ERR_NUMERIC: return "numeric";
    case ANC_ERR_INTERNAL: return "internal";
    }
    return "unknown";
}
