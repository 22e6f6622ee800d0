/* Chat-template engine: the lexer. Mirrors jinja2's lexer as configured by
 * transformers: newlines normalised to "\n", one trailing newline dropped
 * (keep_trailing_newline=False), trim_blocks (the newline after a block or
 * comment tag is removed), lstrip_blocks (spaces and tabs before a block or
 * comment tag at the start of a line are removed), "-" / "+" whitespace
 * control on tag delimiters, {% raw %} blocks, and brace balancing so that
 * "}}" inside a dict literal does not end a {{ }} tag. */
#include <stdlib.h>
#include <string.h>

#include "jinja/template_internal.h"

typedef struct lexer {
    anc_template *t;
    const char *s; /* normalised source (template arena) */
    size_t n;
    tpl_tok *toks;
    size_t nt, cap;
    /* incremental offset -> line/column */
    size_t lc_off, lc_line_start;
    uint32_t lc_line;
    char balance[TPL_MAX_PARSE_DEPTH];
    int nbal;
    anc_error *err;
} lexer;

static void pos_of(lexer *lx, size_t off, uint32_t *line, uint32_t *col) {
    if (off < lx->lc_off) { /* never expected; restart */
        lx->lc_off = 0;
        lx->lc_line = 1;
        lx->lc_line_start = 0;
    }
    while (lx->lc_off < off && lx->lc_off < lx->n) {
        if (lx->s[lx->lc_off] == '\n') {
            lx->lc_line++;
            lx->lc_line_start = lx->lc_off + 1;
        }
        lx->lc_off++;
    }
    *line = lx->lc_line;
    *col = (uint32_t)(off - lx->lc_line_start + 1);
}

static anc_status lex_error(lexer *lx, size_t off, const char *msg, const char *detail) {
    uint32_t line, col;
    pos_of(lx, off, &line, &col);
    return anc_error_set(lx->err, ANC_ERR_FORMAT, "%s:%u:%u: syntax error: %s%s", lx->t->label, line, col, msg,
                         detail ? detail : "");
}

static tpl_tok *push(lexer *lx, tpl_tok_kind kind, size_t off) {
    if (lx->nt == lx->cap) {
        size_t nc = lx->cap ? lx->cap * 2 : 256;
        tpl_tok *nt = realloc(lx->toks, nc * sizeof *nt);
        if (!nt) return NULL;
        lx->toks = nt;
        lx->cap = nc;
    }
    tpl_tok *tk = &lx->toks[lx->nt++];
    memset(tk, 0, sizeof *tk);
    tk->kind = kind;
    pos_of(lx, off, &tk->line, &tk->col);
    return tk;
}

static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }
static int is_digit(char c) { return c >= '0' && c <= '9'; }
static int is_name_start(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (unsigned char)c >= 0x80;
}
static int is_name_char(char c) { return is_name_start(c) || is_digit(c); }
static int starts(const lexer *lx, size_t i, const char *lit) {
    size_t k = strlen(lit);
    return i + k <= lx->n && memcmp(lx->s + i, lit, k) == 0;
}

/* Emits a DATA token for s[start, end) after whitespace control: sign '-'
 * strips all trailing whitespace; otherwise, for block/comment tags (lstrip),
 * spaces/tabs between the last line start and the tag go. */
static anc_status emit_data(lexer *lx, size_t start, size_t end, char sign, int lstrip, int line_starting) {
    if (sign == '-') {
        end = start + (end - start - anc_tpl_rspace(lx->s + start, end - start));
    } else if (sign != '+' && lstrip) {
        size_t l_pos = end;
        while (l_pos > start && lx->s[l_pos - 1] != '\n') l_pos--;
        if (l_pos > start || line_starting) {
            size_t k = l_pos;
            while (k < end && is_ws(lx->s[k])) k++;
            if (k == end) end = l_pos;
        }
    }
    if (end > start) {
        tpl_tok *tk = push(lx, TK_DATA, start);
        if (!tk) return anc_error_set(lx->err, ANC_ERR_NOMEM, "out of memory lexing %s", lx->t->label);
        tk->p = lx->s + start;
        tk->n = end - start;
    }
    return ANC_OK;
}

