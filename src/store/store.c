/* The SQLite run store; the contract is in store.h. Each public call takes
 * the handle's mutex, prepares its statement, runs it and finalises it (no
 * cached statements, so nothing outlives a call but the connection). Single
 * statements run in autocommit mode, which SQLite makes atomic and, with
 * synchronous=FULL, durable at return. */
#include "store/store.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"

/* 1: requests, items, steps. 2: leases on requests (lease_owner,
 * lease_expires) and step provenance (steps.provenance_json). */
#define SCHEMA_VERSION 2
#define BUSY_TIMEOUT_MS 10000

static const char *SCHEMA =
    "CREATE TABLE IF NOT EXISTS requests ("
    " key TEXT PRIMARY KEY,"
    " request_json TEXT NOT NULL,"
    " status TEXT NOT NULL CHECK (status IN ('pending','done','failed')),"
    " reply_text TEXT,"
    " reply_json TEXT,"
    " error TEXT,"
    " attempts INTEGER NOT NULL DEFAULT 0,"
    " created_at TEXT NOT NULL,"
    " updated_at TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS items ("
    " step TEXT NOT NULL,"
    " item_id TEXT NOT NULL,"
    " status TEXT NOT NULL CHECK (status IN ('done','failed')),"
    " record_json TEXT,"
    " error TEXT,"
    " updated_at TEXT NOT NULL,"
    " PRIMARY KEY (step, item_id));"
    "CREATE TABLE IF NOT EXISTS steps ("
    " step TEXT PRIMARY KEY,"
    " input_hash TEXT,"
    " config_hash TEXT,"
    " finished INTEGER NOT NULL DEFAULT 0,"
    " updated_at TEXT NOT NULL);";

/* Version 2. A lease says which handle (lease_owner, see anc_store_owner_make)
 * is sending a pending request and until when (lease_expires, Unix seconds;
 * NULL once the request is done or failed, when lease_owner names who
 * finished it). */
static const char *SCHEMA_V2 =
    "ALTER TABLE requests ADD COLUMN lease_owner TEXT;"
    "ALTER TABLE requests ADD COLUMN lease_expires REAL;"
    "ALTER TABLE steps ADD COLUMN provenance_json TEXT;";

/* ------------------------------------------------------------ helpers */

anc_status anc_store_db_error(anc_store *s, anc_error *err, const char *what) {
    int code = sqlite3_extended_errcode(s->db);
    anc_status st = ANC_ERR_IO;
    int primary = code & 0xff;
    if (primary == SQLITE_NOTADB || primary == SQLITE_CORRUPT) st = ANC_ERR_FORMAT;
    else if (primary == SQLITE_NOMEM) st = ANC_ERR_NOMEM;
    else if (primary == SQLITE_CONSTRAINT || primary == SQLITE_MISUSE) st = ANC_ERR_INVALID;
    return anc_error_set(err, st, "run store %s: %s: %s (sqlite code %d)", s->path, what, sqlite3_errmsg(s->db),
                         code);
}

anc_status anc_store_exec_sql(anc_store *s, const char *sql, const char *what, anc_error *err) {
    char *msg = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        anc_status st = anc_store_db_error(s, err, what);
        sqlite3_free(msg);
        return st;
    }
    return ANC_OK;
}

anc_status anc_store_prepare(anc_store *s, const char *sql, sqlite3_stmt **st, const char *what, anc_error *err) {
    if (sqlite3_prepare_v2(s->db, sql, -1, st, NULL) != SQLITE_OK) return anc_store_db_error(s, err, what);
    return ANC_OK;
}

/* Binds text (NULL binds SQL NULL). */
int anc_store_bind_text(sqlite3_stmt *st, int i, const char *v) {
    if (!v) return sqlite3_bind_null(st, i);
    return sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
}

/* Binds the compact serialisation of j (NULL binds SQL NULL). Returns
 * SQLITE_NOMEM when serialisation fails. */
int anc_store_bind_json(sqlite3_stmt *st, int i, const json_t *j) {
    if (!j) return sqlite3_bind_null(st, i);
    char *txt = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!txt) return SQLITE_NOMEM;
    return sqlite3_bind_text(st, i, txt, -1, free);
}

