/* Writing a step's JSON summary (eval and ab --summary FILE): what --json
 * prints, to a file, so a pipeline's report can show it. */
#ifndef ANCHOR_CLI_SUMMARY_H
#define ANCHOR_CLI_SUMMARY_H

#include <jansson.h>

#include "core/error.h"

/* Writes j (stolen; NULL counts as out of memory) as indented JSON to path
 * atomically. Errors: ANC_ERR_NOMEM, the write's ANC_ERR_IO naming path. */
anc_status cli_write_summary(const char *path, json_t *j, anc_error *err);

#endif