/* Matches a block end at i: "+%}", "-%}\s*" or "%}\n?" (trim_blocks).
 * Returns the offset after it, or 0 when there is none. */
static size_t block_end_at(const lexer *lx, size_t i, char close) {
    char two[3] = {'%', close, 0};
    if (lx->s[i] == '+' && starts(lx, i + 1, two)) return i + 3;
    if (lx->s[i] == '-' && starts(lx, i + 1, two)) {
        i += 3;
        while (i < lx->n && is_ws(lx->s[i])) i++;
        return i;
    }
    if (starts(lx, i, two)) {
        i += 2;
        if (i < lx->n && lx->s[i] == '\n') i++;
        return i;
    }
    return 0;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decodes a string literal body (Python unicode-escape rules). */
static anc_status decode_string(lexer *lx, size_t off, const char *p, size_t n, tpl_tok *tk) {
    if (!memchr(p, '\\', n)) {
        tk->p = p;
        tk->n = n;
        return ANC_OK;
    }
    char *o = anc_tpl_alloc(&lx->t->arena, n + 1);
    if (!o) return anc_error_set(lx->err, ANC_ERR_NOMEM, "out of memory lexing %s", lx->t->label);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] != '\\' || i + 1 >= n) {
            o[k++] = p[i];
            continue;
        }
        char e = p[++i];
        uint32_t cp = 0;
        int digits = 0;
        switch (e) {
        case '\n': continue;
        case '\\': o[k++] = '\\'; continue;
        case '\'': o[k++] = '\''; continue;
        case '"': o[k++] = '"'; continue;
        case 'a': o[k++] = '\a'; continue;
        case 'b': o[k++] = '\b'; continue;
        case 'f': o[k++] = '\f'; continue;
        case 'n': o[k++] = '\n'; continue;
        case 'r': o[k++] = '\r'; continue;
        case 't': o[k++] = '\t'; continue;
        case 'v': o[k++] = '\v'; continue;
        case 'x': digits = 2; break;
        case 'u': digits = 4; break;
        case 'U': digits = 8; break;
        case 'N': return lex_error(lx, off, "\\N{...} escapes are not supported", NULL);
        default:
            if (e >= '0' && e <= '7') {
                cp = (uint32_t)(e - '0');
                for (int d = 0; d < 2 && i + 1 < n && p[i + 1] >= '0' && p[i + 1] <= '7'; d++)
                    cp = cp * 8 + (uint32_t)(p[++i] - '0');
                break;
            }
            o[k++] = '\\';
            o[k++] = e;
            continue;
        }
        if (digits) {
            for (int d = 0; d < digits; d++) {
                int h = (i + 1 < n) ? hexval(p[i + 1]) : -1;
                if (h < 0) return lex_error(lx, off, "truncated \\x, \\u or \\U escape in a string", NULL);
                cp = cp * 16 + (uint32_t)h;
                i++;
            }
            if (cp > 0x10FFFF) return lex_error(lx, off, "illegal Unicode character in a string escape", NULL);
        }
        if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD;
        /* Never longer than the escape text: o has room. */
        char enc[4];
        size_t len = anc_tpl_u8_put(cp, enc);
        memcpy(o + k, enc, len);
        k += len;
    }
    o[k] = '\0';
    tk->p = o;
    tk->n = k;
    return ANC_OK;
}

static const struct {
    const char *s;
    tpl_op op;
} OPS[] = {
    {"//", OP_FLOORDIV}, {"**", OP_POW},      {"==", OP_EQ},    {"!=", OP_NE},    {">=", OP_GE},    {"<=", OP_LE},
    {"+", OP_ADD},       {"-", OP_SUB},       {"/", OP_DIV},    {"*", OP_MUL},    {"%", OP_MOD},    {"~", OP_TILDE},
    {"[", OP_LBRACKET},  {"]", OP_RBRACKET},  {"(", OP_LPAREN}, {")", OP_RPAREN}, {"{", OP_LBRACE}, {"}", OP_RBRACE},
    {">", OP_GT},        {"<", OP_LT},        {"=", OP_ASSIGN}, {".", OP_DOT},    {":", OP_COLON},  {"|", OP_PIPE},
    {",", OP_COMMA},     {";", OP_SEMICOLON},
};

