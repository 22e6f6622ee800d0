#include "demo/task.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/strbuf.h"
#include "core/text.h"

#define MAX_ITEMS 32 /* list items a canonical response may hold */

/* ---- task construction ---------------------------------------------------- */

static int selects(anc_demo_cond c, int k, int v) {
    switch (c) {
    case ANC_DEMO_ODD: return v % 2 != 0;
    case ANC_DEMO_EVEN: return v % 2 == 0;
    case ANC_DEMO_ABOVE: return v > k;
    case ANC_DEMO_BELOW: return v < k;
    }
    return 0;
}

static void put_ints(char *buf, size_t cap, size_t *pos, const int *v, int n, const char *sep) {
    for (int i = 0; i < n; i++) {
        int w = snprintf(buf + *pos, cap - *pos, "%s%d", i ? sep : "", v[i]);
        if (w > 0) *pos += (size_t)w < cap - *pos ? (size_t)w : cap - *pos - 1;
    }
}

/* Fills sel, sum, label, prompt and answer from n, nums, cond, k, descending. */
static void finish_task(anc_demo_task *t) {
    t->n_sel = 0;
    t->sum = 0;
    for (int i = 0; i < t->n; i++)
        if (selects(t->cond, t->k, t->nums[i])) t->sel[t->n_sel++] = t->nums[i];
    for (int i = 1; i < t->n_sel; i++) /* insertion sort */
        for (int j = i; j > 0; j--) {
            int a = t->sel[j - 1], b = t->sel[j];
            if (t->descending ? a >= b : a <= b) break;
            t->sel[j - 1] = b;
            t->sel[j] = a;
        }
    for (int i = 0; i < t->n_sel; i++) t->sum += t->sel[i];
    static const char *const names[] = {"Odd", "Even", "Above", "Below"};
    if (t->cond == ANC_DEMO_ODD || t->cond == ANC_DEMO_EVEN)
        snprintf(t->label, sizeof t->label, "%s", names[t->cond]);
    else
        snprintf(t->label, sizeof t->label, "%s %d", names[t->cond], t->k);

    size_t pos = 0;
    int w = snprintf(t->prompt, sizeof t->prompt, "Numbers: ");
    pos = (size_t)w;
    put_ints(t->prompt, sizeof t->prompt, &pos, t->nums, t->n, " ");
    const char *order = t->descending ? "decreasing" : "increasing";
    switch (t->cond) {
    case ANC_DEMO_ODD:
    case ANC_DEMO_EVEN:
        snprintf(t->prompt + pos, sizeof t->prompt - pos, ". %s numbers in %s order, then their sum.", t->label, order);
        break;
    default:
        snprintf(t->prompt + pos, sizeof t->prompt - pos, ". Numbers %s %d in %s order, then their sum.",
                 t->cond == ANC_DEMO_ABOVE ? "above" : "below", t->k, order);
    }
    w = snprintf(t->answer, sizeof t->answer, "%s: ", t->label);
    pos = (size_t)w;
    put_ints(t->answer, sizeof t->answer, &pos, t->sel, t->n_sel, " ");
    snprintf(t->answer + pos, sizeof t->answer - pos, ". Sum: %d.", t->sum);
}

void anc_demo_task_make(anc_rng *r, anc_demo_task *out) {
    static const anc_demo_spec standard = {4, 8, 99, 4};
    anc_demo_task_make_spec(r, &standard, out);
}

