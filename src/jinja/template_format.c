/* Chat-template engine: Python string formatting ("%s" % x, the format
 * filter, str.format) and strftime for strftime_now(). strftime is done here
 * rather than by the C library so that output does not depend on the
 * process locale: English names, glibc's flag extensions (%-d, %_H, ...),
 * and %z / %Z empty as for the naive datetime transformers formats. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "jinja/template_internal.h"

/* ------------------------------------------------------------- % format */

typedef struct spec {
    int left, plus, space, alt, zero;
    long width, prec; /* -1: absent */
    char type;
} spec;

static int pad_put(tpl_buf *b, const spec *sp, const char *s, size_t n, int zero_ok) {
    size_t cps = anc_tpl_u8_len(s, n);
    long fill = sp->width > (long)cps ? sp->width - (long)cps : 0;
    if (fill > 1000000) fill = 1000000;
    int rc = 0;
    if (!sp->left && sp->zero && zero_ok && n && (s[0] == '-' || s[0] == '+' || s[0] == ' ')) {
        rc = anc_tpl_buf_putc(b, s[0]);
        s++;
        n--;
    }
    if (!sp->left && sp->zero && zero_ok && n > 1 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X' || s[1] == 'o')) {
        rc = rc ? rc : anc_tpl_buf_put(b, s, 2);
        s += 2;
        n -= 2;
    }
    for (long i = 0; i < fill && !rc && !sp->left; i++) rc = anc_tpl_buf_putc(b, sp->zero && zero_ok ? '0' : ' ');
    if (!rc) rc = anc_tpl_buf_put(b, s, n);
    for (long i = 0; i < fill && !rc && sp->left; i++) rc = anc_tpl_buf_putc(b, ' ');
    return rc;
}

static int fmt_int(tpl_buf *b, const spec *sp, int64_t v) {
    char digits[80];
    int base = sp->type == 'x' || sp->type == 'X' ? 16 : sp->type == 'o' ? 8 : 10;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    size_t n = 0;
    const char *dig = sp->type == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
    do {
        digits[n++] = dig[u % (uint64_t)base];
        u /= (uint64_t)base;
    } while (u);
    char out[128];
    size_t k = 0;
    out[k++] = v < 0 ? '-' : sp->plus ? '+' : sp->space ? ' ' : 0;
    if (!out[0]) k = 0;
    if (sp->alt && base != 10) {
        out[k++] = '0';
        out[k++] = sp->type == 'o' ? 'o' : sp->type;
    }
    for (long p = (long)n; p < sp->prec && k < 100; p++) out[k++] = '0';
    while (n) out[k++] = digits[--n];
    return pad_put(b, sp, out, k, 1);
}

static int fmt_float(tpl_buf *b, const spec *sp, double v) {
    char cf[32], out[512];
    snprintf(cf, sizeof cf, "%%%s%s%s.%ld%c", sp->plus ? "+" : "", sp->space ? " " : "", sp->alt ? "#" : "",
             sp->prec < 0 ? 6 : (sp->prec > 300 ? 300 : sp->prec), sp->type);
    snprintf(out, sizeof out, cf, v);
    for (char *p = out; *p; p++)
        if (*p == ',') *p = '.'; /* locale decimal comma */
    return pad_put(b, sp, out, strlen(out), isfinite(v));
}

