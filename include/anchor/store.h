/* libanchor public API: the run store, one SQLite file (run.db) per run
 * directory in which anchor records
 *
 *   requests  every LLM request sent or to be sent (CLAIR revisions,
 *             judgements), keyed by the SHA-256 of its canonical form: the
 *             request JSON (never an API key), status pending/done/failed,
 *             the reply text and JSON, the last error, the attempts;
 *   items     per-step item records (step, item id) -> done/failed with the
 *             step's output JSON or error, so a rerun skips finished items;
 *   steps     per-step metadata: input hash, config hash, finished flag.
 *
 * Each committed write has been fsync'd before the call returns (WAL mode,
 * synchronous=FULL), so a crash or a power cut afterwards cannot lose it.
 * Several processes may share one store (each write waits up to 10 s for
 * another's transaction); one anc_store handle may be used from several
 * threads (its calls are serialised). JSON crosses this API as text.
 * Every fallible function returns ANC_OK or an error whose message names the
 * database path and the operation; strings returned through `**` are
 * malloc'd and owned by the caller (free()). */
#ifndef ANCHOR_PUBLIC_STORE_H
#define ANCHOR_PUBLIC_STORE_H

#include "anchor/common.h"

ANC_EXTERN_C_BEGIN

/* A request key: 64 lowercase hex digits + NUL. */
#define ANC_STORE_KEY_HEX 65

typedef struct anc_store anc_store;

typedef enum anc_req_status {
    ANC_REQ_NONE = 0,  /* no such request */
    ANC_REQ_PENDING,   /* recorded before sending; no reply committed yet */
    ANC_REQ_DONE,      /* reply committed */
    ANC_REQ_FAILED     /* gave up; error recorded (a rerun sends it again) */
} anc_req_status;

typedef enum anc_item_status {
    ANC_ITEM_NONE = 0, /* no record */
    ANC_ITEM_DONE,
    ANC_ITEM_FAILED
} anc_item_status;

/* Opens (creating when absent) the store at path and creates or checks its
 * schema. On success *out is a handle (release with anc_store_close); on
 * failure *out is untouched and err says why: ANC_ERR_INVALID (no path),
 * ANC_ERR_IO (cannot open or create), ANC_ERR_FORMAT (not an SQLite file),
 * ANC_ERR_UNSUPPORTED (written by a newer anchor), ANC_ERR_NOMEM. */
ANC_API anc_status anc_store_open(anc_store **out, const char *path, anc_error *err);

/* Closes s, rolling back an unfinished explicit transaction. NULL is a
 * no-op. */
ANC_API void anc_store_close(anc_store *s);

/* The path s was opened with (owned by s). */
ANC_API const char *anc_store_path(const anc_store *s);

/* The request key of anchor's LLM calls: SHA-256 over a versioned encoding
 * of backend_id (e.g. "http:https://api.openai.com/v1/chat/completions"),
 * salt (NULL = ""; tells apart samples of one request) and the request JSON
 * request_json[0..len) serialised compactly with sorted keys (key order does
 * not matter). Writes 64 hex digits + NUL into key. Errors: ANC_ERR_INVALID
 * for a NULL argument, ANC_ERR_FORMAT when request_json does not parse,
 * ANC_ERR_NOMEM. */
ANC_API anc_status anc_store_request_key_json(const char *backend_id, const char *salt, const char *request_json,
                                              size_t len, char key[ANC_STORE_KEY_HEX], anc_error *err);

/* Looks up the committed reply of key. When key is done: *found = 1,
 * *reply_text (caller frees) the reply's text and *reply_json (caller frees;
 * NULL when none was stored) the full reply as compact JSON text; otherwise
 * *found = 0 and both are NULL. reply_text or reply_json may be NULL when
 * not wanted. Errors: ANC_ERR_IO (database), ANC_ERR_FORMAT (a stored reply
 * JSON that does not parse). */
ANC_API anc_status anc_store_get_reply_json(anc_store *s, const char *key, char **reply_text, char **reply_json,
                                            int *found, anc_error *err);

/* The status of key (ANC_REQ_NONE when absent), *attempts (may be NULL) and
 * the last *error (may be NULL; caller frees; NULL when none). */
ANC_API anc_status anc_store_request_status(anc_store *s, const char *key, anc_req_status *status,
                                            unsigned *attempts, char **error, anc_error *err);

/* Counts requests by status (any count pointer may be NULL). */
ANC_API anc_status anc_store_count_requests(anc_store *s, size_t *pending, size_t *done, size_t *failed,
                                            anc_error *err);

/* Reads the record of (step, item_id): *status (ANC_ITEM_NONE when
 * absent), *record_json (compact JSON text, caller frees; NULL when none;
 * the pointer may be NULL) and *error (caller frees; NULL when none; the
 * pointer may be NULL). */
ANC_API anc_status anc_store_item_get_json(anc_store *s, const char *step, const char *item_id,
                                           anc_item_status *status, char **record_json, char **error,
                                           anc_error *err);

/* Writes (replacing) the record of (step, item_id): status ANC_ITEM_DONE or
 * ANC_ITEM_FAILED, record_json (NUL-terminated JSON text, may be NULL: no
 * record) and error text (may be NULL). Committed when it returns outside an explicit
 * transaction. Errors: ANC_ERR_INVALID (another status), ANC_ERR_FORMAT
 * (record_json does not parse), ANC_ERR_IO. */
ANC_API anc_status anc_store_item_put_json(anc_store *s, const char *step, const char *item_id,
                                           anc_item_status status, const char *record_json, const char *error,
                                           anc_error *err);

/* Counts the items of step by status (either pointer may be NULL). */
ANC_API anc_status anc_store_item_count(anc_store *s, const char *step, size_t *done, size_t *failed,
                                        anc_error *err);

/* Deletes the items of step: all of them, or only the failed ones when
 * failed_only (so a rerun tries them again). */
ANC_API anc_status anc_store_item_clear(anc_store *s, const char *step, int failed_only, anc_error *err);

/* Step metadata. Strings are malloc'd (NULL when not set); free them with
 * anc_store_step_clear. */
typedef struct anc_store_step {
    char *input_hash;
    char *config_hash;
    int finished;
} anc_store_step;

/* Reads the metadata of step: *found = 1 and *out filled, or *found = 0 and
 * *out zeroed. */
ANC_API anc_status anc_store_step_get(anc_store *s, const char *step, anc_store_step *out, int *found,
                                      anc_error *err);

/* Writes (replacing) the metadata of step. Hashes may be NULL. */
ANC_API anc_status anc_store_step_put(anc_store *s, const char *step, const char *input_hash,
                                      const char *config_hash, int finished, anc_error *err);

/* Frees the strings of m and zeroes it (NULL is a no-op). */
ANC_API void anc_store_step_clear(anc_store_step *m);

/* Explicit transactions: group many writes into one commit (one fsync).
 * They nest (inner levels are savepoints) and cover every call made on the
 * handle, from any thread, until the matching commit. A failed write inside
 * one rolls back only that write. anc_store_commit makes everything durable
 * when the outermost level commits; anc_store_rollback undoes the innermost
 * level (no-op without one). */
ANC_API anc_status anc_store_begin(anc_store *s, anc_error *err);
ANC_API anc_status anc_store_commit(anc_store *s, anc_error *err);
ANC_API void anc_store_rollback(anc_store *s);

/* Runs SQLite's integrity check: ANC_ERR_FORMAT with its first complaint
 * when the file is damaged. */
ANC_API anc_status anc_store_check(anc_store *s, anc_error *err);

ANC_EXTERN_C_END

#endif