void anc_demo_task_make_spec(anc_rng *r, const anc_demo_spec *spec, anc_demo_task *out) {
    anc_demo_spec s = *spec;
    if (s.max_n > ANC_DEMO_MAX_NUMS) s.max_n = ANC_DEMO_MAX_NUMS;
    if (s.min_n < 3) s.min_n = 3;
    if (s.max_n < s.min_n) s.max_n = s.min_n;
    if (s.max_value < 2 * s.max_n + 2) s.max_value = 2 * s.max_n + 2;  /* room for distinct odd/even picks */
    if (s.n_conds < 1 || s.n_conds > 4) s.n_conds = 4;
    anc_demo_task t;
    memset(&t, 0, sizeof t);
    t.n = s.min_n + (int)anc_rng_below(r, (uint64_t)(s.max_n - s.min_n + 1));
    t.cond = (anc_demo_cond)anc_rng_below(r, (uint64_t)s.n_conds);
    t.descending = (int)anc_rng_below(r, 2);
    int lo = s.max_value / 5 + 1, hi = 4 * s.max_value / 5;
    t.k = t.cond >= ANC_DEMO_ABOVE ? lo + (int)anc_rng_below(r, (uint64_t)(hi - lo + 1)) : 0;
    for (;;) { /* rejection: terminates with probability 1, quickly */
        int n_sel = 0;
        for (int i = 0; i < t.n; i++) {
            int v, dup;
            do {
                v = 1 + (int)anc_rng_below(r, (uint64_t)s.max_value);
                dup = (t.cond >= ANC_DEMO_ABOVE && v == t.k);
                for (int j = 0; j < i; j++) dup |= t.nums[j] == v;
            } while (dup);
            t.nums[i] = v;
            n_sel += selects(t.cond, t.k, v);
        }
        if (n_sel >= 2 && n_sel <= t.n - 1) break;
    }
    finish_task(&t);
    *out = t;
}

/* ---- a tiny cursor parser ---------------------------------------------------- */

static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
static int is_digit(char c) { return c >= '0' && c <= '9'; }

static const char *skip_ws(const char *p) {
    while (is_ws(*p)) p++;
    return p;
}

/* Matches lit at *p, a ' ' in lit matching one or more whitespace bytes.
 * Advances *p and returns 1 on a match; leaves *p alone otherwise. */
static int match_lit(const char **p, const char *lit) {
    const char *q = *p;
    for (; *lit; lit++) {
        if (*lit == ' ') {
            if (!is_ws(*q)) return 0;
            q = skip_ws(q);
        } else if (*q++ != *lit) {
            return 0;
        }
    }
    *p = q;
    return 1;
}

/* A decimal integer without leading zeros and at most 6 digits. */
static int match_int(const char **p, int *v) {
    const char *q = *p;
    int x = 0, d = 0;
    while (is_digit(*q) && d < 7) x = x * 10 + (*q++ - '0'), d++;
    if (d == 0 || d > 6 || is_digit(*q) || (d > 1 && **p == '0')) return 0;
    *v = x;
    *p = q;
    return 1;
}

anc_status anc_demo_task_parse(const char *text, anc_demo_task *out, anc_error *err) {
    anc_demo_task t;
    memset(&t, 0, sizeof t);
    memset(out, 0, sizeof *out);
    const char *p = text ? strstr(text, "Numbers:") : NULL;
    if (!p) return anc_error_set(err, ANC_ERR_FORMAT, "demo task: no \"Numbers:\" in the prompt");
    p += 8;
    p = skip_ws(p);
    while (t.n < ANC_DEMO_MAX_NUMS) {
        int v;
        if (!match_int(&p, &v) || v > 999)
            return anc_error_set(err, ANC_ERR_FORMAT, "demo task: expected a number 0..999 after \"Numbers:\"");
        t.nums[t.n++] = v;
        if (*p == '.') break;
        if (!match_lit(&p, " "))
            return anc_error_set(err, ANC_ERR_FORMAT, "demo task: numbers must be separated by spaces and end with \".\"");
    }
    if (!match_lit(&p, ". "))
        return anc_error_set(err, ANC_ERR_FORMAT, "demo task: at most %d numbers, followed by \". \"", ANC_DEMO_MAX_NUMS);
    if (match_lit(&p, "Odd numbers")) {
        t.cond = ANC_DEMO_ODD;
    } else if (match_lit(&p, "Even numbers")) {
        t.cond = ANC_DEMO_EVEN;
    } else if (match_lit(&p, "Numbers above ")) {
        t.cond = ANC_DEMO_ABOVE;
    } else if (match_lit(&p, "Numbers below ")) {
        t.cond = ANC_DEMO_BELOW;
    } else {
        return anc_error_set(err, ANC_ERR_FORMAT,
                             "demo task: expected \"Odd numbers\", \"Even numbers\", \"Numbers above K\" or "
                             "\"Numbers below K\"");
    }
    if (t.cond >= ANC_DEMO_ABOVE && (!match_int(&p, &t.k) || t.k > 999))
        return anc_error_set(err, ANC_ERR_FORMAT, "demo task: expected a bound 0..999 after above/below");
    if (match_lit(&p, " in increasing order, then their sum.")) {
        t.descending = 0;
    } else if (match_lit(&p, " in decreasing order, then their sum.")) {
        t.descending = 1;
    } else {
        return anc_error_set(err, ANC_ERR_FORMAT,
                             "demo task: expected \" in increasing|decreasing order, then their sum.\"");
    }
    finish_task(&t);
    if (t.n_sel == 0) return anc_error_set(err, ANC_ERR_INVALID, "demo task: the condition selects no number");
    *out = t;
    return ANC_OK;
}

