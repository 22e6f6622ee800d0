/* anc_version (anchor/version.h, generated from include/anchor/version.h.in). */
#include "anchor/version.h"

const char *anc_version(void) { return ANCHOR_VERSION_STRING; }
