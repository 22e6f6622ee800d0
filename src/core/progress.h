/* Progress reporting from long library calls: the library calls back, the
 * caller (CLI) draws. */
#ifndef ANCHOR_CORE_PROGRESS_H
#define ANCHOR_CORE_PROGRESS_H

#include <stddef.h>
#include <stdint.h>

/* anc_progress_fn: public (anchor/common.h). */
#include "anchor/common.h"

#endif