/* ---- reading responses ------------------------------------------------------- */

/* A response in the canonical shape, as spans into its text. */
typedef struct canon {
    const char *label_b, *label_e;   /* label text before ':' */
    const char *colon;               /* the ':' after the label */
    int n_items;
    int item[MAX_ITEMS];
    const char *item_b[MAX_ITEMS], *item_e[MAX_ITEMS];
    const char *sum_b, *sum_e;       /* the sum's digits */
    int sum;
    const char *end;                 /* just past the final '.' */
} canon;

/* Parses s (starting at its first non-whitespace byte) in the canonical shape. */
static int parse_canon(const char *s, canon *c) {
    memset(c, 0, sizeof *c);
    const char *p = skip_ws(s);
    c->label_b = p;
    while (*p && *p != ':' && *p != '.' && *p != '\n') p++;
    if (*p != ':' || p == c->label_b) return 0;
    c->label_e = p;
    while (c->label_e > c->label_b && is_ws(c->label_e[-1])) c->label_e--;
    if (c->label_e != p) return 0; /* no whitespace before ':' */
    c->colon = p++;
    if (!match_lit(&p, " ")) return 0;
    for (;;) {
        if (c->n_items == MAX_ITEMS) return 0;
        c->item_b[c->n_items] = p;
        if (!match_int(&p, &c->item[c->n_items])) return 0;
        c->item_e[c->n_items++] = p;
        if (*p == '.') break;
        if (!match_lit(&p, " ")) return 0;
    }
    if (!match_lit(&p, ". Sum: ")) return 0;
    c->sum_b = p;
    if (!match_int(&p, &c->sum)) return 0;
    c->sum_e = p;
    if (*p != '.') return 0;
    c->end = p + 1;
    return 1;
}

/* 1 when span [b, e) equals lit with whitespace runs standing for one space. */
static int span_is(const char *b, const char *e, const char *lit) {
    const char *p = b;
    while (*lit) {
        if (p >= e) return 0;
        if (*lit == ' ') {
            if (!is_ws(*p)) return 0;
            while (p < e && is_ws(*p)) p++;
            lit++;
        } else if (*p++ != *lit++) {
            return 0;
        }
    }
    return p == e;
}

static int list_is(const anc_demo_task *t, const int *v, int n) {
    if (n != t->n_sel) return 0;
    for (int i = 0; i < n; i++)
        if (v[i] != t->sel[i]) return 0;
    return 1;
}

