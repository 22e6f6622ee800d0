/* Shared helpers for the cmocka unit tests. Each tests/test_*.c becomes its
 * own executable and CTest test (see CMakeLists.txt). */
#ifndef ANCHOR_TESTUTIL_H
#define ANCHOR_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <cmocka.h>

#include "core/error.h"

/* Paths: ANCHOR_SOURCE_DIR, ANCHOR_BINARY_DIR and ANCHOR_SHARED_FIXTURES are
 * compile-time definitions. Returns a malloc'd "<base>/<rel>". */
char *tu_path(const char *base, const char *rel);
/* Path inside ../shared/fixtures, or NULL (test should skip()) when that
 * folder or file is absent. Caller frees. */
char *tu_shared_fixture(const char *rel);
/* Fresh empty temporary directory (mkdtemp under $TMPDIR or /tmp). Caller
 * frees the string; tu_rmtree removes the directory. */
char *tu_tmpdir(void);
void tu_rmtree(const char *path);
/* Writes len bytes to path; fails the test on error. */
void tu_write_file(const char *path, const void *data, size_t len);
/* Reads a whole file (NUL-terminated); fails the test on error. *len may be NULL. */
char *tu_read_file(const char *path, size_t *len);
/* The anchor program under test: $ANCHOR_CLI (set by CTest), else the build's. */
const char *tu_cli(void);
/* Number of '\n' in the file at path (0 when it cannot be read). */
/* Occurrences of needle in hay (overlapping ones too). */
/* The JSON document in dir/rel (fails the test, naming file and line, when
 * it does not parse). New reference. */
json_t *tu_load_json(const char *dir, const char *rel);
int tu_count_substr(const char *hay, const char *needle);
int tu_count_lines(const char *path);
/* Runs a shell command, returns its exit status (-1 if it could not run). */
int tu_system(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Max |a-b| and max |b| over n floats. */
double tu_max_abs_diff(const float *a, const float *b, size_t n);
double tu_max_abs(const float *a, size_t n);
/* Asserts max|a-b| <= rel_tol * max(max|b|, floor) and prints the figures
 * under label on failure. */
void tu_assert_close(const char *label, const float *a, const float *b, size_t n,
                     double rel_tol, double floor);

/* Fails the test with err's message when st != ANC_OK. */
#define TU_CHECK(st, err)                                                               \
    do {                                                                                \
        anc_status tu_st_ = (st);                                                       \
        if (tu_st_ != ANC_OK) fail_msg("%s:%d: %s", __FILE__, __LINE__, (err)->message);\
    } while (0)

/* n pre-tokenised preference rows over a 96-token vocabulary (ids 3..95,
 * prompt starting with BOS 1) with a pattern to learn: chosen responses
 * favour low ids, rejected ones high ids. Prompts take 2 + [0, prompt_spread)
 * ids, responses 2 + [0, len_spread). Fails the test when path cannot be
 * written. */
void tu_write_id_pairs(const char *path, int n, uint64_t seed, int prompt_spread, int len_spread);

/* Tensor `name` of st as a malloc'd fp32 array (fails the test when it is
 * missing); *n (may be NULL) receives its element count. */
struct anc_safetensors;
float *tu_st_read_f32(struct anc_safetensors *st, const char *name, uint64_t *n);

/* llama.cpp's tokenizer conformance cases: cases.inp holds texts separated
 * by "\n__ggml_vocab_test__\n" (the file ends with a separator, so the last,
 * empty, piece is not a case); each line of an .out file holds one case's
 * raw ids (no BOS/EOS). text points into the read file (len bytes, not
 * NUL-terminated). */
typedef struct tu_vocab_case {
    const char *text;
    size_t len;
    int32_t want[512];
    size_t n_want;
} tu_vocab_case;
typedef struct tu_vocab_cases {
    tu_vocab_case *v;
    size_t n;
    char *inp;
} tu_vocab_cases;
/* Reads the two files (fails the test when they are unreadable or the .out
 * file has fewer lines than cases). Free with tu_vocab_cases_free. */
void tu_vocab_cases_read(tu_vocab_cases *c, const char *inp_path, const char *out_path);
void tu_vocab_cases_free(tu_vocab_cases *c);

/* Deterministic xorshift generator for test data. */
typedef struct { uint64_t s; } tu_rng;
float tu_rng_uniform(tu_rng *r);     /* [0, 1) */
float tu_rng_normal(tu_rng *r);
void tu_fill_normal(tu_rng *r, float *x, size_t n, float std);

#endif
