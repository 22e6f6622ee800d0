/* Error records: every fallible libanchor function returns an anc_status and,
 * on failure, fills a caller-owned anc_error with a message that names the
 * file, line or byte offset and what was expected. The library never prints
 * and never exits; the CLI decides what to show. */
#ifndef ANCHOR_CORE_ERROR_H
#define ANCHOR_CORE_ERROR_H

#include <stdarg.h>

/* anc_status, anc_error, anc_error_clear and anc_status_name are public. */
#include "anchor/common.h"

/* Sets err (may be NULL) to code and a printf-style message, truncating
 * safely. Returns code so callers can `return anc_error_set(...)`. */
anc_status anc_error_set(anc_error *err, anc_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prepends "context: " to an already-set message (err may be NULL). Returns
 * err->code (or ANC_ERR_INTERNAL when err is NULL). */
anc_status anc_error_prefix(anc_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