/* malloc'd copy of column i (NULL for SQL NULL or out of memory: *oom set). */
char *anc_store_column_dup(sqlite3_stmt *st, int i, int *oom) {
    if (sqlite3_column_type(st, i) == SQLITE_NULL) return NULL;
    const unsigned char *t = sqlite3_column_text(st, i);
    size_t n = (size_t)sqlite3_column_bytes(st, i);
    if (!t) {
        *oom = 1;
        return NULL;
    }
    char *out = malloc(n + 1);
    if (!out) {
        *oom = 1;
        return NULL;
    }
    memcpy(out, t, n);
    out[n] = '\0';
    return out;
}

/* Parses column i as JSON into *out (NULL for SQL NULL). */
anc_status anc_store_column_json(anc_store *s, sqlite3_stmt *st, int i, json_t **out, const char *what,
                              anc_error *err) {
    *out = NULL;
    if (sqlite3_column_type(st, i) == SQLITE_NULL) return ANC_OK;
    const char *t = (const char *)sqlite3_column_text(st, i);
    size_t n = (size_t)sqlite3_column_bytes(st, i);
    if (!t) return anc_error_set(err, ANC_ERR_NOMEM, "run store %s: %s: out of memory", s->path, what);
    json_error_t je;
    *out = json_loadb(t, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (!*out)
        return anc_error_set(err, ANC_ERR_FORMAT, "run store %s: %s: stored JSON is damaged at column %d: %s",
                             s->path, what, je.column, je.text);
    return ANC_OK;
}

/* Runs a prepared write statement to completion and finalises it. */
anc_status anc_store_step_done(anc_store *s, sqlite3_stmt *st, const char *what, anc_error *err) {
    int rc = sqlite3_step(st);
    anc_status out = ANC_OK;
    if (rc != SQLITE_DONE) out = anc_store_db_error(s, err, what);
    sqlite3_finalize(st);
    return out;
}

int anc_store_valid_key(const char *key) {
    if (!key) return 0;
    size_t n = 0;
    for (; key[n]; n++) {
        char c = key[n];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return 0;
    }
    return n == ANC_STORE_KEY_HEX - 1;
}

static const char *req_status_name(anc_req_status st) {
    return st == ANC_REQ_PENDING ? "pending" : st == ANC_REQ_DONE ? "done" : st == ANC_REQ_FAILED ? "failed" : "";
}

/* -------------------------------------------------------- open / close */

static anc_status read_version(anc_store *s, int *version, anc_error *err) {
    sqlite3_stmt *q = NULL;
    anc_status st = anc_store_prepare(s, "PRAGMA user_version", &q, "cannot read schema version", err);
    if (st != ANC_OK) return st;
    if (sqlite3_step(q) == SQLITE_ROW) *version = sqlite3_column_int(q, 0);
    sqlite3_finalize(q);
    return ANC_OK;
}

anc_status anc_store_open(anc_store **out, const char *path, anc_error *err) {
    if (!out || !path || !*path) return anc_error_set(err, ANC_ERR_INVALID, "run store: no path given");
    *out = NULL;
    anc_store *s = calloc(1, sizeof *s);
    if (!s) return anc_error_set(err, ANC_ERR_NOMEM, "run store %s: out of memory", path);
    size_t plen = strlen(path);
    s->path = malloc(plen + 1);
    if (!s->path) {
        free(s);
        return anc_error_set(err, ANC_ERR_NOMEM, "run store %s: out of memory", path);
    }
    memcpy(s->path, path, plen + 1);
    pthread_mutex_init(&s->mu, NULL);
    anc_status st = ANC_OK;
    int rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                             NULL);
    if (rc != SQLITE_OK) {
        if (s->db) st = anc_store_db_error(s, err, "cannot open");
        else st = anc_error_set(err, ANC_ERR_NOMEM, "run store %s: cannot open: out of memory", path);
        goto fail;
    }
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
    /* journal_mode reports the mode it ended in; WAL may be refused (e.g. on
     * some network file systems) and the rollback journal is then kept, which
     * is just as durable with synchronous=FULL. */
    if ((st = anc_store_exec_sql(s, "PRAGMA journal_mode=WAL", "cannot set WAL mode (is it a SQLite file?)", err)) != ANC_OK)
        goto fail;
    if ((st = anc_store_exec_sql(s, "PRAGMA synchronous=FULL", "cannot set synchronous=FULL", err)) != ANC_OK) goto fail;

    int version = 0;
    if ((st = read_version(s, &version, err)) != ANC_OK) goto fail;
    if (version < SCHEMA_VERSION) {
        /* Re-read inside the write transaction: another process may have
         * migrated the file between the first read and the lock. */
        if ((st = anc_store_exec_sql(s, "BEGIN IMMEDIATE", "cannot start schema transaction", err)) != ANC_OK) goto fail;
        if ((st = read_version(s, &version, err)) == ANC_OK && version < 1)
            st = anc_store_exec_sql(s, SCHEMA, "cannot create tables", err);
        if (st == ANC_OK && version < 2) st = anc_store_exec_sql(s, SCHEMA_V2, "cannot add leases and provenance", err);
        if (st == ANC_OK && version < SCHEMA_VERSION)
            st = anc_store_exec_sql(s, "PRAGMA user_version=2", "cannot set schema version", err);
        if (st == ANC_OK) st = anc_store_exec_sql(s, "COMMIT", "cannot commit schema", err);
        if (st != ANC_OK) {
            sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
            goto fail;
        }
    }
    if (version > SCHEMA_VERSION) {
        st = anc_error_set(err, ANC_ERR_UNSUPPORTED,
                           "run store %s: schema version %d was written by a newer anchor (this one reads %d)", path,
                           version, SCHEMA_VERSION);
        goto fail;
    }
    if (!(s->owner = anc_store_owner_make(s))) {
        st = anc_error_set(err, ANC_ERR_NOMEM, "run store %s: out of memory", path);
        goto fail;
    }
    *out = s;
    return ANC_OK;
fail:
    anc_store_close(s);
    return st;
}

