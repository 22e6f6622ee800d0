/* Progress reporting from long library calls: the library calls back, the
 * caller (CLI) draws. */
#ifndef ANCHOR_CORE_PROGRESS_H
#define ANCHOR_CORE_PROGRESS_H

#include <stddef.h>
#include <stdint.h>

/* done of total units finished; tokens processed so far (0 if unknown). */
typedef void (*anc_progress_fn)(void *ctx, size_t done, size_t total, int64_t tokens);

#endif
