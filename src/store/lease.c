/* Leases on requests and step provenance; the contracts are in store.h.
 *
 * Why leases and not one lock per store: two runs of the same step (or two
 * steps of a pipeline) on one store should split the work, not take turns.
 * A lease is claimed in the same write transaction that reads the row, so
 * two handles can never both see a request as free. Liveness of a holder on
 * this host is checked through /proc (pid plus process start time, so a
 * reused pid is not mistaken for the holder); a holder on another host is
 * trusted until its lease expires, which its renewals keep pushing out. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/store_internal.h"

static double wall_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Start time of pid in clock ticks since boot (field 22 of /proc/PID/stat),
 * or 0 when it cannot be read (no such process). */
static unsigned long long proc_start_time(long pid) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char buf[1024];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* The command name (field 2) may hold spaces and parentheses: fields
     * are counted after its last ')'. */
    char *p = strrchr(buf, ')');
    if (!p) return 0;
    p++;
    for (int field = 3; field < 22 && *p; field++) {
        while (*p == ' ') p++;
        while (*p && *p != ' ') p++;
    }
    return strtoull(p, NULL, 10);
}

static void host_name(char *buf, size_t cap) {
    if (gethostname(buf, cap) != 0) snprintf(buf, cap, "localhost");
    buf[cap - 1] = '\0';
    for (char *c = buf; *c; c++)
        if (*c == ':') *c = '_'; /* ':' separates the owner's fields */
}

char *anc_store_owner_make(const anc_store *s) {
    char host[256];
    host_name(host, sizeof host);
    long pid = (long)getpid();
    char *out = NULL;
    if (asprintf(&out, "%s:%ld:%llu:%" PRIxPTR, host, pid, proc_start_time(pid), (uintptr_t)s) < 0) return NULL;
    return out;
}

const char *anc_store_owner(const anc_store *s) { return s ? s->owner : NULL; }

int anc_store_owner_alive(const char *owner) {
    if (!owner) return 0;
    const char *c1 = strchr(owner, ':');
    if (!c1) return 1; /* not ours to judge: trust the expiry */
    char host[256];
    host_name(host, sizeof host);
    size_t hl = (size_t)(c1 - owner);
    if (hl != strlen(host) || memcmp(owner, host, hl) != 0) return 1;
    char *end = NULL;
    errno = 0;
    long pid = strtol(c1 + 1, &end, 10);
    if (errno || !end || *end != ':' || pid <= 0) return 1;
    unsigned long long start = strtoull(end + 1, NULL, 10);
    if (kill((pid_t)pid, 0) != 0 && errno == ESRCH) return 0;
    unsigned long long now_start = proc_start_time(pid);
    if (now_start == 0) return 0;
    return start == 0 || now_start == start;
}

anc_status anc_store_tx_begin(anc_store *s, const char *what, anc_error *err) {
    return anc_store_exec_sql(s, s->depth == 0 ? "BEGIN IMMEDIATE" : "SAVEPOINT anc_inner", what, err);
}

anc_status anc_store_tx_end(anc_store *s, int ok, const char *what, anc_error *err) {
    if (ok) return anc_store_exec_sql(s, s->depth == 0 ? "COMMIT" : "RELEASE anc_inner", what, err);
    sqlite3_exec(s->db, s->depth == 0 ? "ROLLBACK" : "ROLLBACK TO anc_inner; RELEASE anc_inner", NULL, NULL, NULL);
    return ANC_OK;
}

/* ------------------------------------------------------------- claims */

/* Decides from the current row whether the request may be taken. */
static anc_claim judge_row(const anc_store *s, sqlite3_stmt *q, int retry_failed, double now, char **holder) {
    const char *status = (const char *)sqlite3_column_text(q, 0);
    const char *owner = (const char *)sqlite3_column_text(q, 1);
    int has_expiry = sqlite3_column_type(q, 2) != SQLITE_NULL;
    double expires = sqlite3_column_double(q, 2);
    if (!status) return ANC_CLAIM_OK;
    if (!strcmp(status, "done")) return ANC_CLAIM_DONE;
    int other = owner && strcmp(owner, s->owner) != 0;
    if (!strcmp(status, "pending") && other && has_expiry && expires > now && anc_store_owner_alive(owner)) {
        if (holder) *holder = strdup(owner);
        return ANC_CLAIM_BUSY;
    }
    if (!strcmp(status, "failed") && !retry_failed && other) return ANC_CLAIM_FAILED;
    return ANC_CLAIM_OK;
}

