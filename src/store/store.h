/* The run store: one SQLite file (run.db) per run directory holding
 *
 *   requests  every LLM request anchor sent or will send, keyed by the
 *             SHA-256 of its canonical form (backend, model, messages,
 *             parameters): the request JSON (never an API key), status
 *             pending/done/failed, the reply text, the full reply JSON, the
 *             last error, the number of attempts and timestamps;
 *   items     per-step item records (step, item id) -> done/failed with the
 *             step's output JSON or error, so a rerun skips finished items;
 *   steps     per-step metadata: input hash, config hash, finished flag.
 *
 * Durability (design.md section 7: "every reply is committed to the store
 * before it is used"): the database runs in WAL mode with
 * `synchronous=FULL`, so each committed write transaction has been fsync'd
 * to the WAL before the call returns. A process crash (kill -9) or a power
 * cut afterwards cannot lose it. (`synchronous=NORMAL` would survive kill -9
 * but could lose the last commits on power loss; a paid reply is worth one
 * fsync.) If the file system cannot do WAL, SQLite keeps its rollback
 * journal and the same guarantee holds. A crash at any moment loses at most
 * the requests whose replies had not been committed yet (they stay
 * `pending` and are sent again by the next run).
 *
 * Concurrency: several processes (or handles) may share one store. Each
 * write waits up to the busy timeout (10 s) for another's transaction
 * instead of failing. A request about to be sent is *claimed*
 * (anc_store_claim): in one write transaction its row becomes pending with a
 * lease naming this handle's owner (host, pid, process start time, handle)
 * and an expiry; another handle finding a live lease leaves the request
 * alone and waits for its reply, so no request with a committed reply or a
 * live lease is sent twice. A lease ends when the reply or failure is
 * committed, when its holder stops renewing it (anc_store_renew_leases)
 * past the expiry, or at once when its holder was a process on this host
 * that no longer runs (kill -9): its requests are then taken over. Items and
 * step records are last-writer-wins per row (concurrent runs of one step
 * write the same outcome for an item, since they share its reply).
 * One anc_store handle may be used from several threads; its calls are
 * serialised by an internal mutex. An explicit transaction
 * (anc_store_begin) covers every call made on the handle until
 * anc_store_commit, from any thread.
 *
 * Every function returns ANC_OK or an error whose message names the
 * database path and the operation; strings returned through `**` are
 * malloc'd and owned by the caller. */
#ifndef ANCHOR_STORE_STORE_H
#define ANCHOR_STORE_STORE_H

#include <jansson.h>
#include <stddef.h>

#include "anchor/store.h"
#include "core/error.h"
#include "store/sha256.h"

/* Public (anchor/store.h): the anc_store, anc_req_status, anc_item_status and
 * anc_store_step types, ANC_STORE_KEY_HEX, anc_store_open, _close, _path,
 * _request_status, _count_requests, _item_count, _item_clear, _step_get,
 * _step_put, _step_clear, _begin, _commit, _rollback, _check, and the
 * JSON-text forms _request_key_json, _get_reply_json, _item_get_json,
 * _item_put_json of the calls below. */
_Static_assert(ANC_STORE_KEY_HEX == ANC_SHA256_HEX, "a request key is a SHA-256 in hex");

/* Computes the request key: SHA-256 over a versioned, length-prefixed
 * encoding of backend_id (e.g. "http:https://api.openai.com/v1/chat/completions",
 * which the llm module gives as anc_llm_id), salt (may be NULL = ""; lets a
 * caller ask the same thing twice, e.g. two samples) and the request JSON
 * serialised compactly with sorted keys (so key order does not matter).
 * Writes 64 hex digits + NUL into key. Errors: ANC_ERR_INVALID for NULL
 * arguments, ANC_ERR_NOMEM when the JSON cannot be serialised. */
anc_status anc_store_request_key(const char *backend_id, const char *salt, const json_t *request,
                                 char key[ANC_STORE_KEY_HEX], anc_error *err);

/* Looks up a committed reply. *found = 1 and *reply_text (caller frees) and
 * *reply_json (caller json_decref's; NULL when none was stored) are set
 * when key is `done`; otherwise *found = 0 and both are NULL. reply_text or
 * reply_json may be NULL when the caller does not want them. A stored
 * reply JSON that does not parse is ANC_ERR_FORMAT. */
anc_status anc_store_get_reply(anc_store *s, const char *key, char **reply_text, json_t **reply_json,
                               int *found, anc_error *err);

/* Records key as pending with its request JSON (which must not hold any
 * secret) before it is sent. A `done` request stays done. */