/* Scans "(\d+_)*\d+" at i; returns the end or i when absent. */
static size_t scan_digits(const lexer *lx, size_t i) {
    size_t j = i;
    while (j < lx->n && is_digit(lx->s[j])) {
        j++;
        if (j + 1 < lx->n && lx->s[j] == '_' && is_digit(lx->s[j + 1])) j++;
    }
    return j;
}

/* Lexes a number at i; returns the offset after it. */
static size_t lex_number(lexer *lx, size_t i, tpl_tok *tk) {
    const char *s = lx->s;
    size_t j = scan_digits(lx, i);
    size_t end = j;
    int is_float = 0;
    if (i == 0 || s[i - 1] != '.') {
        size_t f = j;
        if (f + 1 < lx->n && s[f] == '.' && is_digit(s[f + 1])) {
            f = scan_digits(lx, f + 1);
            is_float = 1;
        }
        if (f < lx->n && (s[f] == 'e' || s[f] == 'E')) {
            size_t g = f + 1;
            if (g < lx->n && (s[g] == '+' || s[g] == '-')) g++;
            size_t h = scan_digits(lx, g);
            if (h > g) {
                f = h;
                is_float = 1;
            }
        }
        if (is_float) end = f;
    }
    char buf[96];
    size_t k = 0;
    for (size_t q = i; q < end && k + 1 < sizeof buf; q++)
        if (s[q] != '_') buf[k++] = s[q];
    buf[k] = '\0';
    tk->p = s + i;
    tk->n = end - i;
    if (is_float) {
        tk->kind = TK_FLOAT;
        if (k + 1 >= sizeof buf || anc_tpl_parse_float(buf, k, &tk->f) != 0) tk->i = -1; /* parser reports it */
        return end;
    }
    tk->kind = TK_INT;
    /* Python: 0x / 0o / 0b prefixes; a decimal literal may not start with 0 unless all zeros. */
    if (s[i] == '0' && i + 1 < lx->n && strchr("xXoObB", s[i + 1])) {
        int base = (s[i + 1] == 'x' || s[i + 1] == 'X') ? 16 : (s[i + 1] == 'o' || s[i + 1] == 'O') ? 8 : 2;
        size_t q = i + 2;
        uint64_t v = 0;
        int any = 0, over = 0;
        while (q < lx->n) {
            if (s[q] == '_' && any && q + 1 < lx->n && hexval(s[q + 1]) >= 0 && hexval(s[q + 1]) < base) {
                q++;
                continue;
            }
            int h = hexval(s[q]);
            if (h < 0 || h >= base) break;
            if (v > (UINT64_MAX >> 4)) over = 1;
            v = v * (uint64_t)base + (uint64_t)h;
            any = 1;
            q++;
        }
        if (any) {
            tk->i = (over || v > INT64_MAX) ? -1 : (int64_t)v;
            tk->n = q - i;
            return q;
        }
    }
    if (s[i] == '0') { /* "0(_?0)*" */
        size_t q = i + 1;
        while (q < lx->n && (s[q] == '0' || (s[q] == '_' && q + 1 < lx->n && s[q + 1] == '0'))) q++;
        tk->i = 0;
        tk->n = q - i;
        return q;
    }
    int64_t v = 0;
    for (size_t q = 0; q < k; q++) {
        int d = buf[q] - '0';
        if (v > (INT64_MAX - d) / 10) {
            v = -1; /* too large: reported by the parser */
            break;
        }
        v = v * 10 + d;
    }
    tk->i = v;
    return end;
}

