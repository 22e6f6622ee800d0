/* The source tree's layout, as issue 20 states it, read from the files:
 * - no include cycle between the folders of src/ (a folder's files may
 *   include another folder's headers only if that folder never leads back);
 *   the folder graph is printed so a failure shows the loop;
 * - no folder holds more than a quarter of src/'s lines;
 * - src/tokenizer/ holds no template engine (it lives in src/jinja/);
 * - src/eval/ holds no demo code (it lives in src/demo/);
 * - no function in src/cli/ is longer than 150 lines: the CLI parses flags
 *   and prints, the workflows are library calls (src/flow/). A function is
 *   counted from its opening line at column 0 to its closing brace at
 *   column 0, as the code is formatted. */
#include "testutil.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DIRS 32

typedef struct {
    char names[MAX_DIRS][32];
    int n;
    unsigned char edge[MAX_DIRS][MAX_DIRS];
    char why[MAX_DIRS][MAX_DIRS][64]; /* a file making the edge */
    long lines[MAX_DIRS];
} graph;

static int dir_index(const graph *g, const char *name, size_t len) {
    for (int i = 0; i < g->n; i++)
        if (strlen(g->names[i]) == len && strncmp(g->names[i], name, len) == 0) return i;
    return -1;
}

static int is_source(const char *f) {
    size_t n = strlen(f);
    return n > 2 && f[n - 2] == '.' && (f[n - 1] == 'c' || f[n - 1] == 'h');
}

/* Reads every .c and .h file of each src/ folder: line counts and "dir/..." includes. */
static void scan(graph *g, const char *src) {
    DIR *d = opendir(src);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.' && g->n < MAX_DIRS && strlen(e->d_name) < sizeof g->names[0]) {
            char *p = tu_path(src, e->d_name);
            DIR *sub = opendir(p);
            if (sub) {
                closedir(sub);
                snprintf(g->names[g->n++], sizeof g->names[0], "%.31s", e->d_name);
            }
            free(p);
        }
    closedir(d);
    for (int i = 0; i < g->n; i++) {
        char *dir = tu_path(src, g->names[i]);
        DIR *dd = opendir(dir);
        assert_non_null(dd);
        while ((e = readdir(dd))) {
            if (!is_source(e->d_name)) continue;
            char *path = tu_path(dir, e->d_name);
            FILE *f = fopen(path, "r");
            assert_non_null(f);
            char line[4096];
            while (fgets(line, sizeof line, f)) {
                g->lines[i]++;
                const char *s = line;
                while (*s == ' ' || *s == '\t') s++;
                if (strncmp(s, "#include \"", 10) != 0) continue;
                const char *inc = s + 10, *slash = strchr(inc, '/'), *q = strchr(inc, '"');
                if (!slash || !q || slash > q) continue;
                int j = dir_index(g, inc, (size_t)(slash - inc));
                if (j < 0 || j == i) continue;
                if (!g->edge[i][j]) snprintf(g->why[i][j], sizeof g->why[i][j], "%.63s", e->d_name);
                g->edge[i][j] = 1;
            }
            fclose(f);
            free(path);
        }
        closedir(dd);
        free(dir);
    }
}

/* Depth-first search for a cycle; prints it and returns 1 when found. */
static int find_cycle(const graph *g, int v, int *state, int *stack, int depth) {
    state[v] = 1;
    stack[depth] = v;
    for (int w = 0; w < g->n; w++) {
        if (!g->edge[v][w]) continue;
        if (state[w] == 1) {
            printf("  include cycle:");
            int k = depth;
            while (k > 0 && stack[k] != w) k--;
            for (; k <= depth; k++) printf(" %s -(%s)->", g->names[stack[k]], g->why[stack[k]][k < depth ? stack[k + 1] : w]);
            printf(" %s\n", g->names[w]);
            return 1;
        }
        if (state[w] == 0 && find_cycle(g, w, state, stack, depth + 1)) return 1;
    }
    state[v] = 2;
    return 0;
}

