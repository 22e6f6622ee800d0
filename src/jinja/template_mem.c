/* Chat-template engine: arena allocator, growable buffers, UTF-8 helpers and
 * locale-independent float formatting/parsing. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/text.h"
#include "jinja/template_internal.h"

struct tpl_chunk {
    tpl_chunk *next;
    size_t cap, used;
    max_align_t data[];
};

#define TPL_ALIGN 16
#define TPL_MIN_CHUNK ((size_t)16 << 10)
#define TPL_MAX_CHUNK ((size_t)1 << 20)

void anc_tpl_arena_init(tpl_arena *a, size_t limit) {
    memset(a, 0, sizeof *a);
    a->limit = limit;
}

void anc_tpl_arena_free(tpl_arena *a) {
    tpl_chunk *c = a->head;
    while (c) {
        tpl_chunk *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
    a->total = 0;
    a->last = NULL;
    a->last_size = 0;
}

static size_t round_up(size_t n) { return (n + (TPL_ALIGN - 1)) & ~(size_t)(TPL_ALIGN - 1); }

void *anc_tpl_alloc(tpl_arena *a, size_t n) {
    if (n == 0) n = 1;
    if (n > ((size_t)1 << 40)) return NULL;
    size_t need = round_up(n);
    tpl_chunk *c = a->head;
    if (!c || c->cap - c->used < need) {
        size_t size = c ? c->cap * 2 : TPL_MIN_CHUNK;
        if (size > TPL_MAX_CHUNK) size = TPL_MAX_CHUNK;
        if (size < need) size = need;
        size_t bytes = sizeof(tpl_chunk) + size;
        if (a->limit && (a->total + bytes > a->limit)) return NULL;
        tpl_chunk *nc = malloc(bytes);
        if (!nc) return NULL;
        nc->cap = size;
        nc->used = 0;
        /* A big one-off block goes behind the head so the head keeps its room. */
        if (c && size == need && c->cap - c->used >= TPL_ALIGN * 4) {
            nc->next = c->next;
            c->next = nc;
        } else {
            nc->next = c;
            a->head = nc;
        }
        a->total += bytes;
        c = nc;
    }
    void *p = (unsigned char *)c->data + c->used;
    c->used += need;
    a->last = p;
    a->last_size = need;
    return p;
}

void *anc_tpl_calloc(tpl_arena *a, size_t count, size_t size) {
    if (size && count > ((size_t)-1) / size) return NULL;
    void *p = anc_tpl_alloc(a, count * size);
    if (p) memset(p, 0, (count * size) != 0 ? count * size : 1);
    return p;
}

void *anc_tpl_grow(tpl_arena *a, void *p, size_t old_n, size_t new_n) {
    if (!p) return anc_tpl_alloc(a, new_n);
    if (new_n <= old_n) return p;
    tpl_chunk *c = a->head;
    if (c && p == a->last) {
        size_t start = (size_t)((unsigned char *)p - (unsigned char *)c->data);
        size_t need = round_up(new_n);
        if (start + a->last_size == c->used && need <= c->cap - start) {
            c->used = start + need;
            a->last_size = need;
            return p;
        }
    }
    void *q = anc_tpl_alloc(a, new_n);
    if (!q) return NULL;
    memcpy(q, p, old_n);
    return q;
}

/* ------------------------------------------------------------- buffers */

static int buf_reserve(tpl_buf *b, size_t extra) {
    if (extra > ((size_t)-1) / 2 - b->n) return -1;
    size_t want = b->n + extra + 1;
    if (b->max && b->n + extra > b->max) return -2;
    if (want <= b->cap) return 0;
    size_t nc = b->cap ? b->cap : 64;
    while (nc < want) nc *= 2;
    char *np;
    if (b->arena) {
        np = anc_tpl_grow(b->arena, b->p, b->cap, nc);
    } else {
        np = realloc(b->p, nc);
    }
    if (!np) return -1;
    b->p = np;
    b->cap = nc;
    return 0;
}