/* Lexes the inside of a {{ }} or {% %} tag starting at i. */
static anc_status lex_tag(lexer *lx, size_t *pi, int is_block, int *line_starting) {
    size_t i = *pi;
    const char *s = lx->s;
    lx->nbal = 0;
    for (;;) {
        if (i >= lx->n)
            return lex_error(lx, i, "unexpected end of template, expected ",
                             is_block ? "'end of statement block'" : "'end of print statement'");
        if (lx->nbal == 0) {
            size_t e = 0;
            if (is_block) {
                e = block_end_at(lx, i, '}');
            } else if (s[i] == '-' && starts(lx, i + 1, "}}")) {
                e = i + 3;
                while (e < lx->n && is_ws(s[e])) e++;
            } else if (starts(lx, i, "}}")) {
                e = i + 2;
            }
            if (e) {
                if (!push(lx, is_block ? TK_BLOCK_END : TK_VAR_END, i)) goto oom;
                *line_starting = s[e - 1] == '\n';
                *pi = e;
                return ANC_OK;
            }
        }
        char c = s[i];
        if (is_ws(c)) {
            i++;
            continue;
        }
        tpl_tok *tk = push(lx, TK_OP, i);
        if (!tk) goto oom;
        if (is_digit(c)) {
            i = lex_number(lx, i, tk);
            continue;
        }
        if (is_name_start(c)) {
            size_t j = i;
            while (j < lx->n && is_name_char(s[j])) j++;
            tk->kind = TK_NAME;
            tk->p = s + i;
            tk->n = j - i;
            i = j;
            continue;
        }
        if (c == '\'' || c == '"') {
            size_t j = i + 1;
            while (j < lx->n && s[j] != c) j += (s[j] == '\\' && j + 1 < lx->n) ? 2 : 1;
            if (j >= lx->n) return lex_error(lx, i, "unterminated string literal", NULL);
            tk->kind = TK_STRING;
            anc_status st = decode_string(lx, i, s + i + 1, j - i - 1, tk);
            if (st) return st;
            i = j + 1;
            continue;
        }
        size_t k;
        for (k = 0; k < sizeof OPS / sizeof OPS[0]; k++)
            if (starts(lx, i, OPS[k].s)) break;
        if (k == sizeof OPS / sizeof OPS[0]) {
            char ch[8];
            snprintf(ch, sizeof ch, "'%c'", c);
            return lex_error(lx, i, "unexpected character ", ch);
        }
        tk->op = OPS[k].op;
        tk->p = s + i;
        tk->n = strlen(OPS[k].s);
        if (c == '{' || c == '(' || c == '[') {
            if (lx->nbal >= TPL_MAX_PARSE_DEPTH) return lex_error(lx, i, "brackets nested too deeply", NULL);
            lx->balance[lx->nbal++] = c == '{' ? '}' : c == '(' ? ')' : ']';
        } else if (c == '}' || c == ')' || c == ']') {
            char msg[64];
            if (lx->nbal == 0) {
                snprintf(msg, sizeof msg, "unexpected '%c'", c);
                return lex_error(lx, i, msg, NULL);
            }
            char want = lx->balance[--lx->nbal];
            if (want != c) {
                snprintf(msg, sizeof msg, "unexpected '%c', expected '%c'", c, want);
                return lex_error(lx, i, msg, NULL);
            }
        }
        i += tk->n;
    }
oom:
    return anc_error_set(lx->err, ANC_ERR_NOMEM, "out of memory lexing %s", lx->t->label);
}

/* Matches "{%[-+]?\s*NAME\s*(?:-%}\s*|%}...)" at i for raw/endraw; returns
 * the offset after the tag or 0; *sign gets the opening sign. */
static size_t raw_tag_at(const lexer *lx, size_t i, const char *name, int trim, char *sign) {
    if (!starts(lx, i, "{%")) return 0;
    size_t j = i + 2;
    *sign = 0;
    if (j < lx->n && (lx->s[j] == '-' || lx->s[j] == '+')) *sign = lx->s[j++];
    while (j < lx->n && is_ws(lx->s[j])) j++;
    if (!starts(lx, j, name)) return 0;
    j += strlen(name);
    while (j < lx->n && is_ws(lx->s[j])) j++;
    if (j >= lx->n) return 0;
    if (!trim) { /* "{% raw %}": no trim_blocks suffix, no "+%}" */
        if (lx->s[j] == '-' && starts(lx, j + 1, "%}")) {
            j += 3;
            while (j < lx->n && is_ws(lx->s[j])) j++;
            return j;
        }
        return starts(lx, j, "%}") ? j + 2 : 0;
    }
    return block_end_at(lx, j, '}');
}