anc_status anc_store_claim(anc_store *s, const char *key, const json_t *request, double ttl_s, int retry_failed,
                           anc_claim *outcome, char **holder, anc_error *err) {
    static const char *TAKE =
        "INSERT INTO requests (key, request_json, status, attempts, created_at, updated_at, lease_owner,"
        " lease_expires) VALUES (?1, ?2, 'pending', 0, " NOW_SQL ", " NOW_SQL ", ?3, ?4)"
        " ON CONFLICT (key) DO UPDATE SET status = 'pending', request_json = excluded.request_json,"
        " lease_owner = excluded.lease_owner, lease_expires = excluded.lease_expires,"
        " updated_at = excluded.updated_at";
    if (holder) *holder = NULL;
    if (!s || !anc_store_valid_key(key) || !request || !outcome || !(ttl_s > 0))
        return anc_error_set(err, ANC_ERR_INVALID, "run store: claim: bad arguments");
    LOCK(s);
    anc_status st = anc_store_tx_begin(s, "claim: begin", err);
    if (st != ANC_OK) {
        UNLOCK(s);
        return st;
    }
    double now = wall_now();
    anc_claim c = ANC_CLAIM_OK;
    sqlite3_stmt *q = NULL;
    st = anc_store_prepare(s, "SELECT status, lease_owner, lease_expires FROM requests WHERE key = ?1", &q, "claim", err);
    if (st == ANC_OK) {
        sqlite3_bind_text(q, 1, key, -1, SQLITE_TRANSIENT);
        int rc = sqlite3_step(q);
        if (rc == SQLITE_ROW) c = judge_row(s, q, retry_failed, now, holder);
        else if (rc != SQLITE_DONE) st = anc_store_db_error(s, err, "claim");
        sqlite3_finalize(q);
    }
    if (st == ANC_OK && c == ANC_CLAIM_OK) {
        st = anc_store_prepare(s, TAKE, &q, "claim", err);
        if (st == ANC_OK) {
            int rc = sqlite3_bind_text(q, 1, key, -1, SQLITE_TRANSIENT);
            rc |= anc_store_bind_json(q, 2, request);
            rc |= anc_store_bind_text(q, 3, s->owner);
            rc |= sqlite3_bind_double(q, 4, now + ttl_s);
            if (rc != SQLITE_OK) {
                sqlite3_finalize(q);
                st = anc_error_set(err, ANC_ERR_NOMEM, "run store %s: claim %s: cannot bind values", s->path, key);
            } else {
                st = anc_store_step_done(s, q, "claim", err);
            }
        }
    }
    anc_status end = anc_store_tx_end(s, st == ANC_OK, "claim: commit", err);
    if (st == ANC_OK) st = end;
    UNLOCK(s);
    if (st == ANC_OK) *outcome = c;
    else if (holder) {
        free(*holder);
        *holder = NULL;
    }
    return st;
}

anc_status anc_store_renew_leases(anc_store *s, double ttl_s, size_t *renewed, anc_error *err) {
    if (renewed) *renewed = 0;
    if (!s || !(ttl_s > 0)) return anc_error_set(err, ANC_ERR_INVALID, "run store: renew leases: bad arguments");
    LOCK(s);
    sqlite3_stmt *q = NULL;
    anc_status st = anc_store_prepare(
        s, "UPDATE requests SET lease_expires = ?1 WHERE lease_owner = ?2 AND status = 'pending'", &q,
        "renew leases", err);
    if (st == ANC_OK) {
        sqlite3_bind_double(q, 1, wall_now() + ttl_s);
        anc_store_bind_text(q, 2, s->owner);
        st = anc_store_step_done(s, q, "renew leases", err);
        if (st == ANC_OK && renewed) *renewed = (size_t)sqlite3_changes(s->db);
    }
    UNLOCK(s);
    return st;
}

/* ---------------------------------------------------------- provenance */