static void test_folders(void **state) {
    (void)state;
    char *src = tu_path(ANCHOR_SOURCE_DIR, "src");
    graph *g = calloc(1, sizeof *g);
    assert_non_null(g);
    scan(g, src);
    assert_true(g->n >= 10);
    long total = 0;
    for (int i = 0; i < g->n; i++) total += g->lines[i];
    for (int i = 0; i < g->n; i++) {
        printf("  %-10s %6ld lines (%4.1f%%) ->", g->names[i], g->lines[i], 100.0 * (double)g->lines[i] / (double)total);
        for (int j = 0; j < g->n; j++)
            if (g->edge[i][j]) printf(" %s", g->names[j]);
        printf("\n");
        if (g->lines[i] * 4 > total) fail_msg("src/%s holds %ld of %ld lines (more than 25%%)", g->names[i], g->lines[i], total);
    }
    int st[MAX_DIRS] = {0}, stack[MAX_DIRS + 1];
    for (int v = 0; v < g->n; v++)
        if (st[v] == 0 && find_cycle(g, v, st, stack, 0)) fail_msg("the folders of src/ include each other in a loop (above)");
    free(g);
    free(src);
}

static void test_tokenizer_is_the_tokenizer(void **state) {
    (void)state;
    char *dir = tu_path(ANCHOR_SOURCE_DIR, "src/tokenizer");
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)))
        if (strncmp(e->d_name, "template", 8) == 0) fail_msg("src/tokenizer/%s: the template engine lives in src/jinja/", e->d_name);
    closedir(d);
    free(dir);
}

static void test_eval_holds_no_demo(void **state) {
    (void)state;
    char *dir = tu_path(ANCHOR_SOURCE_DIR, "src/eval");
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)))
        if (strstr(e->d_name, "demo")) fail_msg("src/eval/%s: the demo lives in src/demo/", e->d_name);
    closedir(d);
    free(dir);
}

#define CLI_FUNCTION_MAX 150

/* Longest function of one C file; its name and length in *name / return. */
static int longest_function(const char *path, char *name, size_t cap) {
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[4096], current[128] = "";
    int start = 0, lineno = 0, best = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        size_t n = strlen(line);
        int opens = n >= 2 && line[n - 2] == '{' && line[n - 1] == '\n';
        if (!start && opens && line[0] != ' ' && line[0] != '\t' && line[0] != '}' && line[0] != '#' && strchr(line, '(') &&
            !strstr(line, "=")) {
            start = lineno;
            const char *paren = strchr(line, '('), *b = paren;
            while (b > line && (b[-1] == '_' || (b[-1] >= 'a' && b[-1] <= 'z') || (b[-1] >= 'A' && b[-1] <= 'Z') ||
                                (b[-1] >= '0' && b[-1] <= '9')))
                b--;
            snprintf(current, sizeof current, "%.*s", (int)(paren - b), b);
        } else if (start && line[0] == '}') {
            int len = lineno - start + 1;
            if (len > best) {
                best = len;
                snprintf(name, cap, "%s", current);
            }
            start = 0;
        }
    }
    fclose(f);
    return best;
}

static void test_cli_functions_are_short(void **state) {
    (void)state;
    char *dir = tu_path(ANCHOR_SOURCE_DIR, "src/cli");
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    int files = 0, worst = 0;
    char worst_at[256] = "";
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n < 3 || strcmp(e->d_name + n - 2, ".c")) continue;
        char *path = tu_path(dir, e->d_name), name[128] = "";
        int len = longest_function(path, name, sizeof name);
        files++;
        if (len > worst) {
            worst = len;
            snprintf(worst_at, sizeof worst_at, "%.100s in src/cli/%.80s", name, e->d_name);
        }
        if (len > CLI_FUNCTION_MAX)
            printf("  src/cli/%s: %s() has %d lines (at most %d)\n", e->d_name, name, len, CLI_FUNCTION_MAX);
        free(path);
    }
    closedir(d);
    free(dir);
    printf("  %d files in src/cli/; the longest function is %s, %d lines\n", files, worst_at, worst);
    assert_true(files > 10);
    if (worst > CLI_FUNCTION_MAX) fail_msg("functions in src/cli/ longer than %d lines (above)", CLI_FUNCTION_MAX);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_folders),
        cmocka_unit_test(test_tokenizer_is_the_tokenizer),
        cmocka_unit_test(test_eval_holds_no_demo),
        cmocka_unit_test(test_cli_functions_are_short),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