void anc_store_close(anc_store *s) {
    if (!s) return;
    if (s->db) {
        if (s->depth > 0) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        sqlite3_close_v2(s->db);
    }
    pthread_mutex_destroy(&s->mu);
    free(s->path);
    free(s->owner);
    free(s);
}

const char *anc_store_path(const anc_store *s) { return s ? s->path : NULL; }

/* ---------------------------------------------------------------- keys */

static void hash_field(anc_sha256 *h, const char *v, size_t n) {
    /* "<decimal length>:" before each field, so no two field lists share an
     * encoding. */
    char prefix[32];
    int k = snprintf(prefix, sizeof prefix, "%zu:", n);
    anc_sha256_update(h, prefix, (size_t)k);
    anc_sha256_update(h, v, n);
}

anc_status anc_store_request_key(const char *backend_id, const char *salt, const json_t *request,
                                 char key[ANC_STORE_KEY_HEX], anc_error *err) {
    if (!backend_id || !request || !key)
        return anc_error_set(err, ANC_ERR_INVALID, "request key: backend id and request JSON are required");
    char *canon = json_dumps(request, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    if (!canon) return anc_error_set(err, ANC_ERR_NOMEM, "request key: cannot serialise the request JSON");
    anc_sha256 h;
    anc_sha256_init(&h);
    static const char tag[] = "anchor-request-v1";
    hash_field(&h, tag, sizeof tag - 1);
    hash_field(&h, backend_id, strlen(backend_id));
    hash_field(&h, salt ? salt : "", salt ? strlen(salt) : 0);
    hash_field(&h, canon, strlen(canon));
    free(canon);
    anc_sha256_final_hex(&h, key);
    return ANC_OK;
}

/* ------------------------------------------------------------ requests */

anc_status anc_store_get_reply(anc_store *s, const char *key, char **reply_text, json_t **reply_json,
                               int *found, anc_error *err) {
    if (reply_text) *reply_text = NULL;
    if (reply_json) *reply_json = NULL;
    if (found) *found = 0;
    if (!s || !found || !anc_store_valid_key(key))
        return anc_error_set(err, ANC_ERR_INVALID, "run store: get reply: bad arguments (key must be 64 hex digits)");
    LOCK(s);
    sqlite3_stmt *st = NULL;
    anc_status out = anc_store_prepare(s, "SELECT reply_text, reply_json FROM requests WHERE key = ?1 AND status = 'done'",
                             &st, "get reply", err);
    if (out != ANC_OK) goto done;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        int oom = 0;
        char *text = anc_store_column_dup(st, 0, &oom);
        if (oom) {
            out = anc_error_set(err, ANC_ERR_NOMEM, "run store %s: get reply %s: out of memory", s->path, key);
        } else {
            json_t *j = NULL;
            if (reply_json) out = anc_store_column_json(s, st, 1, &j, "get reply", err);
            if (out == ANC_OK) {
                *found = 1;
                if (reply_text) *reply_text = text ? text : calloc(1, 1);
                else free(text);
                if (reply_json) *reply_json = j;
                if (reply_text && !*reply_text) {
                    json_decref(j);
                    if (reply_json) *reply_json = NULL;
                    *found = 0;
                    out = anc_error_set(err, ANC_ERR_NOMEM, "run store %s: out of memory", s->path);
                }
            } else {
                free(text);
            }
        }
    } else if (rc != SQLITE_DONE) {
        out = anc_store_db_error(s, err, "get reply");
    }
    sqlite3_finalize(st);
done:
    UNLOCK(s);
    return out;
}