/* Formats one conversion of arg into b. */
static int convert(tpl_rs *r, const tpl_node *at, tpl_buf *b, spec *sp, tv arg) {
    tv s;
    switch (sp->type) {
    case 's':
    case 'r':
    case 'a':
        if (sp->type == 's') {
            if (anc_tv_to_str(r, at, arg, &s)) return -1;
        } else {
            tpl_buf t;
            anc_tpl_scratch(r, &t);
            if (anc_tv_repr_append(r, at, &t, arg, 0)) return -1;
            s = anc_tpl_scratch_done(&t);
        }
        if (sp->prec >= 0) s.u.s.n = anc_tpl_u8_offset(s.u.s.p, s.u.s.n, (size_t)sp->prec);
        return anc_tpl_buf_check(r, at, pad_put(b, sp, s.u.s.p, s.u.s.n, 0));
    case 'd':
    case 'i':
    case 'u':
    case 'x':
    case 'X':
    case 'o':
        if (sp->type == 'u') sp->type = 'd';
        if (arg.kind == TV_FLOAT && (sp->type == 'd' || sp->type == 'i') && isfinite(arg.u.f) && fabs(arg.u.f) < 9e18)
            arg = anc_tv_int((int64_t)arg.u.f);
        if (arg.kind != TV_INT && arg.kind != TV_BOOL)
            return anc_tpl_fail(r, at, ANC_ERR_INVALID, "TypeError: %%%c format: %s is required, not %s", sp->type,
                                sp->type == 'd' || sp->type == 'i' ? "a real number" : "an integer",
                                anc_tv_type_name(arg));
        return anc_tpl_buf_check(r, at, fmt_int(b, sp, arg.u.i));
    case 'e':
    case 'E':
    case 'f':
    case 'F':
    case 'g':
    case 'G':
        if (!anc_tv_is_num(arg))
            return anc_tpl_fail(r, at, ANC_ERR_INVALID, "TypeError: must be real number, not %s",
                                anc_tv_type_name(arg));
        return anc_tpl_buf_check(r, at, fmt_float(b, sp, anc_tv_num(arg)));
    case 'c': {
        char enc[4];
        if (arg.kind == TV_STR && anc_tpl_u8_len(arg.u.s.p, arg.u.s.n) == 1)
            return anc_tpl_buf_check(r, at, pad_put(b, sp, arg.u.s.p, arg.u.s.n, 0));
        if (arg.kind != TV_INT || arg.u.i < 0 || arg.u.i > 0x10FFFF)
            return anc_tpl_fail(r, at, ANC_ERR_INVALID,
                                "TypeError: %%c requires an int in range or a single character");
        return anc_tpl_buf_check(r, at, pad_put(b, sp, enc, anc_tpl_u8_put((uint32_t)arg.u.i, enc), 0));
    }
    default:
        return anc_tpl_fail(r, at, ANC_ERR_INVALID, "ValueError: unsupported format character '%c' (0x%x)", sp->type,
                            (unsigned)(unsigned char)sp->type);
    }
}

int anc_tpl_percent_format(tpl_rs *r, const tpl_node *at, tv fmt, tv args, tv *out) {
    tv one[1] = {args};
    const tv *pos = one;
    size_t npos = 1, next = 0;
    int mapping = args.kind == TV_DICT;
    if (args.kind == TV_LIST && args.tuple) {
        pos = args.u.l->items;
        npos = args.u.l->n;
    }
    tpl_buf b;
    anc_tpl_scratch(r, &b);
    const char *p = fmt.u.s.p, *end = p + fmt.u.s.n;
    int used_key = 0;
    while (p < end) {
        const char *pct = memchr(p, '%', (size_t)(end - p));
        if (!pct) pct = end;
        if (anc_tpl_buf_check(r, at, anc_tpl_buf_put(&b, p, (size_t)(pct - p)))) return -1;
        if (pct == end) break;
        p = pct + 1;
        if (p < end && *p == '%') {
            if (anc_tpl_buf_check(r, at, anc_tpl_buf_putc(&b, '%'))) return -1;
            p++;
            continue;
        }
        spec sp = {0, 0, 0, 0, 0, -1, -1, 0};
        tv arg = anc_tv_none();
        int have_arg = 0;
        if (p < end && *p == '(') {
            const char *k = ++p;
            int depth = 1;
            while (p < end && depth) {
                if (*p == '(') depth++;
                if (*p == ')') depth--;
                p++;
            }
            if (depth) return anc_tpl_fail(r, at, ANC_ERR_INVALID, "ValueError: incomplete format key");
            if (!mapping) return anc_tpl_fail(r, at, ANC_ERR_INVALID, "TypeError: format requires a mapping");
            long i = anc_tv_dict_find_str(args.u.d, k, (size_t)(p - 1 - k));
            if (i < 0) return anc_tpl_fail(r, at, ANC_ERR_INVALID, "KeyError: '%.*s'", (int)(p - 1 - k), k);
            arg = args.u.d->vals[i];
            have_arg = used_key = 1;
        }
        for (; p < end && strchr("-+ #0", *p); p++) {
            if (*p == '-') sp.left = 1;
            if (*p == '+') sp.plus = 1;
            if (*p == ' ') sp.space = 1;
            if (*p == '#') sp.alt = 1;
            if (*p == '0') sp.zero = 1;
        }
        for (int part = 0; part < 2; part++) {
            long *dst = part ? &sp.prec : &sp.width;
            if (part) {
                if (p >= end || *p != '.') break;
                p++;
                *dst = 0;
            }
            if (p < end && *p == '*') {
                p++;
                if (next >= npos || (pos[next].kind != TV_INT && pos[next].kind != TV_BOOL))
                    return anc_tpl_fail(r, at, ANC_ERR_INVALID, "TypeError: * wants int");
                *dst = (long)(pos[next].u.i > 100000 ? 100000 : pos[next].u.i);
                next++;
                if (!part && *dst < 0) {
                    sp.left = 1;
                    *dst = -*dst;
                }
                continue;
            }
            while (p < end && *p >= '0' && *p <= '9') {
                *dst = (*dst < 0 ? 0 : *dst) * 10 + (*p - '0');
                if (*dst > 100000) *dst = 100000;
                p++;
            }
        }
        while (p < end && (*p == 'h' || *p == 'l' || *p == 'L')) p++;
        if (p >= end) return anc_tpl_fail(r, at, ANC_ERR_INVALID, "ValueError: incomplete format");
        sp.type = *p++;
        if (!have_arg) {
            if (mapping && npos == 1 && !used_key && sp.type != '%') {
                arg = args; /* a dict used as the single argument */
            } else if (next < npos) {
                arg = pos[next];
            } else {
                return anc_tpl_fail(r, at, ANC_ERR_INVALID, "TypeError: not enough arguments for format string");
            }
            next++;
        }
        if (convert(r, at, &b, &sp, arg)) return -1;
    }
    if (!mapping && next < npos)
        return anc_tpl_fail(r, at, ANC_ERR_INVALID, "TypeError: not all arguments converted during string formatting");
    *out = anc_tpl_scratch_done(&b);
    return 0;
}