void anc_demo_grade(const anc_demo_task *t, const char *response, anc_demo_grade_result *g) {
    memset(g, 0, sizeof *g);
    const char *s = response ? response : "";
    canon c;
    if (parse_canon(s, &c)) {
        g->parse_ok = g->canonical = 1;
        g->label_correct = span_is(c.label_b, c.label_e, t->label);
        g->list_correct = g->label_correct && list_is(t, c.item, c.n_items);
        g->sum_correct = c.sum == t->sum;
        g->habit = g->list_correct && t->n_sel >= 3 && c.sum == t->sum - t->sel[t->n_sel - 1];
        g->correct = g->list_correct && g->sum_correct && *skip_ws(c.end) == '\0';
    } else {
        int v[MAX_ITEMS + 1], n = 0;
        for (const char *p = s; *p;) {
            if (!is_digit(*p)) {
                p++;
                continue;
            }
            long x = 0;
            int d = 0;
            while (is_digit(*p)) {
                if (d < 7) x = x * 10 + (*p - '0');
                d++, p++;
            }
            if (n == MAX_ITEMS + 1 || d > 6) { /* too many or too long: not an answer */
                n = 0;
                break;
            }
            v[n++] = (int)x;
        }
        if (n >= 2) {
            g->parse_ok = 1;
            g->list_correct = list_is(t, v, n - 1);
            g->sum_correct = v[n - 1] == t->sum;
            g->habit = g->list_correct && t->n_sel >= 3 && v[n - 1] == t->sum - t->sel[t->n_sel - 1];
        }
    }
    g->score = 0.5 * g->list_correct + 0.5 * g->sum_correct;
}

/* ---- the teacher ----------------------------------------------------------- */

static anc_status take(anc_sbuf *b, char **out, anc_error *err) {
    *out = anc_sbuf_take(b);
    anc_sbuf_free(b);
    if (!*out) return anc_error_set(err, ANC_ERR_NOMEM, "demo task: out of memory");
    return ANC_OK;
}

/* Appends the right list, reusing the draft's items (and the whitespace
 * between neighbours kept together) along a longest common subsequence. */
static void revise_list(anc_sbuf *b, const anc_demo_task *t, const canon *c) {
    int L[MAX_ITEMS + 1][ANC_DEMO_MAX_NUMS + 1];
    int n = c->n_items, m = t->n_sel;
    for (int i = n; i >= 0; i--)
        for (int j = m; j >= 0; j--) {
            if (i == n || j == m)
                L[i][j] = 0;
            else if (c->item[i] == t->sel[j])
                L[i][j] = 1 + L[i + 1][j + 1];
            else
                L[i][j] = L[i + 1][j] > L[i][j + 1] ? L[i + 1][j] : L[i][j + 1];
        }
    int i = 0, j = 0, prev = -2; /* draft index of the item emitted last (-1: an inserted one) */
    while (j < m) {
        if (i < n && c->item[i] == t->sel[j] && L[i][j] == 1 + L[i + 1][j + 1]) {
            if (j > 0) {
                if (prev == i - 1 && i > 0)
                    anc_sbuf_append(b, c->item_e[i - 1], (size_t)(c->item_b[i] - c->item_e[i - 1]));
                else
                    anc_sbuf_putc(b, ' ');
            }
            anc_sbuf_append(b, c->item_b[i], (size_t)(c->item_e[i] - c->item_b[i]));
            prev = i++;
            j++;
        } else if (i < n && L[i + 1][j] >= L[i][j + 1]) {
            i++; /* draft item dropped */
        } else {
            anc_sbuf_printf(b, "%s%d", j > 0 ? " " : "", t->sel[j]);
            prev = -1;
            j++;
        }
    }
}

anc_status anc_demo_revise(const anc_demo_task *t, const char *draft, char **revision, anc_error *err) {
    *revision = NULL;
    anc_sbuf b = {0};
    canon c;
    if (!draft || !parse_canon(draft, &c)) {
        anc_sbuf_puts(&b, t->answer);
        return take(&b, revision, err);
    }
    if (span_is(c.label_b, c.label_e, t->label))
        anc_sbuf_append(&b, c.label_b, (size_t)(c.label_e - c.label_b));
    else
        anc_sbuf_puts(&b, t->label);
    anc_sbuf_append(&b, c.colon, (size_t)(c.item_b[0] - c.colon)); /* ':' and its whitespace */
    if (list_is(t, c.item, c.n_items))
        anc_sbuf_append(&b, c.item_b[0], (size_t)(c.item_e[c.n_items - 1] - c.item_b[0]));
    else
        revise_list(&b, t, &c);
    anc_sbuf_append(&b, c.item_e[c.n_items - 1], (size_t)(c.sum_b - c.item_e[c.n_items - 1])); /* ". Sum: " */
    if (c.sum == t->sum)
        anc_sbuf_append(&b, c.sum_b, (size_t)(c.sum_e - c.sum_b));
    else
        anc_sbuf_printf(&b, "%d", t->sum);
    anc_sbuf_putc(&b, '.');
    return take(&b, revision, err);
}