anc_status anc_store_put_pending(anc_store *s, const char *key, const json_t *request, anc_error *err);

/* Commits a reply: status done, reply_text, reply_json (may be NULL), the
 * request JSON, error cleared, attempts added to the count. One committed
 * transaction (or part of the caller's explicit one): when this returns ANC_OK
 * outside an explicit transaction, the reply is on disk. */
anc_status anc_store_put_reply(anc_store *s, const char *key, const json_t *request, const char *reply_text,
                               const json_t *reply_json, unsigned attempts, anc_error *err);

/* Records a failure (status failed, error text, attempts added). Never
 * overwrites a committed reply: a `done` request stays done. The error text
 * must not hold secrets (the llm module's errors never do). */
anc_status anc_store_put_failure(anc_store *s, const char *key, const json_t *request, const char *error,
                                 unsigned attempts, anc_error *err);

/* Reads the record of (step, item_id): *status (ANC_ITEM_NONE when absent),
 * *record (caller json_decref's; NULL when none; pointer may be NULL) and
 * *error (caller frees; NULL when none; pointer may be NULL). */
anc_status anc_store_item_get(anc_store *s, const char *step, const char *item_id, anc_item_status *status,
                              json_t **record, char **error, anc_error *err);

/* Writes (replacing) the record of (step, item_id): status DONE or FAILED,
 * record JSON (may be NULL) and error text (may be NULL). Items keep the
 * position of their first write for anc_store_item_foreach. */
anc_status anc_store_item_put(anc_store *s, const char *step, const char *item_id, anc_item_status status,
                              const json_t *record, const char *error, anc_error *err);

/* Called per item in first-write order; record and error are borrowed (may
 * be NULL). Return non-zero to stop early. */
typedef int (*anc_store_item_fn)(void *ctx, const char *item_id, anc_item_status status, const json_t *record,
                                 const char *error);

/* Visits the items of step whose status matches `only` (ANC_ITEM_NONE = all).
 * A record that does not parse is ANC_ERR_FORMAT naming the item. */
anc_status anc_store_item_foreach(anc_store *s, const char *step, anc_item_status only, anc_store_item_fn fn,
                                  void *ctx, anc_error *err);

/* ------------------------------------------------------------- leases */

typedef enum anc_claim {
    ANC_CLAIM_OK = 0,  /* this handle now holds the lease: send the request */
    ANC_CLAIM_DONE,    /* a reply is committed: read it, send nothing */
    ANC_CLAIM_BUSY,    /* another live handle holds the lease: wait for it */
    ANC_CLAIM_FAILED   /* (only with retry_failed = 0) another handle gave up on it */
} anc_claim;

/* Claims key for sending, atomically (one write transaction): when no reply
 * is committed and no other live handle holds a lease, the row becomes
 * pending with request (no secrets) and a lease for this handle expiring
 * ttl_s seconds from now (*outcome = ANC_CLAIM_OK). A failed request is
 * claimed again when retry_failed; otherwise, if another handle recorded the
 * failure, *outcome = ANC_CLAIM_FAILED. holder (may be NULL) receives the
 * owner string of a busy lease (caller frees; NULL otherwise). */
anc_status anc_store_claim(anc_store *s, const char *key, const json_t *request, double ttl_s, int retry_failed,
                           anc_claim *outcome, char **holder, anc_error *err);

/* Extends every lease this handle holds on pending requests to ttl_s from
 * now; *renewed (may be NULL) counts them. */
anc_status anc_store_renew_leases(anc_store *s, double ttl_s, size_t *renewed, anc_error *err);

/* This handle's owner string, "HOST:PID:START:HANDLE" (owned by s). */
const char *anc_store_owner(const anc_store *s);

/* 1 when an owner string names a holder that may still be alive: another
 * host (only its lease expiry tells), or a process of this host that runs
 * with the same start time. */
int anc_store_owner_alive(const char *owner);

/* ---------------------------------------------------------- provenance */

/* Checks that step's items were made with the settings prov (a JSON object
 * of option name -> value: backend, model, sampling options, template
 * hash, ...) and records prov for the step:
 *   - fresh: the step's items are deleted and prov recorded (start over);
 *   - no provenance recorded, or no item yet: prov is recorded;
 *   - the recorded provenance equals prov: nothing changes;
 *   - otherwise ANC_ERR_INVALID, nothing changes, and the message names
 *     every differing key with its recorded and its new value.
 * prov is borrowed. */
anc_status anc_store_step_provenance(anc_store *s, const char *step, const json_t *prov, int fresh, anc_error *err);

#endif
