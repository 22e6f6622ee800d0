#define _GNU_SOURCE /* mkostemp, pipe2 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "eval/graders.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define EXEC_MAX_OUTPUT (1u << 20)

anc_status anc_grader_parse(const char *spec, anc_grader *g, anc_error *err) {
    memset(g, 0, sizeof *g);
    g->tolerance = 1e-6;
    if (!spec) return anc_error_set(err, ANC_ERR_INVALID, "grader: expected exact, regex, numeric or exec:CMD");
    if (!strcmp(spec, "exact")) g->kind = ANC_GRADER_EXACT;
    else if (!strcmp(spec, "regex")) g->kind = ANC_GRADER_REGEX;
    else if (!strcmp(spec, "numeric")) g->kind = ANC_GRADER_NUMERIC;
    else if (!strncmp(spec, "exec:", 5) && spec[5]) {
        g->kind = ANC_GRADER_EXEC;
        g->command = spec + 5;
    } else
        return anc_error_set(err, ANC_ERR_INVALID, "grader '%s': expected exact, regex, numeric or exec:CMD", spec);
    return ANC_OK;
}

const char *anc_grader_name(anc_grader_kind k) {
    switch (k) {
    case ANC_GRADER_EXACT: return "exact";
    case ANC_GRADER_REGEX: return "regex";
    case ANC_GRADER_NUMERIC: return "numeric";
    case ANC_GRADER_EXEC: return "exec";
    }
    return "exact";
}

static int is_article(const char *w, size_t n) {
    return (n == 1 && w[0] == 'a') || (n == 2 && !memcmp(w, "an", 2)) || (n == 3 && !memcmp(w, "the", 3));
}

anc_status anc_normalize_answer(const char *s, char **out, anc_error *err) {
    size_t len = strlen(s);
    char *tmp = malloc(len + 1), *res = malloc(len + 1);
    if (!tmp || !res) {
        free(tmp);
        free(res);
        return anc_error_set(err, ANC_ERR_NOMEM, "normalise: out of memory");
    }
    /* lowercase, drop punctuation */
    size_t t = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 128 && ispunct(c)) continue;
        tmp[t++] = (char)(c < 128 ? tolower(c) : c);
    }
    tmp[t] = '\0';
    /* words split on whitespace, articles dropped, joined by one space */
    size_t r = 0, i = 0;
    while (i < t) {
        while (i < t && isspace((unsigned char)tmp[i])) i++;
        size_t start = i;
        while (i < t && !isspace((unsigned char)tmp[i])) i++;
        size_t n = i - start;
        if (!n || is_article(tmp + start, n)) continue;
        if (r) res[r++] = ' ';
        memcpy(res + r, tmp + start, n);
        r += n;
    }
    res[r] = '\0';
    free(tmp);
    *out = res;
    return ANC_OK;
}

/* Length of a number starting at s[i] (0 when none); the value in *x. */
static size_t number_at(const char *s, size_t i, double *x) {
    size_t j = i;
    if (s[j] == '-' || s[j] == '+') j++;
    size_t digits = 0;
    char buf[128];
    size_t b = 0;
    if (s[i] == '-') buf[b++] = '-';
    while (isdigit((unsigned char)s[j]) || (s[j] == ',' && digits && isdigit((unsigned char)s[j + 1]) &&
                                            isdigit((unsigned char)s[j + 2]) && isdigit((unsigned char)s[j + 3]) &&
                                            !isdigit((unsigned char)s[j + 4]))) {
        if (s[j] != ',') {
            if (b < sizeof buf - 8) buf[b++] = s[j];
            digits++;
        }
        j++;
    }
    if (s[j] == '.' && isdigit((unsigned char)s[j + 1])) {
        if (b < sizeof buf - 8) buf[b++] = '.';
        j++;
        while (isdigit((unsigned char)s[j])) {
            if (b < sizeof buf - 8) buf[b++] = s[j];
            j++;
            digits++;
        }
    }
    if (!digits) return 0;
    if ((s[j] == 'e' || s[j] == 'E') &&
        (isdigit((unsigned char)s[j + 1]) || ((s[j + 1] == '-' || s[j + 1] == '+') && isdigit((unsigned char)s[j + 2])))) {
        size_t k = j + 1;
        char e[16];
        size_t eb = 0;
        e[eb++] = 'e';
        if (s[k] == '-' || s[k] == '+') e[eb++] = s[k++];
        while (isdigit((unsigned char)s[k])) {
            if (eb < sizeof e - 1) e[eb++] = s[k];
            k++;
        }
        if (b + eb < sizeof buf - 1) {
            memcpy(buf + b, e, eb);
            b += eb;
        }
        j = k;
    }
    buf[b] = '\0';
    *x = strtod(buf, NULL);
    return j - i;
}