static void put_list(anc_sbuf *b, const anc_demo_task *t, int with_and) {
    for (int i = 0; i < t->n_sel; i++) {
        const char *sep = i == 0 ? "" : (with_and && i == t->n_sel - 1) ? " and " : ", ";
        anc_sbuf_printf(b, "%s%d", sep, t->sel[i]);
    }
}

anc_status anc_demo_stronger_answer(const anc_demo_task *t, anc_rng *r, char **answer, anc_error *err) {
    static const char *const desc[] = {"odd numbers", "even numbers", "numbers over the limit",
                                       "numbers under the limit"};
    const char *d = desc[t->cond], *order = t->descending ? "decreasing" : "increasing";
    anc_sbuf b = {0};
    switch (anc_rng_below(r, 4)) {
    case 0:
        anc_sbuf_printf(&b, "The %s are ", d);
        put_list(&b, t, 1);
        anc_sbuf_printf(&b, "; together %d.", t->sum);
        break;
    case 1:
        anc_sbuf_printf(&b, "Taking the %s in %s order gives ", d, order);
        put_list(&b, t, 0);
        anc_sbuf_printf(&b, ", and they add up to %d.", t->sum);
        break;
    case 2:
        anc_sbuf_printf(&b, "In %s order the %s are ", order, d);
        put_list(&b, t, 0);
        anc_sbuf_printf(&b, ". Their total is %d.", t->sum);
        break;
    default:
        anc_sbuf_puts(&b, "I find ");
        put_list(&b, t, 1);
        anc_sbuf_printf(&b, ", which sum to %d.", t->sum);
        break;
    }
    return take(&b, answer, err);
}

static int small_offset(anc_rng *r, int sum) {
    static const int d[] = {1, 2, 3, 10};
    int x = d[anc_rng_below(r, 4)];
    return anc_rng_below(r, 2) && sum - x >= 0 ? sum - x : sum + x;
}

anc_status anc_demo_demonstration(const anc_demo_task *t, anc_rng *r, double mistake_rate, double habit_rate,
                                  char **answer, anc_error *err) {
    int v[ANC_DEMO_MAX_NUMS + 1], n = t->n_sel, sum = t->sum;
    memcpy(v, t->sel, sizeof t->sel);
    /* The habit is drawn first and only for tasks selecting 3+ numbers, so
     * habit_rate = 0 leaves the rng stream of older demo data unchanged. */
    if (n >= 3 && habit_rate > 0 && anc_rng_uniform(r) < habit_rate) {
        sum -= v[n - 1];
    } else if (anc_rng_uniform(r) < mistake_rate) {
        int others[ANC_DEMO_MAX_NUMS], n_others = 0, can_swap = 0;
        for (int i = 0; i < t->n; i++)
            if (!selects(t->cond, t->k, t->nums[i])) others[n_others++] = t->nums[i];
        for (int i = 0; i + 1 < n; i++) can_swap |= v[i] != v[i + 1];
        int kind = (int)anc_rng_below(r, 4), list_changed = 1;
        if (kind == 0 && n >= 2) { /* drop */
            int at = (int)anc_rng_below(r, (uint64_t)n);
            memmove(v + at, v + at + 1, (size_t)(n - at - 1) * sizeof *v);
            n--;
        } else if (kind == 1 && n_others > 0) { /* insert a number that does not belong */
            int at = (int)anc_rng_below(r, (uint64_t)n + 1);
            memmove(v + at + 1, v + at, (size_t)(n - at) * sizeof *v);
            v[at] = others[anc_rng_below(r, (uint64_t)n_others)];
            n++;
        } else if (kind == 2 && can_swap) { /* swap two different neighbours */
            int at;
            do at = (int)anc_rng_below(r, (uint64_t)n - 1);
            while (v[at] == v[at + 1]);
            int x = v[at];
            v[at] = v[at + 1];
            v[at + 1] = x;
        } else {
            list_changed = 0;
            sum = small_offset(r, sum);
        }
        if (list_changed) {
            uint64_t u = anc_rng_below(r, 4);
            if (u == 0) { /* the sum of what is shown */
                sum = 0;
                for (int i = 0; i < n; i++) sum += v[i];
            } else if (u == 1) {
                sum = small_offset(r, sum);
            }
        }
    }
    anc_sbuf b = {0};
    anc_sbuf_printf(&b, "%s: ", t->label);
    for (int i = 0; i < n; i++) anc_sbuf_printf(&b, "%s%d", i ? " " : "", v[i]);
    anc_sbuf_printf(&b, ". Sum: %d.", sum);
    return take(&b, answer, err);
}