anc_status anc_tpl_lex(anc_template *t, const char *src, size_t len, tpl_tok **toks, size_t *n_toks, anc_error *err) {
    lexer lx;
    memset(&lx, 0, sizeof lx);
    lx.t = t;
    lx.err = err;
    lx.lc_line = 1;
    *toks = NULL;
    *n_toks = 0;
    char *s = anc_tpl_alloc(&t->arena, len + 1);
    if (!s) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory lexing %s", t->label);
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (src[i] == '\r') {
            s[n++] = '\n';
            if (i + 1 < len && src[i + 1] == '\n') i++;
        } else {
            s[n++] = src[i];
        }
    }
    if (n > 0 && s[n - 1] == '\n') n--;
    s[n] = '\0';
    lx.s = s;
    lx.n = n;
    anc_status st = ANC_OK;
    size_t pos = 0;
    int line_starting = 1;
    while (pos < n) {
        size_t i = pos;
        const char *hit = NULL;
        while (i + 1 < n) {
            hit = memchr(s + i, '{', n - 1 - i);
            if (!hit) break;
            i = (size_t)(hit - s);
            char c = s[i + 1];
            if (c == '{' || c == '%' || c == '#') break;
            i++;
            hit = NULL;
        }
        if (!hit) {
            st = emit_data(&lx, pos, n, 0, 0, 0);
            break;
        }
        char kind = s[i + 1];
        char sign = (i + 2 < n && (s[i + 2] == '-' || s[i + 2] == '+')) ? s[i + 2] : 0;
        char rsign;
        size_t raw_end = kind == '%' ? raw_tag_at(&lx, i, "raw", 0, &rsign) : 0;
        st = emit_data(&lx, pos, i, sign, kind != '{', line_starting);
        if (st) break;
        if (raw_end) {
            size_t j = raw_end, close = 0;
            for (; j + 1 < n; j++) {
                if (s[j] == '{' && s[j + 1] == '%' && (close = raw_tag_at(&lx, j, "endraw", 1, &rsign))) break;
            }
            if (!close) {
                st = lex_error(&lx, i, "missing end of raw directive", NULL);
                break;
            }
            st = emit_data(&lx, raw_end, j, rsign, 1, s[raw_end - 1] == '\n');
            if (st) break;
            line_starting = s[close - 1] == '\n';
            pos = close;
            continue;
        }
        if (kind == '#') {
            size_t j = i + 2 + (sign ? 1 : 0), close = 0;
            for (; j < n && !close; j++) {
                if (s[j] == '+' && starts(&lx, j + 1, "#}")) {
                    close = j + 3;
                } else if (s[j] == '-' && starts(&lx, j + 1, "#}")) {
                    close = j + 3;
                    while (close < n && is_ws(s[close])) close++;
                } else if (starts(&lx, j, "#}")) {
                    close = j + 2;
                    if (close < n && s[close] == '\n') close++;
                }
            }
            if (!close) {
                st = lex_error(&lx, i, "missing end of comment tag", NULL);
                break;
            }
            line_starting = s[close - 1] == '\n';
            pos = close;
            continue;
        }
        if (!push(&lx, kind == '%' ? TK_BLOCK_BEGIN : TK_VAR_BEGIN, i)) {
            st = anc_error_set(err, ANC_ERR_NOMEM, "out of memory lexing %s", t->label);
            break;
        }
        pos = i + 2 + (sign ? 1 : 0);
        st = lex_tag(&lx, &pos, kind == '%', &line_starting);
        if (st) break;
    }
    if (st == ANC_OK) {
        tpl_tok *eof = push(&lx, TK_EOF, n);
        if (!eof) st = anc_error_set(err, ANC_ERR_NOMEM, "out of memory lexing %s", t->label);
    }
    if (st) {
        free(lx.toks);
        return st;
    }
    *toks = lx.toks;
    *n_toks = lx.nt;
    return ANC_OK;
}