int anc_tpl_buf_put(tpl_buf *b, const char *s, size_t n) {
    int rc = buf_reserve(b, n);
    if (rc) return rc;
    if (n) memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
    return 0;
}

int anc_tpl_buf_putc(tpl_buf *b, char c) { return anc_tpl_buf_put(b, &c, 1); }

int anc_tpl_buf_printf(tpl_buf *b, const char *fmt, ...) {
    char small[128];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (k < 0) return -1;
    if ((size_t)k < sizeof small) return anc_tpl_buf_put(b, small, (size_t)k);
    int rc = buf_reserve(b, (size_t)k);
    if (rc) return rc;
    va_start(ap, fmt);
    vsnprintf(b->p + b->n, (size_t)k + 1, fmt, ap);
    va_end(ap);
    b->n += (size_t)k;
    return 0;
}

/* ------------------------------------------------------------- UTF-8 */

size_t anc_tpl_u8_next(const char *s, size_t n, size_t i, uint32_t *cp) {
    const unsigned char *u = (const unsigned char *)s;
    unsigned c = u[i];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t len;
    uint32_t v, min;
    if ((c & 0xE0) == 0xC0) {
        len = 2, v = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        len = 3, v = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
        len = 4, v = c & 0x07, min = 0x10000;
    } else {
        *cp = c;
        return 1;
    }
    if (i + len > n) {
        *cp = c;
        return 1;
    }
    for (size_t k = 1; k < len; k++) {
        if ((u[i + k] & 0xC0) != 0x80) {
            *cp = c;
            return 1;
        }
        v = (v << 6) | (u[i + k] & 0x3F);
    }
    if (v < min || v > 0x10FFFF) {
        *cp = c;
        return 1;
    }
    *cp = v;
    return len;
}

size_t anc_tpl_u8_put(uint32_t cp, char out[4]) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    if (cp > 0x10FFFF) cp = 0xFFFD;
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

size_t anc_tpl_u8_len(const char *s, size_t n) {
    size_t count = 0;
    for (size_t i = 0; i < n;) {
        if ((unsigned char)s[i] < 0x80) {
            i++;
        } else {
            uint32_t cp;
            i += anc_tpl_u8_next(s, n, i, &cp);
        }
        count++;
    }
    return count;
}

size_t anc_tpl_u8_offset(const char *s, size_t n, size_t idx) {
    size_t i = 0;
    while (idx > 0 && i < n) {
        uint32_t cp;
        i += anc_tpl_u8_next(s, n, i, &cp);
        idx--;
    }
    return i;
}

const char *anc_tpl_memfind(const char *hay, size_t n, const char *needle, size_t k) {
    if (k == 0) return hay;
    if (k > n) return NULL;
    const char *end = hay + (n - k);
    for (const char *p = hay; p <= end;) {
        const char *q = memchr(p, needle[0], (size_t)(end - p) + 1);
        if (!q) return NULL;
        if (memcmp(q, needle, k) == 0) return q;
        p = q + 1;
    }
    return NULL;
}

int anc_tpl_py_space(uint32_t c) { return anc_text_is_space(c); /* Python's str.isspace() */ }

/* 1 when the code point at s[i] is Python whitespace; *k gets its length. */
static int space_at(const char *s, size_t n, size_t i, size_t *k) {
    uint32_t cp;
    *k = anc_tpl_u8_next(s, n, i, &cp);
    if (*k == 1 && cp >= 0x80) return 0; /* an invalid byte */
    return anc_tpl_py_space(cp);
}

size_t anc_tpl_lspace(const char *s, size_t n) {
    size_t i = 0, k;
    while (i < n && space_at(s, n, i, &k)) i += k;
    return i;
}

size_t anc_tpl_rspace(const char *s, size_t n) {
    size_t end = n, k;
    while (end > 0) {
        size_t start = end - 1, lim = end >= 4 ? end - 4 : 0;
        while (start > lim && ((unsigned char)s[start] & 0xC0) == 0x80) start--;
        if (!space_at(s, n, start, &k) || start + k != end) break;
        end = start;
    }
    return n - end;
}

