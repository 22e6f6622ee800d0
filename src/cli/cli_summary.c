/* cli_summary.h */
#include "cli/cli_summary.h"

#include <stdlib.h>
#include <string.h>

#include "core/fileutil.h"

anc_status cli_write_summary(const char *path, json_t *j, anc_error *err) {
    char *s = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(j);
    if (!s) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    size_t n = strlen(s);
    s[n] = '\0';
    char *t = realloc(s, n + 2);
    if (!t) {
        free(s);
        return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    }
    t[n] = '\n';
    t[n + 1] = '\0';
    anc_status st = anc_write_file_atomic(path, t, n + 1, err);
    free(t);
    return st;
}