/* ------------------------------------------------------------- str.format */

int anc_tpl_str_format(tpl_rs *r, const tpl_node *at, tv fmt, tpl_args *a, tv *out) {
    tpl_buf b;
    anc_tpl_scratch(r, &b);
    const char *p = fmt.u.s.p, *end = p + fmt.u.s.n;
    size_t auto_idx = 0;
    while (p < end) {
        char c = *p;
        if ((c == '{' || c == '}') && p + 1 < end && p[1] == c) {
            if (anc_tpl_buf_check(r, at, anc_tpl_buf_putc(&b, c))) return -1;
            p += 2;
            continue;
        }
        if (c == '}')
            return anc_tpl_fail(r, at, ANC_ERR_INVALID, "ValueError: single '}' encountered in format string");
        if (c != '{') {
            if (anc_tpl_buf_check(r, at, anc_tpl_buf_putc(&b, c))) return -1;
            p++;
            continue;
        }
        const char *f = ++p;
        while (p < end && *p != '}' && *p != '!' && *p != ':' && *p != '.' && *p != '[') p++;
        tv v;
        size_t flen = (size_t)(p - f);
        if (flen == 0 || (f[0] >= '0' && f[0] <= '9')) {
            size_t idx = auto_idx++;
            if (flen) {
                idx = 0;
                for (size_t i = 0; i < flen; i++) idx = idx * 10 + (size_t)(f[i] - '0');
            }
            if (idx >= a->npos)
                return anc_tpl_fail(r, at, ANC_ERR_INVALID, "IndexError: Replacement index %zu out of range", idx);
            v = a->pos[idx];
        } else {
            size_t k;
            for (k = 0; k < a->nkw; k++)
                if (a->kw_names[k].u.s.n == flen && !memcmp(a->kw_names[k].u.s.p, f, flen)) break;
            if (k == a->nkw) return anc_tpl_fail(r, at, ANC_ERR_INVALID, "KeyError: '%.*s'", (int)flen, f);
            v = a->kw[k];
        }
        while (p < end && (*p == '.' || *p == '[')) {
            char open = *p++;
            const char *k = p;
            while (p < end && *p != (open == '.' ? '}' : ']') && !(open == '.' && strchr(".[!:", *p))) p++;
            size_t klen = (size_t)(p - k);
            if (open == '[') {
                if (p >= end)
                    return anc_tpl_fail(r, at, ANC_ERR_INVALID, "ValueError: expected '}' before end of string");
                p++;
                int digits = klen > 0;
                int64_t idx = 0;
                for (size_t i = 0; i < klen && digits; i++) {
                    digits = k[i] >= '0' && k[i] <= '9' && idx < INT64_MAX / 10 - 10;
                    idx = idx * 10 + (k[i] - '0');
                }
                if (anc_tpl_getitem(r, at, v, digits ? anc_tv_int(idx) : anc_tv_str(k, klen), &v)) return -1;
            } else if (anc_tpl_getattr(r, at, v, k, klen, &v)) {
                return -1;
            }
        }
        char conv = 0;
        if (p < end && *p == '!') {
            if (p + 1 >= end)
                return anc_tpl_fail(r, at, ANC_ERR_INVALID,
                                    "ValueError: end of string while looking for conversion specifier");
            conv = p[1];
            p += 2;
        }
        const char *spec_s = p;
        if (p < end && *p == ':') {
            spec_s = ++p;
            while (p < end && *p != '}') p++;
        }
        if (p >= end || *p != '}')
            return anc_tpl_fail(r, at, ANC_ERR_INVALID, "ValueError: expected '}' before end of string");
        if (p > spec_s)
            return anc_tpl_fail(r, at, ANC_ERR_UNSUPPORTED, "unsupported: format spec ':%.*s' in str.format",
                                (int)(p - spec_s), spec_s);
        p++;
        if (conv == 'r' || conv == 'a') {
            if (anc_tv_repr_append(r, at, &b, v, 0)) return -1;
        } else if (conv == 0 || conv == 's') {
            if (anc_tv_str_append(r, at, &b, v)) return -1;
        } else {
            return anc_tpl_fail(r, at, ANC_ERR_INVALID, "ValueError: Unknown conversion specifier %c", conv);
        }
    }
    *out = anc_tpl_scratch_done(&b);
    return 0;
}

