/* Error records: every fallible libanchor function returns an anc_status and,
 * on failure, fills a caller-owned anc_error with a message that names the
 * file, line or byte offset and what was expected. The library never prints
 * and never exits; the CLI decides what to show. */
#ifndef ANCHOR_CORE_ERROR_H
#define ANCHOR_CORE_ERROR_H

#include <stdarg.h>

typedef enum anc_status {
    ANC_OK = 0,
    ANC_ERR_IO,          /* open/read/write/mmap failed */
    ANC_ERR_FORMAT,      /* malformed input file or row */
    ANC_ERR_NOMEM,       /* allocation failed or size overflow */
    ANC_ERR_INVALID,     /* bad argument or inconsistent request */
    ANC_ERR_UNSUPPORTED, /* valid input that anchor does not handle (yet) */
    ANC_ERR_NUMERIC,     /* NaN/Inf where a finite value is required */
    ANC_ERR_INTERNAL
} anc_status;

#define ANC_ERROR_MESSAGE_MAX 1024

typedef struct anc_error {
    anc_status code;
    char message[ANC_ERROR_MESSAGE_MAX];
} anc_error;

/* Sets err (may be NULL) to code and a printf-style message, truncating
 * safely. Returns code so callers can `return anc_error_set(...)`. */
anc_status anc_error_set(anc_error *err, anc_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prepends "context: " to an already-set message (err may be NULL). Returns
 * err->code (or ANC_ERR_INTERNAL when err is NULL). */
anc_status anc_error_prefix(anc_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Resets err to ANC_OK with an empty message. */
void anc_error_clear(anc_error *err);

/* A short stable name for a status ("io", "format", ...). Never NULL. */
const char *anc_status_name(anc_status code);

#endif
