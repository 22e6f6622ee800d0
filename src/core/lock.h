/* Exclusive locks on a folder's work: a run directory, a training output.
 * Two processes must not run the same non-shareable step at once (they
 * would write the same files); the second one is refused with a message
 * naming the holder. The lock is an flock(2) on a small file whose contents
 * say who holds it (pid, host, start time), so it ends with its holder's
 * process, kill -9 included, and never needs cleaning up. */
#ifndef ANCHOR_CORE_LOCK_H
#define ANCHOR_CORE_LOCK_H

#include "core/error.h"

typedef struct anc_lock anc_lock;

/* Takes the lock file at path (created when absent; its folder must exist)
 * without waiting. what names the thing locked in messages ("run directory
 * runs/x"). *out is set only on success. When another process holds it:
 * ANC_ERR_INVALID with "WHAT is in use by pid P on host H since T
 * (COMMAND)". Release with anc_lock_release. */
anc_status anc_lock_acquire(const char *path, const char *what, anc_lock **out, anc_error *err);

/* Releases and frees the lock (the file stays). NULL is a no-op. */
void anc_lock_release(anc_lock *l);

#endif