/* ------------------------------------------------------------- strftime */

static const char *const WDAY[] = {"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"};
static const char *const MONTH[] = {"January", "February", "March",     "April",   "May",      "June",
                                    "July",    "August",   "September", "October", "November", "December"};

/* ISO 8601 week number and week-based year. */
static int iso_p(long y) { return (int)((y + y / 4 - y / 100 + y / 400) % 7); }
static int iso_weeks(long y) { return iso_p(y) == 4 || iso_p(y - 1) == 3 ? 53 : 52; }

static void iso_week(const struct tm *t, int *week, int *year) {
    int wday = (t->tm_wday + 6) % 7; /* Monday = 0 */
    long y = t->tm_year + 1900L;
    int w = (t->tm_yday - wday + 10) / 7;
    if (w < 1) {
        y--;
        w = iso_weeks(y);
    } else if (w > iso_weeks(y)) {
        y++;
        w = 1;
    }
    *week = w;
    *year = (int)y;
}

static int put_num(tpl_buf *b, long v, int width, char padc, char flag) {
    char tmp[32];
    if (flag == '-') width = 0;
    if (flag == '_') padc = ' ';
    if (flag == '0') padc = '0';
    int n = snprintf(tmp, sizeof tmp, "%ld", v);
    int rc = 0;
    for (int i = n; i < width && !rc; i++) rc = anc_tpl_buf_putc(b, padc);
    return rc ? rc : anc_tpl_buf_put(b, tmp, (size_t)n);
}

static int put_text(tpl_buf *b, const char *s, size_t n, char flag) {
    if (flag != '^') return anc_tpl_buf_put(b, s, n);
    for (size_t i = 0; i < n; i++)
        if (anc_tpl_buf_putc(b, (char)(s[i] >= 'a' && s[i] <= 'z' ? s[i] - 32 : s[i]))) return -1;
    return 0;
}