anc_status anc_store_request_status(anc_store *s, const char *key, anc_req_status *status, unsigned *attempts,
                                    char **error, anc_error *err) {
    if (error) *error = NULL;
    if (attempts) *attempts = 0;
    if (!s || !status || !anc_store_valid_key(key))
        return anc_error_set(err, ANC_ERR_INVALID, "run store: request status: bad arguments");
    *status = ANC_REQ_NONE;
    LOCK(s);
    sqlite3_stmt *st = NULL;
    anc_status out =
        anc_store_prepare(s, "SELECT status, attempts, error FROM requests WHERE key = ?1", &st, "request status", err);
    if (out != ANC_OK) goto done;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const char *t = (const char *)sqlite3_column_text(st, 0);
        *status = !t ? ANC_REQ_NONE
                  : strcmp(t, "done") == 0    ? ANC_REQ_DONE
                  : strcmp(t, "failed") == 0  ? ANC_REQ_FAILED
                                              : ANC_REQ_PENDING;
        sqlite3_int64 a = sqlite3_column_int64(st, 1);
        if (attempts) *attempts = a < 0 ? 0 : a > UINT32_MAX ? UINT32_MAX : (unsigned)a;
        int oom = 0;
        if (error) *error = anc_store_column_dup(st, 2, &oom);
        if (oom) out = anc_error_set(err, ANC_ERR_NOMEM, "run store %s: out of memory", s->path);
    } else if (rc != SQLITE_DONE) {
        out = anc_store_db_error(s, err, "request status");
    }
    sqlite3_finalize(st);
done:
    UNLOCK(s);
    return out;
}