/* Appends "key: OLD -> NEW" for every key whose values differ. */
static void describe_diff(const json_t *old, const json_t *now, char *out, size_t cap) {
    size_t len = 0;
    out[0] = '\0';
    const json_t *sides[2] = {old, now};
    for (int side = 0; side < 2; side++) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)sides[side], k, v) {
            if (side == 1 && json_object_get(old, k)) continue; /* listed already */
            json_t *a = json_object_get(old, k), *b = json_object_get(now, k);
            if (a && b && json_equal(a, b)) continue;
            char *as = a ? json_dumps(a, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
            char *bs = b ? json_dumps(b, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
            int k2 = snprintf(out + len, cap - len, "%s%s %s -> %s", len ? "; " : "", k, as ? as : "(unset)",
                              bs ? bs : "(unset)");
            free(as);
            free(bs);
            if (k2 < 0 || (size_t)k2 >= cap - len) return; /* cut: the message is full */
            len += (size_t)k2;
        }
    }
}

static anc_status count_items(anc_store *s, const char *step, long long *n, anc_error *err) {
    sqlite3_stmt *q = NULL;
    anc_status st = anc_store_prepare(s, "SELECT COUNT(*) FROM items WHERE step = ?1", &q, "provenance", err);
    if (st != ANC_OK) return st;
    sqlite3_bind_text(q, 1, step, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(q) == SQLITE_ROW) *n = sqlite3_column_int64(q, 0);
    else st = anc_store_db_error(s, err, "provenance: count items");
    sqlite3_finalize(q);
    return st;
}

static anc_status read_provenance(anc_store *s, const char *step, json_t **out, anc_error *err) {
    *out = NULL;
    sqlite3_stmt *q = NULL;
    anc_status st = anc_store_prepare(s, "SELECT provenance_json FROM steps WHERE step = ?1", &q, "provenance", err);
    if (st != ANC_OK) return st;
    sqlite3_bind_text(q, 1, step, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) st = anc_store_column_json(s, q, 0, out, "provenance", err);
    else if (rc != SQLITE_DONE) st = anc_store_db_error(s, err, "provenance");
    sqlite3_finalize(q);
    return st;
}

static anc_status write_provenance(anc_store *s, const char *step, const json_t *prov, int fresh, anc_error *err) {
    sqlite3_stmt *q = NULL;
    anc_status st = ANC_OK;
    if (fresh) {
        st = anc_store_prepare(s, "DELETE FROM items WHERE step = ?1", &q, "provenance: fresh", err);
        if (st != ANC_OK) return st;
        sqlite3_bind_text(q, 1, step, -1, SQLITE_TRANSIENT);
        if ((st = anc_store_step_done(s, q, "provenance: fresh", err)) != ANC_OK) return st;
    }
    st = anc_store_prepare(s,
                       "INSERT INTO steps (step, finished, updated_at, provenance_json) VALUES (?1, 0, " NOW_SQL
                       ", ?2) ON CONFLICT (step) DO UPDATE SET provenance_json = excluded.provenance_json,"
                       " updated_at = excluded.updated_at",
                       &q, "provenance", err);
    if (st != ANC_OK) return st;
    int rc = anc_store_bind_text(q, 1, step);
    rc |= anc_store_bind_json(q, 2, prov);
    if (rc != SQLITE_OK) {
        sqlite3_finalize(q);
        return anc_error_set(err, ANC_ERR_NOMEM, "run store %s: provenance of %s: out of memory", s->path, step);
    }
    return anc_store_step_done(s, q, "provenance", err);
}

anc_status anc_store_step_provenance(anc_store *s, const char *step, const json_t *prov, int fresh, anc_error *err) {
    if (!s || !step || !json_is_object(prov))
        return anc_error_set(err, ANC_ERR_INVALID, "run store: provenance: bad arguments");
    LOCK(s);
    anc_status st = anc_store_tx_begin(s, "provenance: begin", err);
    if (st != ANC_OK) {
        UNLOCK(s);
        return st;
    }
    json_t *old = NULL;
    long long items = 0;
    if (!fresh) {
        st = read_provenance(s, step, &old, err);
        if (st == ANC_OK && old) st = count_items(s, step, &items, err);
    }
    if (st == ANC_OK && old && items > 0 && !json_equal(old, (json_t *)prov)) {
        char diff[700];
        describe_diff(old, prov, diff, sizeof diff);
        st = anc_error_set(err, ANC_ERR_INVALID, "run store %s: %lld items of %s were made with other settings: %s",
                           s->path, items, step, diff);
    } else if (st == ANC_OK && (fresh || !old || !json_equal(old, (json_t *)prov))) {
        st = write_provenance(s, step, prov, fresh, err);
    }
    json_decref(old);
    anc_status end = anc_store_tx_end(s, st == ANC_OK, "provenance: commit", err);
    if (st == ANC_OK) st = end;
    UNLOCK(s);
    return st;
}
