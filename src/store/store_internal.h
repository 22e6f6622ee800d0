/* Internals shared by the run store's files (store.c: schema, requests,
 * items, steps; lease.c: leases on requests and step provenance). Not a
 * public header. */
#ifndef ANCHOR_STORE_STORE_INTERNAL_H
#define ANCHOR_STORE_STORE_INTERNAL_H

#include <pthread.h>
#include <sqlite3.h>

#include "store/store.h"

#define NOW_SQL "strftime('%Y-%m-%dT%H:%M:%fZ','now')"

struct anc_store {
    sqlite3 *db;
    char *path;
    char *owner;       /* "host:pid:start:handle": who holds this handle's leases */
    pthread_mutex_t mu;
    int depth;         /* explicit transaction nesting */
};

#define LOCK(s) pthread_mutex_lock(&(s)->mu)
#define UNLOCK(s) pthread_mutex_unlock(&(s)->mu)

/* Fills err from the connection's last error ("run store PATH: what: ..."). */
anc_status anc_store_db_error(anc_store *s, anc_error *err, const char *what);
/* Runs SQL without results. */
anc_status anc_store_exec_sql(anc_store *s, const char *sql, const char *what, anc_error *err);
anc_status anc_store_prepare(anc_store *s, const char *sql, sqlite3_stmt **st, const char *what, anc_error *err);
/* Binds text (NULL binds SQL NULL). */
int anc_store_bind_text(sqlite3_stmt *st, int i, const char *v);
/* Binds the compact serialisation of j (NULL binds SQL NULL). */
int anc_store_bind_json(sqlite3_stmt *st, int i, const json_t *j);
/* malloc'd copy of column i (NULL for SQL NULL, or out of memory: *oom set). */
char *anc_store_column_dup(sqlite3_stmt *st, int i, int *oom);
/* Parses column i as JSON into *out (NULL for SQL NULL). */
anc_status anc_store_column_json(anc_store *s, sqlite3_stmt *st, int i, json_t **out, const char *what, anc_error *err);
/* Runs a prepared write statement to completion and finalises it. */
anc_status anc_store_step_done(anc_store *s, sqlite3_stmt *st, const char *what, anc_error *err);
/* 1 when key is 64 lowercase hex digits. */
int anc_store_valid_key(const char *key);

/* The owner string of a new handle (malloc'd; NULL when out of memory). */
char *anc_store_owner_make(const anc_store *s);

/* Starts a write transaction for a call that already holds the lock: BEGIN
 * IMMEDIATE at depth 0, a savepoint inside the caller's explicit one. */
anc_status anc_store_tx_begin(anc_store *s, const char *what, anc_error *err);
/* Commits (ok) or rolls back what anc_store_tx_begin started. */
anc_status anc_store_tx_end(anc_store *s, int ok, const char *what, anc_error *err);

#endif