/* ---- the exec: reviser --------------------------------------------------- */

/* The last occurrence of needle in s[0..), or NULL. */
static const char *find_last(const char *s, const char *needle) {
    const char *last = NULL;
    for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle)) last = p;
    return last;
}

static void put_reasoning(anc_sbuf *b, const anc_demo_task *t, const char *draft) {
    canon c;
    if (!parse_canon(draft, &c)) {
        anc_sbuf_printf(b, "The answer should list the selected numbers in %s order after %s: and then give their sum.",
                        t->descending ? "decreasing" : "increasing", t->label);
        return;
    }
    int any = 0;
    if (!span_is(c.label_b, c.label_e, t->label))
        anc_sbuf_printf(b, "%sThe label should be %s.", any++ ? " " : "", t->label);
    if (!list_is(t, c.item, c.n_items)) {
        anc_sbuf_printf(b, "%sThe list should be", any++ ? " " : "");
        for (int i = 0; i < t->n_sel; i++) anc_sbuf_printf(b, " %d", t->sel[i]);
        anc_sbuf_printf(b, " in %s order.", t->descending ? "decreasing" : "increasing");
    }
    if (c.sum != t->sum) anc_sbuf_printf(b, "%sThe sum is %d, not %d.", any++ ? " " : "", t->sum, c.sum);
    if (*skip_ws(c.end)) anc_sbuf_printf(b, "%sNothing should follow the sum.", any++ ? " " : "");
    if (!any) anc_sbuf_puts(b, "The answer is already correct.");
}

anc_status anc_demo_reviser_reply(const char *prompt_text, const char *draft, char **reply, anc_error *err) {
    *reply = NULL;
    char *task_text = NULL, *draft_copy = NULL;
    anc_status st = ANC_OK;
    if (!prompt_text) return anc_error_set(err, ANC_ERR_INVALID, "demo reviser: no prompt");
    if (!draft) {
        const char *a = strstr(prompt_text, "\n{task}: ");
        const char *b = a ? strstr(a, "\n\n{student_solution}: ") : NULL;
        const char *e = b ? find_last(b, "\n\n-----------------") : NULL;
        if (!e)
            return anc_error_set(err, ANC_ERR_FORMAT,
                                 "demo reviser: no \"{task}: \", \"{student_solution}: \" and \"-----------------\" "
                                 "lines in the reviser prompt");
        a += strlen("\n{task}: ");
        const char *db = b + strlen("\n\n{student_solution}: ");
        task_text = anc_text_dup(a, (size_t)(b - a));
        draft_copy = anc_text_dup(db, (size_t)(e - db));
        if (!task_text || !draft_copy) {
            st = anc_error_set(err, ANC_ERR_NOMEM, "demo reviser: out of memory");
            goto done;
        }
        prompt_text = task_text;
        draft = draft_copy;
    }
    anc_demo_task t;
    char *revision = NULL;
    if ((st = anc_demo_task_parse(prompt_text, &t, err))) goto done;
    if ((st = anc_demo_revise(&t, draft, &revision, err))) goto done;
    anc_sbuf b = {0};
    anc_sbuf_puts(&b, "{teacher_reasoning}: ");
    put_reasoning(&b, &t, draft);
    anc_sbuf_puts(&b, "\n\n{corrected_student_solution}: ");
    anc_sbuf_puts(&b, revision);
    free(revision);
    st = take(&b, reply, err);
done:
    free(task_text);
    free(draft_copy);
    return st;
}