/* ------------------------------------------------------------- floats */

/* Shortest digit string that round-trips: digits (no point) and the
 * exponent of the first digit (x = 0.d1d2... * 10^(exp10 + 1)). */
static void shortest_digits(double x, char *digits, size_t cap, int *exp10) {
    char tmp[64];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec - 1, x);
        /* tmp: d[.ddd]e[+-]XX ; the decimal point depends on the locale. */
        size_t nd = 0;
        const char *p = tmp;
        while (*p && *p != 'e') {
            if (*p >= '0' && *p <= '9' && nd + 1 < cap) digits[nd++] = *p;
            p++;
        }
        digits[nd] = '\0';
        int e = (*p == 'e') ? atoi(p + 1) : 0;
        char back[80];
        snprintf(back, sizeof back, "%se%d", digits, e - (int)nd + 1);
        if (strtod(back, NULL) == x || prec == 17) {
            while (nd > 1 && digits[nd - 1] == '0') digits[--nd] = '\0';
            *exp10 = e;
            return;
        }
    }
}

void anc_tpl_fmt_float(double x, char *out, size_t cap) {
    if (isnan(x)) {
        snprintf(out, cap, "nan");
        return;
    }
    if (isinf(x)) {
        snprintf(out, cap, x < 0 ? "-inf" : "inf");
        return;
    }
    if (x == 0) {
        snprintf(out, cap, signbit(x) ? "-0.0" : "0.0");
        return;
    }
    char digits[32];
    int e = 0;
    const char *sign = x < 0 ? "-" : "";
    shortest_digits(fabs(x), digits, sizeof digits, &e);
    size_t nd = strlen(digits);
    char body[64];
    if (e >= -4 && e < 16) {
        if (e >= 0) {
            size_t ip = (size_t)e + 1;
            if (nd <= ip) {
                char zeros[24] = {0};
                memset(zeros, '0', ip - nd);
                snprintf(body, sizeof body, "%s%s.0", digits, zeros);
            } else {
                snprintf(body, sizeof body, "%.*s.%s", (int)ip, digits, digits + ip);
            }
        } else {
            char zeros[8] = {0};
            memset(zeros, '0', (size_t)(-e - 1));
            snprintf(body, sizeof body, "0.%s%s", zeros, digits);
        }
    } else {
        if (nd > 1) {
            snprintf(body, sizeof body, "%c.%se%c%02d", digits[0], digits + 1, e < 0 ? '-' : '+', e < 0 ? -e : e);
        } else {
            snprintf(body, sizeof body, "%ce%c%02d", digits[0], e < 0 ? '-' : '+', e < 0 ? -e : e);
        }
    }
    snprintf(out, cap, "%s%s", sign, body);
}

int anc_tpl_parse_float(const char *s, size_t n, double *out) {
    /* Rewrites [sign]digits[.digits][e[sign]digits] as an integer mantissa
     * with an exponent, which strtod reads the same in every locale. */
    char buf[400];
    size_t i = 0, k = 0;
    int frac_digits = 0, any = 0;
    if (i < n && (s[i] == '+' || s[i] == '-')) buf[k++] = s[i++];
    while (i < n && s[i] >= '0' && s[i] <= '9') {
        if (k + 8 >= sizeof buf) return -1;
        buf[k++] = s[i++];
        any = 1;
    }
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            if (k + 8 >= sizeof buf) return -1;
            buf[k++] = s[i++];
            frac_digits++;
            any = 1;
        }
    }
    if (!any) return -1;
    long e = 0;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        int neg = 0, got = 0;
        if (i < n && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            if (e < 100000) e = e * 10 + (s[i] - '0');
            i++;
            got = 1;
        }
        if (!got) return -1;
        if (neg) e = -e;
    }
    if (i != n) return -1;
    snprintf(buf + k, sizeof buf - k, "e%ld", e - frac_digits);
    *out = strtod(buf, NULL);
    return 0;
}