int anc_last_number(const char *s, double *x) {
    int found = 0;
    size_t i = 0, n = strlen(s);
    while (i < n) {
        int starts = isdigit((unsigned char)s[i]) ||
                     (s[i] == '.' && isdigit((unsigned char)s[i + 1])) ||
                     ((s[i] == '-' || s[i] == '+') && (isdigit((unsigned char)s[i + 1]) ||
                                                       (s[i + 1] == '.' && isdigit((unsigned char)s[i + 2]))));
        /* a digit glued to a letter or digit before it continues that token */
        if (starts && i > 0 && (isalnum((unsigned char)s[i - 1]) || s[i - 1] == '.') && (s[i] == '-' || s[i] == '+')) starts = 0;
        double v;
        size_t len = starts ? number_at(s, i, &v) : 0;
        if (len) {
            *x = v;
            found = 1;
            i += len;
        } else {
            i++;
        }
    }
    return found;
}

char *anc_reference_text(const json_t *ref) {
    if (json_is_string(ref)) return strdup(json_string_value(ref));
    if (json_is_number(ref)) {
        char buf[64];
        snprintf(buf, sizeof buf, "%.17g", json_number_value(ref));
        return strdup(buf);
    }
    return NULL;
}

static anc_status grade_regex(const char *pattern, const char *response, double *score, anc_error *err) {
    int code;
    PCRE2_SIZE off;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, PCRE2_UTF, &code, &off, NULL);
    if (!re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(code, msg, sizeof msg);
        return anc_error_set(err, ANC_ERR_INVALID, "regex grader: pattern '%s' at offset %zu: %s", pattern, (size_t)off, (char *)msg);
    }
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
    if (!md) {
        pcre2_code_free(re);
        return anc_error_set(err, ANC_ERR_NOMEM, "regex grader: out of memory");
    }
    int rc = pcre2_match(re, (PCRE2_SPTR)response, PCRE2_ZERO_TERMINATED, 0, 0, md, NULL);
    pcre2_match_data_free(md);
    pcre2_code_free(re);
    if (rc < 0 && rc != PCRE2_ERROR_NOMATCH) {
        if (rc <= PCRE2_ERROR_UTF8_ERR1 && rc >= PCRE2_ERROR_UTF8_ERR21)
            return anc_error_set(err, ANC_ERR_INVALID, "regex grader: the response is not valid UTF-8 (PCRE2 error %d)", rc);
        return anc_error_set(err, ANC_ERR_INVALID, "regex grader: matching '%s' failed (PCRE2 error %d)", pattern, rc);
    }
    *score = rc >= 0 ? 1.0 : 0.0;
    return ANC_OK;
}

/* The score (and feedback) of an exec grader's output out: one finite
 * number, or one JSON object {"score": N, "feedback": "text"|null}. */
static anc_status exec_output(const char *cmd, const char *out, double *score, char **feedback, anc_error *err) {
    const char *p = out;
    while (isspace((unsigned char)*p)) p++;
    if (*p != '{') {
        char *end = NULL;
        errno = 0;
        double v = strtod(out, &end);
        while (end && isspace((unsigned char)*end)) end++;
        if (end == out || !end || *end || errno || !isfinite(v))
            return anc_error_set(err, ANC_ERR_FORMAT,
                                 "exec grader '%s': output '%.60s' (expected one finite number or one JSON object "
                                 "{\"score\": N, \"feedback\": \"text\"})",
                                 cmd, out);
        *score = v;
        return ANC_OK;
    }
    json_error_t je;
    json_t *o = json_loads(p, 0, &je);
    json_t *sc = o ? json_object_get(o, "score") : NULL;
    json_t *fb = o ? json_object_get(o, "feedback") : NULL;
    anc_status st = ANC_OK;
    if (!o)
        st = anc_error_set(err, ANC_ERR_FORMAT, "exec grader '%s': output line %d column %d: %s (expected one JSON object "
                           "{\"score\": N, \"feedback\": \"text\"})", cmd, je.line, je.column, je.text);
    else if (!json_is_object(o) || !json_is_number(sc) || !isfinite(json_number_value(sc)))
        st = anc_error_set(err, ANC_ERR_FORMAT, "exec grader '%s': output '%.60s' (expected a finite number \"score\" "
                           "in the JSON object)", cmd, p);
    else if (fb && !json_is_string(fb) && !json_is_null(fb))
        st = anc_error_set(err, ANC_ERR_FORMAT, "exec grader '%s': \"feedback\" must be a string or null", cmd);
    else {
        *score = json_number_value(sc);
        const char *f = json_string_value(fb);
        if (feedback && f && *f && !(*feedback = strdup(f)))
            st = anc_error_set(err, ANC_ERR_NOMEM, "exec grader: out of memory");
    }
    json_decref(o);
    return st;
}