static int strftime_rec(tpl_buf *b, const char *p, size_t n, const struct tm *t, int64_t when, int depth) {
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        if (p[i] != '%' || i + 1 >= n) {
            rc = anc_tpl_buf_putc(b, p[i]);
            continue;
        }
        size_t start = i++;
        char flag = 0;
        while (i < n && strchr("-_0^#", p[i])) flag = p[i++];
        while (i < n && p[i] >= '0' && p[i] <= '9') i++; /* explicit widths: ignored */
        if (i < n && (p[i] == 'E' || p[i] == 'O')) i++;
        if (i >= n) {
            rc = anc_tpl_buf_put(b, p + start, n - start);
            break;
        }
        int hour12 = t->tm_hour % 12 == 0 ? 12 : t->tm_hour % 12, week, iso_year;
        const char *sub = NULL;
        switch (p[i]) {
        case 'a': rc = put_text(b, WDAY[t->tm_wday], 3, flag); break;
        case 'A': rc = put_text(b, WDAY[t->tm_wday], strlen(WDAY[t->tm_wday]), flag); break;
        case 'b':
        case 'h': rc = put_text(b, MONTH[t->tm_mon], 3, flag); break;
        case 'B': rc = put_text(b, MONTH[t->tm_mon], strlen(MONTH[t->tm_mon]), flag); break;
        case 'c': sub = "%a %b %e %H:%M:%S %Y"; break;
        case 'C': rc = put_num(b, (t->tm_year + 1900) / 100, 2, '0', flag); break;
        case 'd': rc = put_num(b, t->tm_mday, 2, '0', flag); break;
        case 'D':
        case 'x': sub = "%m/%d/%y"; break;
        case 'e': rc = put_num(b, t->tm_mday, 2, ' ', flag); break;
        case 'F': sub = "%Y-%m-%d"; break;
        case 'G':
        case 'g':
        case 'V':
            iso_week(t, &week, &iso_year);
            rc = p[i] == 'V'   ? put_num(b, week, 2, '0', flag)
                 : p[i] == 'G' ? put_num(b, iso_year, 1, '0', flag)
                               : put_num(b, iso_year % 100, 2, '0', flag);
            break;
        case 'H': rc = put_num(b, t->tm_hour, 2, '0', flag); break;
        case 'I': rc = put_num(b, hour12, 2, '0', flag); break;
        case 'j': rc = put_num(b, t->tm_yday + 1, 3, '0', flag); break;
        case 'k': rc = put_num(b, t->tm_hour, 2, ' ', flag); break;
        case 'l': rc = put_num(b, hour12, 2, ' ', flag); break;
        case 'm': rc = put_num(b, t->tm_mon + 1, 2, '0', flag); break;
        case 'M': rc = put_num(b, t->tm_min, 2, '0', flag); break;
        case 'n': rc = anc_tpl_buf_putc(b, '\n'); break;
        case 'p': rc = anc_tpl_buf_put(b, t->tm_hour < 12 ? "AM" : "PM", 2); break;
        case 'P': rc = anc_tpl_buf_put(b, t->tm_hour < 12 ? "am" : "pm", 2); break;
        case 'r': sub = "%I:%M:%S %p"; break;
        case 'R': sub = "%H:%M"; break;
        case 's': rc = anc_tpl_buf_printf(b, "%" PRId64, when); break;
        case 'S': rc = put_num(b, t->tm_sec, 2, '0', flag); break;
        case 't': rc = anc_tpl_buf_putc(b, '\t'); break;
        case 'T':
        case 'X': sub = "%H:%M:%S"; break;
        case 'u': rc = put_num(b, t->tm_wday == 0 ? 7 : t->tm_wday, 1, '0', flag); break;
        case 'U': rc = put_num(b, (t->tm_yday + 7 - t->tm_wday) / 7, 2, '0', flag); break;
        case 'w': rc = put_num(b, t->tm_wday, 1, '0', flag); break;
        case 'W': rc = put_num(b, (t->tm_yday + 7 - (t->tm_wday + 6) % 7) / 7, 2, '0', flag); break;
        case 'y': rc = put_num(b, (t->tm_year + 1900) % 100, 2, '0', flag); break;
        case 'Y': rc = put_num(b, t->tm_year + 1900, 1, '0', flag); break;
        case 'z':
        case 'Z': break; /* naive datetime: empty */
        case '%': rc = anc_tpl_buf_putc(b, '%'); break;
        default: rc = anc_tpl_buf_put(b, p + start, i + 1 - start); break;
        }
        if (sub && depth < 2) rc = strftime_rec(b, sub, strlen(sub), t, when, depth + 1);
    }
    return rc;
}

int anc_tpl_strftime(tpl_rs *r, const tpl_node *at, tv fmt, int64_t when, tv *out) {
    time_t tt = (time_t)when;
    struct tm t;
    if (!gmtime_r(&tt, &t)) return anc_tpl_fail(r, at, ANC_ERR_INVALID, "strftime_now: time out of range");
    tpl_buf b;
    anc_tpl_scratch(r, &b);
    if (anc_tpl_buf_check(r, at, strftime_rec(&b, fmt.u.s.p, fmt.u.s.n, &t, when, 0))) return -1;
    *out = anc_tpl_scratch_done(&b);
    return 0;
}
