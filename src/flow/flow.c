/* The hooks of a running flow (flow.h). */
#include "flow/flow.h"

#include <stdarg.h>
#include <stdio.h>

void anc_flow_note(const anc_flow_hooks *h, const char *fmt, ...) {
    if (!h || !h->note) return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    h->note(h->ctx, line);
}

void anc_flow_progress_report(const anc_flow_hooks *h, const anc_flow_progress *p) {
    if (h && h->progress) h->progress(h->ctx, p);
}