static anc_status grade_exec(const char *cmd, const char *prompt, const char *response, const json_t *reference,
                             double *score, char **feedback, anc_error *err) {
    json_t *in = json_object();
    json_object_set_new(in, "prompt", prompt ? json_string(prompt) : json_null());
    json_object_set_new(in, "response", json_string(response));
    json_object_set(in, "reference", reference ? (json_t *)reference : json_null());
    char *text = json_dumps(in, JSON_COMPACT);
    json_decref(in);
    if (!text) return anc_error_set(err, ANC_ERR_INVALID, "exec grader: the response is not valid UTF-8");
    const char *tdir = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/anchor-grade-XXXXXX", tdir && *tdir ? tdir : "/tmp");
    int fd = mkostemp(path, O_CLOEXEC); /* children of other threads must not inherit it */
    if (fd < 0) {
        free(text);
        return anc_error_set(err, ANC_ERR_IO, "exec grader: cannot create a temporary file in %s: %s", tdir && *tdir ? tdir : "/tmp", strerror(errno));
    }
    size_t len = strlen(text), w = 0;
    while (w < len) {
        ssize_t k = write(fd, text + w, len - w);
        if (k <= 0) break;
        w += (size_t)k;
    }
    free(text);
    if (w < len || lseek(fd, 0, SEEK_SET) != 0) {
        close(fd);
        unlink(path);
        return anc_error_set(err, ANC_ERR_IO, "exec grader: cannot write %s", path);
    }
    unlink(path);  /* the open descriptor keeps it readable */
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) != 0) {
        close(fd);
        return anc_error_set(err, ANC_ERR_IO, "exec grader: pipe: %s", strerror(errno));
    }
    pid_t pid = fork();
    if (pid < 0) {
        close(fd);
        close(pfd[0]);
        close(pfd[1]);
        return anc_error_set(err, ANC_ERR_IO, "exec grader: fork: %s", strerror(errno));
    }
    if (pid == 0) {
        dup2(fd, 0);
        dup2(pfd[1], 1);
        close(fd);
        close(pfd[0]);
        close(pfd[1]);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    close(fd);
    close(pfd[1]);
    char *out = malloc(EXEC_MAX_OUTPUT + 1);
    size_t n = 0;
    int too_long = 0;
    for (;;) {
        char buf[4096];
        ssize_t k = read(pfd[0], buf, sizeof buf);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break;
        if (out && n + (size_t)k <= EXEC_MAX_OUTPUT) {
            memcpy(out + n, buf, (size_t)k);
            n += (size_t)k;
        } else {
            too_long = 1;
        }
    }
    close(pfd[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    if (!out) return anc_error_set(err, ANC_ERR_NOMEM, "exec grader: out of memory");
    out[n] = '\0';
    anc_status st = ANC_OK;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        st = anc_error_set(err, ANC_ERR_IO, "exec grader '%s': exited with status %d (expected 0)", cmd,
                           WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    } else if (too_long) {
        st = anc_error_set(err, ANC_ERR_FORMAT, "exec grader '%s': more than %u bytes of output (expected one number or one JSON object)", cmd, EXEC_MAX_OUTPUT);
    } else {
        st = exec_output(cmd, out, score, feedback, err);
    }
    free(out);
    return st;
}

anc_status anc_grade(const anc_grader *g, const char *prompt, const char *response, const json_t *reference,
                     double *score, anc_error *err) {
    return anc_grade_ex(g, prompt, response, reference, score, NULL, err);
}

anc_status anc_grade_ex(const anc_grader *g, const char *prompt, const char *response, const json_t *reference,
                        double *score, char **feedback, anc_error *err) {
    *score = 0;
    if (feedback) *feedback = NULL;
    if (!response) return anc_error_set(err, ANC_ERR_INVALID, "grader: no response");
    if (g->kind == ANC_GRADER_EXEC) {
        anc_status st = grade_exec(g->command, prompt, response, reference, score, feedback, err);
        if (st) {
            *score = 0;
            if (feedback) {
                free(*feedback);
                *feedback = NULL;
            }
        }
        return st;
    }
    if (g->kind == ANC_GRADER_REGEX && g->pattern) return grade_regex(g->pattern, response, score, err);
    char *ref = anc_reference_text(reference);
    if (!ref) return anc_error_set(err, ANC_ERR_INVALID, "%s grader: expected a string or number reference", anc_grader_name(g->kind));
    anc_status st = ANC_OK;
    if (g->kind == ANC_GRADER_REGEX) {
        st = grade_regex(ref, response, score, err);
    } else if (g->kind == ANC_GRADER_NUMERIC) {
        double r, x;
        if (!anc_last_number(ref, &r))
            st = anc_error_set(err, ANC_ERR_INVALID, "numeric grader: reference '%.60s' holds no number", ref);
        else
            *score = anc_last_number(response, &x) && fabs(x - r) <= g->tolerance * fmax(1.0, fabs(r)) ? 1.0 : 0.0;
    } else {
        char *a = NULL, *b = NULL;
        st = anc_normalize_answer(response, &a, err);
        if (!st) st = anc_normalize_answer(ref, &b, err);
        if (!st) *score = strcmp(a, b) == 0 ? 1.0 : 0.0;
        free(a);
        free(b);
    }
    free(ref);
    return st;
}