/* The common upsert of the three request writers. */
static anc_status put_request(anc_store *s, const char *key, const json_t *request, anc_req_status status,
                              const char *reply_text, const json_t *reply_json, const char *error, unsigned attempts,
                              anc_error *err) {
    static const char *SQL =
        "INSERT INTO requests (key, request_json, status, reply_text, reply_json, error, attempts, created_at,"
        " updated_at, lease_owner) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, " NOW_SQL ", " NOW_SQL ","
        " CASE WHEN ?3 = 'pending' THEN NULL ELSE ?8 END)"
        " ON CONFLICT (key) DO UPDATE SET"
        "  request_json = CASE WHEN requests.status = 'done' AND excluded.status <> 'done'"
        "                 THEN requests.request_json ELSE excluded.request_json END,"
        "  reply_text = CASE WHEN excluded.status = 'done' THEN excluded.reply_text ELSE requests.reply_text END,"
        "  reply_json = CASE WHEN excluded.status = 'done' THEN excluded.reply_json ELSE requests.reply_json END,"
        "  error = CASE WHEN excluded.status = 'done' THEN NULL"
        "               WHEN requests.status = 'done' THEN requests.error"
        "               WHEN excluded.status = 'failed' THEN excluded.error ELSE requests.error END,"
        "  status = CASE WHEN requests.status = 'done' THEN 'done' ELSE excluded.status END,"
        "  attempts = requests.attempts + excluded.attempts,"
        "  lease_owner = CASE WHEN excluded.status = 'pending' THEN requests.lease_owner ELSE ?8 END,"
        "  lease_expires = CASE WHEN excluded.status = 'pending' THEN requests.lease_expires ELSE NULL END,"
        "  updated_at = excluded.updated_at";
    const char *what = status == ANC_REQ_DONE ? "put reply" : status == ANC_REQ_FAILED ? "put failure" : "put pending";
    if (!s || !anc_store_valid_key(key) || !request)
        return anc_error_set(err, ANC_ERR_INVALID, "run store: %s: bad arguments (key must be 64 hex digits, "
                                                   "request JSON required)", what);
    LOCK(s);
    sqlite3_stmt *st = NULL;
    anc_status out = anc_store_prepare(s, SQL, &st, what, err);
    if (out == ANC_OK) {
        int rc = SQLITE_OK;
        rc |= sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
        rc |= anc_store_bind_json(st, 2, request);
        rc |= anc_store_bind_text(st, 3, req_status_name(status));
        rc |= anc_store_bind_text(st, 4, reply_text);
        rc |= anc_store_bind_json(st, 5, reply_json);
        rc |= anc_store_bind_text(st, 6, error);
        rc |= sqlite3_bind_int64(st, 7, (sqlite3_int64)attempts);
        rc |= anc_store_bind_text(st, 8, s->owner);
        if (rc != SQLITE_OK) {
            sqlite3_finalize(st);
            out = anc_error_set(err, ANC_ERR_NOMEM, "run store %s: %s %s: cannot bind values (out of memory?)",
                                s->path, what, key);
        } else {
            out = anc_store_step_done(s, st, what, err);
        }
    }
    UNLOCK(s);
    return out;
}

anc_status anc_store_put_pending(anc_store *s, const char *key, const json_t *request, anc_error *err) {
    return put_request(s, key, request, ANC_REQ_PENDING, NULL, NULL, NULL, 0, err);
}

anc_status anc_store_put_reply(anc_store *s, const char *key, const json_t *request, const char *reply_text,
                               const json_t *reply_json, unsigned attempts, anc_error *err) {
    if (!reply_text) return anc_error_set(err, ANC_ERR_INVALID, "run store: put reply: reply text is required");
    return put_request(s, key, request, ANC_REQ_DONE, reply_text, reply_json, NULL, attempts, err);
}

anc_status anc_store_put_failure(anc_store *s, const char *key, const json_t *request, const char *error,
                                 unsigned attempts, anc_error *err) {
    return put_request(s, key, request, ANC_REQ_FAILED, NULL, NULL, error ? error : "unknown error", attempts, err);
}

/* Runs "SELECT status, COUNT(*) ... GROUP BY status" and spreads the counts. */
static anc_status count_by_status(anc_store *s, const char *sql, const char *step, size_t *pending, size_t *done,
                                  size_t *failed, const char *what, anc_error *err) {
    if (pending) *pending = 0;
    if (done) *done = 0;
    if (failed) *failed = 0;
    LOCK(s);
    sqlite3_stmt *st = NULL;
    anc_status out = anc_store_prepare(s, sql, &st, what, err);
    if (out == ANC_OK) {
        if (step) sqlite3_bind_text(st, 1, step, -1, SQLITE_TRANSIENT);
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            const char *t = (const char *)sqlite3_column_text(st, 0);
            sqlite3_int64 c = sqlite3_column_int64(st, 1);
            size_t n = c < 0 ? 0 : (size_t)c;
            if (!t) continue;
            if (strcmp(t, "pending") == 0 && pending) *pending = n;
            else if (strcmp(t, "done") == 0 && done) *done = n;
            else if (strcmp(t, "failed") == 0 && failed) *failed = n;
        }
        if (rc != SQLITE_DONE) out = anc_store_db_error(s, err, what);
        sqlite3_finalize(st);
    }
    UNLOCK(s);
    return out;
}

anc_status anc_store_count_requests(anc_store *s, size_t *pending, size_t *done, size_t *failed, anc_error *err) {
    if (!s) return anc_error_set(err, ANC_ERR_INVALID, "run store: count requests: no store");
    return count_by_status(s, "SELECT status, COUNT(*) FROM requests GROUP BY status", NULL, pending, done, failed,
                           "count requests", err);
}

/* --------------------------------------------------------------- items */

anc_status anc_store_item_get(anc_store *s, const char *step, const char *item_id, anc_item_status *status,
                              json_t **record, char **error, anc_error *err) {
    if (record) *record = NULL;
    if (error) *error = NULL;
    if (!s || !step || !item_id || !status)
        return anc_error_set(err, ANC_ERR_INVALID, "run store: item get: bad arguments");
    *status = ANC_ITEM_NONE;
    LOCK(s);
    sqlite3_stmt *st = NULL;
    anc_status out = anc_store_prepare(s, "SELECT status, record_json, error FROM items WHERE step = ?1 AND item_id = ?2",
                             &st, "item get", err);
    if (out != ANC_OK) goto done;
    sqlite3_bind_text(st, 1, step, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, item_id, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const char *t = (const char *)sqlite3_column_text(st, 0);
        anc_item_status is = t && strcmp(t, "done") == 0 ? ANC_ITEM_DONE : ANC_ITEM_FAILED;
        json_t *j = NULL;
        if (record) out = anc_store_column_json(s, st, 1, &j, "item get", err);
        int oom = 0;
        char *e = NULL;
        if (out == ANC_OK && error) {
            e = anc_store_column_dup(st, 2, &oom);
            if (oom) out = anc_error_set(err, ANC_ERR_NOMEM, "run store %s: out of memory", s->path);
        }
        if (out == ANC_OK) {
            *status = is;
            if (record) *record = j;
            if (error) *error = e;
        } else {
            json_decref(j);
            free(e);
            if (out == ANC_ERR_FORMAT) anc_error_prefix(err, "step %s item %s", step, item_id);
        }
    } else if (rc != SQLITE_DONE) {
        out = anc_store_db_error(s, err, "item get");
    }
    sqlite3_finalize(st);
done:
    UNLOCK(s);
    return out;
}

anc_status anc_store_item_put(anc_store *s, const char *step, const char *item_id, anc_item_status status,
                              const json_t *record, const char *error, anc_error *err) {
    if (!s || !step || !item_id || (status != ANC_ITEM_DONE && status != ANC_ITEM_FAILED))
        return anc_error_set(err, ANC_ERR_INVALID, "run store: item put: bad arguments (status must be done or failed)");
    static const char *SQL =
        "INSERT INTO items (step, item_id, status, record_json, error, updated_at)"
        " VALUES (?1, ?2, ?3, ?4, ?5, " NOW_SQL ")"
        " ON CONFLICT (step, item_id) DO UPDATE SET status = excluded.status, record_json = excluded.record_json,"
        " error = excluded.error, updated_at = excluded.updated_at";
    LOCK(s);
    sqlite3_stmt *st = NULL;
    anc_status out = anc_store_prepare(s, SQL, &st, "item put", err);
    if (out == ANC_OK) {
        int rc = SQLITE_OK;
        rc |= anc_store_bind_text(st, 1, step);
        rc |= anc_store_bind_text(st, 2, item_id);
        rc |= anc_store_bind_text(st, 3, status == ANC_ITEM_DONE ? "done" : "failed");
        rc |= anc_store_bind_json(st, 4, record);
        rc |= anc_store_bind_text(st, 5, error);
        if (rc != SQLITE_OK) {
            sqlite3_finalize(st);
            out = anc_error_set(err, ANC_ERR_NOMEM, "run store %s: item put %s/%s: cannot bind values", s->path, step,
                                item_id);
        } else {
            out = anc_store_step_done(s, st, "item put", err);
        }
    }
    UNLOCK(s);
    return out;
}

anc_status anc_store_item_count(anc_store *s, const char *step, size_t *done, size_t *failed, anc_error *err) {
    if (!s || !step) return anc_error_set(err, ANC_ERR_INVALID, "run store: item count: bad arguments");
    return count_by_status(s, "SELECT status, COUNT(*) FROM items WHERE step = ?1 GROUP BY status", step, NULL, done,
                           failed, "item count", err);
}

anc_status anc_store_item_clear(anc_store *s, const char *step, int failed_only, anc_error *err) {
    if (!s || !step) return anc_error_set(err, ANC_ERR_INVALID, "run store: item clear: bad arguments");
    LOCK(s);
    sqlite3_stmt *st = NULL;
    anc_status out = anc_store_prepare(s,
                             failed_only ? "DELETE FROM items WHERE step = ?1 AND status = 'failed'"
                                         : "DELETE FROM items WHERE step = ?1",
                             &st, "item clear", err);
    if (out == ANC_OK) {
        sqlite3_bind_text(st, 1, step, -1, SQLITE_TRANSIENT);
        out = anc_store_step_done(s, st, "item clear", err);
    }
    UNLOCK(s);
    return out;
}

anc_status anc_store_item_foreach(anc_store *s, const char *step, anc_item_status only, anc_store_item_fn fn,
                                  void *ctx, anc_error *err) {
    if (!s || !step || !fn) return anc_error_set(err, ANC_ERR_INVALID, "run store: item foreach: bad arguments");
    LOCK(s);
    sqlite3_stmt *st = NULL;
    anc_status out = anc_store_prepare(s,
                             "SELECT item_id, status, record_json, error FROM items WHERE step = ?1"
                             " AND (?2 IS NULL OR status = ?2) ORDER BY rowid",
                             &st, "item foreach", err);
    if (out == ANC_OK) {
        sqlite3_bind_text(st, 1, step, -1, SQLITE_TRANSIENT);
        anc_store_bind_text(st, 2, only == ANC_ITEM_DONE ? "done" : only == ANC_ITEM_FAILED ? "failed" : NULL);
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            const char *id = (const char *)sqlite3_column_text(st, 0);
            const char *t = (const char *)sqlite3_column_text(st, 1);
            json_t *j = NULL;
            out = anc_store_column_json(s, st, 2, &j, "item foreach", err);
            if (out != ANC_OK) {
                anc_error_prefix(err, "step %s item %s", step, id ? id : "?");
                break;
            }
            const char *e = (const char *)sqlite3_column_text(st, 3);
            int stop = fn(ctx, id ? id : "", t && strcmp(t, "done") == 0 ? ANC_ITEM_DONE : ANC_ITEM_FAILED, j, e);
            json_decref(j);
            if (stop) {
                rc = SQLITE_DONE;
                break;
            }
        }
        if (out == ANC_OK && rc != SQLITE_DONE) out = anc_store_db_error(s, err, "item foreach");
        sqlite3_finalize(st);
    }
    UNLOCK(s);
    return out;
}

/* --------------------------------------------------------------- steps */

anc_status anc_store_step_get(anc_store *s, const char *step, anc_store_step *out, int *found, anc_error *err) {
    if (out) memset(out, 0, sizeof *out);
    if (found) *found = 0;
    if (!s || !step || !out || !found) return anc_error_set(err, ANC_ERR_INVALID, "run store: step get: bad arguments");
    LOCK(s);
    sqlite3_stmt *st = NULL;
    anc_status res =
        anc_store_prepare(s, "SELECT input_hash, config_hash, finished FROM steps WHERE step = ?1", &st, "step get", err);
    if (res == ANC_OK) {
        sqlite3_bind_text(st, 1, step, -1, SQLITE_TRANSIENT);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            int oom = 0;
            out->input_hash = anc_store_column_dup(st, 0, &oom);
            out->config_hash = anc_store_column_dup(st, 1, &oom);
            out->finished = sqlite3_column_int(st, 2) != 0;
            if (oom) {
                anc_store_step_clear(out);
                res = anc_error_set(err, ANC_ERR_NOMEM, "run store %s: out of memory", s->path);
            } else {
                *found = 1;
            }
        } else if (rc != SQLITE_DONE) {
            res = anc_store_db_error(s, err, "step get");
        }
        sqlite3_finalize(st);
    }
    UNLOCK(s);
    return res;
}

anc_status anc_store_step_put(anc_store *s, const char *step, const char *input_hash, const char *config_hash,
                              int finished, anc_error *err) {
    if (!s || !step) return anc_error_set(err, ANC_ERR_INVALID, "run store: step put: bad arguments");
    LOCK(s);
    sqlite3_stmt *st = NULL;
    anc_status out = anc_store_prepare(s,
                             "INSERT INTO steps (step, input_hash, config_hash, finished, updated_at)"
                             " VALUES (?1, ?2, ?3, ?4, " NOW_SQL ") ON CONFLICT (step) DO UPDATE SET"
                             " input_hash = excluded.input_hash, config_hash = excluded.config_hash,"
                             " finished = excluded.finished, updated_at = excluded.updated_at",
                             &st, "step put", err);
    if (out == ANC_OK) {
        anc_store_bind_text(st, 1, step);
        anc_store_bind_text(st, 2, input_hash);
        anc_store_bind_text(st, 3, config_hash);
        sqlite3_bind_int(st, 4, finished ? 1 : 0);
        out = anc_store_step_done(s, st, "step put", err);
    }
    UNLOCK(s);
    return out;
}

void anc_store_step_clear(anc_store_step *m) {
    if (!m) return;
    free(m->input_hash);
    free(m->config_hash);
    memset(m, 0, sizeof *m);
}

/* -------------------------------------------------------- transactions */

anc_status anc_store_begin(anc_store *s, anc_error *err) {
    if (!s) return anc_error_set(err, ANC_ERR_INVALID, "run store: begin: no store");
    LOCK(s);
    /* IMMEDIATE takes the write lock at once, so a later write in the
     * transaction never meets SQLITE_BUSY_SNAPSHOT. */
    anc_status out = anc_store_exec_sql(s, s->depth == 0 ? "BEGIN IMMEDIATE" : "SAVEPOINT anc_nested", "begin transaction", err);
    if (out == ANC_OK) s->depth++;
    UNLOCK(s);
    return out;
}

anc_status anc_store_commit(anc_store *s, anc_error *err) {
    if (!s) return anc_error_set(err, ANC_ERR_INVALID, "run store: commit: no store");
    LOCK(s);
    anc_status out;
    if (s->depth == 0) {
        out = anc_error_set(err, ANC_ERR_INVALID, "run store %s: commit without begin", s->path);
    } else {
        out = anc_store_exec_sql(s, s->depth == 1 ? "COMMIT" : "RELEASE anc_nested", "commit", err);
        if (out == ANC_OK) s->depth--;
    }
    UNLOCK(s);
    return out;
}

void anc_store_rollback(anc_store *s) {
    if (!s) return;
    LOCK(s);
    if (s->depth == 1) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    else if (s->depth > 1) sqlite3_exec(s->db, "ROLLBACK TO anc_nested; RELEASE anc_nested", NULL, NULL, NULL);
    if (s->depth > 0) s->depth--;
    UNLOCK(s);
}

anc_status anc_store_check(anc_store *s, anc_error *err) {
    if (!s) return anc_error_set(err, ANC_ERR_INVALID, "run store: check: no store");
    LOCK(s);
    sqlite3_stmt *st = NULL;
    anc_status out = anc_store_prepare(s, "PRAGMA integrity_check", &st, "integrity check", err);
    if (out == ANC_OK) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            const char *t = (const char *)sqlite3_column_text(st, 0);
            if (!t || strcmp(t, "ok") != 0)
                out = anc_error_set(err, ANC_ERR_FORMAT, "run store %s: integrity check failed: %s", s->path,
                                    t ? t : "(no message)");
        } else {
            out = anc_store_db_error(s, err, "integrity check");
        }
        sqlite3_finalize(st);
    }
    UNLOCK(s);
    return out;
}
