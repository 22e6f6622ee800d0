/* Tests of the run report (src/report/) and `anchor report`.
 *
 *  - HTML escaping (entities, control bytes, "://" defused), nice axis
 *    ticks and tick labels, the word diff (LCS script, deletions before
 *    insertions, the bounded-table fallback, whitespace kept).
 *  - A synthetic run directory: two training runs (apo_zero/ and
 *    sweep/dpo/, one with eval_* lines and a nan value; a metrics.jsonl
 *    four levels down that must be ignored), a CLAIR pairs file whose
 *    rows include "<script>alert(1)</script>", a non-pairs JSONL, a broken
 *    JSONL, eval.json and ab.json. The page must hold one <polyline> per run
 *    in each of the 7 charts, the eval dots, the contrast table, the diff
 *    markup, the escaped script text, the eval table with "lo &ndash; hi",
 *    notes naming the broken file and line; and no "http://", "https://"
 *    or "<script" anywhere.
 *  - An empty run directory says "no training runs found"; a missing one is
 *    an error naming the path.
 *  - The browser check: when `chromium` (or `chromium-browser`) is on PATH
 *    the page is rendered headless to a 1280x2000 PNG (copied to
 *    <build>/test_report_screenshot.png for people to look at), which must
 *    exist and be larger than 20 kB; Chromium's own log (--enable-logging=
 *    stderr --v=0), where page console messages and script errors appear as
 *    "Uncaught ..." / "SyntaxError", must hold neither. Skipped with a
 *    message when no Chromium is installed (scripts/install-deps.sh
 *    installs Debian's `chromium`).
 *  - The CLI (skipped when this build's anchor does not dispatch
 *    `report` yet). */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/strbuf.h"
#include "core/text.h"
#include "report/html.h"
#include "report/report.h"
#include "report/svg.h"

static void test_escape(void **state) {
    (void)state;
    anc_sbuf b = {0};
    const char in[] = "<script>alert(1)</script> & \"q\" 'a' see https://x.org\x01 ok";
    assert_int_equal(anc_html_escape(&b, in, strlen(in)), ANC_OK);
    assert_string_equal(anc_sbuf_str(&b), "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;q&quot; &#39;a&#39; "
                                          "see https&#58;//x.org&#xFFFD; ok");
    anc_sbuf_free(&b);
    anc_sbuf_init(&b);
    assert_int_equal(anc_html_escape(&b, "a\0b", 3), ANC_OK);  /* NUL never reaches the page */
    assert_string_equal(anc_sbuf_str(&b), "a&#xFFFD;b");
    anc_sbuf_free(&b);
}

static void test_ticks(void **state) {
    (void)state;
    double first, step;
    int count;
    anc_error err = {0};
    TU_CHECK(anc_svg_nice_ticks(0, 1, 5, &first, &step, &count, &err), &err);
    assert_true(first == 0 && fabs(step - 0.2) < 1e-12 && count == 6);
    TU_CHECK(anc_svg_nice_ticks(1, 97, 6, &first, &step, &count, &err), &err);
    assert_true(first == 0 && step == 20 && count == 6);  /* 0..100 */
    TU_CHECK(anc_svg_nice_ticks(-0.693, -0.05, 5, &first, &step, &count, &err), &err);
    assert_true(first <= -0.693 && first + (count - 1) * step >= -0.05);
    assert_true(fabs(step - 0.1) < 1e-12 || fabs(step - 0.2) < 1e-12);
    TU_CHECK(anc_svg_nice_ticks(3, 3, 5, &first, &step, &count, &err), &err);  /* widened */
    assert_true(first < 3 && first + (count - 1) * step > 3);
    assert_int_equal(anc_svg_nice_ticks(NAN, 1, 5, &first, &step, &count, &err), ANC_ERR_INVALID);

    struct { double v, step; const char *want; } cases[] = {
        {0.30000000000000004, 0.1, "0.3"}, {1e-17, 0.1, "0"}, {-0.5, 0.25, "-0.50"}, {40, 20, "40"},
        {2.5e-5, 5e-6, "2.5e-05"}, {3e6, 1e6, "3e+06"}, {-1.2, 0.2, "-1.2"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        anc_sbuf b = {0};
        anc_svg_format_tick(cases[i].v, cases[i].step, &b);
        assert_string_equal(anc_sbuf_str(&b), cases[i].want);
        anc_sbuf_free(&b);
    }
}

static char *diff_html(const char *old, const char *new_) {
    anc_sbuf b = {0};
    anc_error err = {0};
    TU_CHECK(anc_html_word_diff(&b, old, strlen(old), new_, strlen(new_), &err), &err);
    return anc_sbuf_take(&b);
}

static void test_word_diff(void **state) {
    (void)state;
    char *h = diff_html("the cat sat on the mat", "the dog sat on a mat");
    assert_string_equal(h, "<div class=\"diff\">the <del>cat </del><ins>dog </ins>sat on <del>the </del>"
                           "<ins>a </ins>mat</div>");
    free(h);
    h = diff_html("", "new words");
    assert_string_equal(h, "<div class=\"diff\"><ins>new words</ins></div>");
    free(h);
    h = diff_html("same\n\ntext", "same\n\ntext");  /* paragraphs survive */
    assert_string_equal(h, "<div class=\"diff\">same\n\ntext</div>");
    free(h);
    h = diff_html("a <b> c", "a <i> c");
    assert_non_null(strstr(h, "<del>&lt;b&gt; </del><ins>&lt;i&gt; </ins>"));
    free(h);

    /* The script has the LCS length and the fallback is flagged. */
    anc_span a[6], b[6];
    const char *wa[] = {"x", "a", "b", "c", "y", "z"}, *wb[] = {"a", "q", "c", "b", "z", "w"};
    for (int i = 0; i < 6; i++) a[i] = (anc_span){wa[i], 1}, b[i] = (anc_span){wb[i], 1};
    anc_diff_op *ops = NULL;
    size_t n = 0;
    int exact = -1;
    anc_error err = {0};
    TU_CHECK(anc_word_diff(a, 6, b, 6, 1000, &ops, &n, &exact, &err), &err);
    size_t eq = 0, del = 0, ins = 0;
    for (size_t i = 0; i < n; i++) {
        eq += ops[i].kind == ANC_DIFF_EQUAL;
        del += ops[i].kind == ANC_DIFF_DELETE;
        ins += ops[i].kind == ANC_DIFF_INSERT;
        if (ops[i].kind == ANC_DIFF_EQUAL) assert_string_equal(wa[ops[i].ia], wb[ops[i].ib]);
    }
    assert_int_equal(exact, 1);
    assert_int_equal(eq, 3);  /* LCS "a b z" or "a c z" */
    assert_int_equal(del, 3);
    assert_int_equal(ins, 3);
    free(ops);
    TU_CHECK(anc_word_diff(a, 6, b, 6, 4, &ops, &n, &exact, &err), &err);
    assert_int_equal(exact, 0);
    assert_int_equal(n, 12);
    free(ops);
}

/* ---- synthetic run directory ------------------------------------------------- */

static void put(const char *dir, const char *rel, const char *text) {
    char *p = tu_path(dir, rel);
    char *slash = strrchr(p, '/');
    *slash = 0;
    assert_int_equal(tu_system("mkdir -p '%s'", p), 0);
    *slash = '/';
    tu_write_file(p, text, strlen(text));
    free(p);
}

static char *make_run_dir(void) {
    char *d = tu_tmpdir();
    put(d, "apo_zero/metrics.jsonl",
        "{\"step\": 1, \"loss\": 1, \"rewards/chosen\": 0, \"rewards/rejected\": 0, \"rewards/margins\": 0, "
        "\"rewards/accuracies\": 0, \"logps/chosen\": -40.5, \"logps/rejected\": -42, \"logits/chosen\": 0.1, "
        "\"logits/rejected\": 0.2, \"grad_norm\": 1.5, \"learning_rate\": 2e-07, \"epoch\": 0.1, "
        "\"num_tokens\": 512, \"tokens_per_second\": 100.0}\n"
        "{\"step\": 2, \"loss\": 0.9, \"rewards/chosen\": 0.05, \"rewards/rejected\": -0.04, \"rewards/margins\": "
        "0.09, \"rewards/accuracies\": 0.75, \"logps/chosen\": -40, \"logps/rejected\": -43, \"grad_norm\": nan}\n"
        "{\"step\": 2, \"eval_loss\": 0.95, \"eval_rewards/chosen\": 0.02, \"eval_rewards/margins\": 0.03, "
        "\"eval_logps/chosen\": -41, \"epoch\": 0.2}\n"
        "{\"step\": 3, \"loss\": 0.8, \"rewards/chosen\": 0.1, \"rewards/rejected\": -inf, \"rewards/margins\": "
        "0.2, \"rewards/accuracies\": 1, \"logps/chosen\": -39.2, \"logps/rejected\": -44.1}\n");
    put(d, "sweep/dpo/metrics.jsonl",
        "{\"step\": 1, \"loss\": 0.693147, \"rewards/chosen\": 0, \"rewards/rejected\": 0, \"rewards/margins\": 0, "
        "\"rewards/accuracies\": 0.5, \"logps/chosen\": -40.5, \"logps/rejected\": -42}\n"
        "{\"step\": 2, \"loss\": 0.6, \"rewards/chosen\": -0.02, \"rewards/rejected\": -0.1, \"rewards/margins\": "
        "0.08, \"rewards/accuracies\": 0.5, \"logps/chosen\": -40.9, \"logps/rejected\": -43.1}\n"
        "not json at all\n"
        "{\"step\": 4, \"loss\": 0.5, \"rewards/chosen\": -0.03, \"rewards/rejected\": -0.2, \"rewards/margins\": "
        "0.17, \"rewards/accuracies\": 1, \"logps/chosen\": -41.2, \"logps/rejected\": -45}\n");
    put(d, "a/b/c/d/metrics.jsonl", "{\"step\": 1, \"loss\": 5}\n");  /* four levels down: ignored */
    put(d, "pairs_clair.jsonl",
        "{\"prompt\": \"What is the capital of France?\", \"rejected\": \"The capital of France is Lyon. It is "
        "big.\", \"chosen\": \"The capital of France is Paris. It is big.\", \"rationale\": \"Lyon is wrong.\", "
        "\"id\": \"q1\"}\n"
        "{\"prompt\": [{\"role\": \"user\", \"content\": \"Write <b>HTML</b>\"}], \"rejected\": \"Use "
        "<script>alert(1)</script> here\", \"chosen\": \"Use <script>alert(1)</script> nowhere\"}\n"
        "{\"prompt\": \"same\", \"rejected\": \"identical answer\", \"chosen\": \"identical answer\"}\n"
        "{\"prompt\": \"fourth\", \"rejected\": \"not shown\", \"chosen\": \"as an example\"}\n");
    put(d, "prompts.jsonl", "{\"prompt\": \"only a prompt\"}\n");
    put(d, "broken.jsonl", "{\"chosen\": \"a\", \"rejected\": \"b\"}\n{oops\n");
    put(d, "eval.json",
        "{\"win_rate\": 0.625, \"win_rate_ci\": [0.55, 0.69], \"n\": 200, \"judge\": \"<b>judge</b>\", "
        "\"per_task\": {\"math\": 0.5}, \"samples\": [1, 2, 3]}\n");
    put(d, "ab_apo_vs_dpo.json", "{\"a_wins\": 12, \"b_wins\": 8, \"ties\": 0}\n");
    put(d, "eval_bad.json", "[1, 2]\n");
    /* as `anchor eval --task ifeval --json` writes it */
    /* as `anchor ab --system ... --json` writes it */
    put(d, "ab_leaderboard.json",
        "{\"systems\": [{\"rank\": 1, \"system\": \"<good>\", \"rating\": 1082.24, \"ci_95\": [1057.8, 1106.2], "
        "\"comparisons\": 160, \"wins\": 70, \"ties\": 80, \"losses\": 10}, {\"rank\": null, \"system\": \"lonely\", "
        "\"rating\": null, \"comparisons\": 0, \"wins\": 0, \"ties\": 0, \"losses\": 0}], \"prompts\": 80}\n");
    put(d, "eval_ifeval.json",
        "{\"task\": \"ifeval\", \"n\": 3, \"prompt_strict\": 0.6667, \"by_type\": "
        "{\"punctuation:no_comma\": {\"n\": 2, \"strict\": 1, \"loose\": 2}, "
        "\"startend:quotation\": {\"n\": 1, \"strict\": 1, \"loose\": 1}}}\n");
    return d;
}

static void assert_self_contained(const char *html) {
    assert_null(strstr(html, "http://"));
    assert_null(strstr(html, "https://"));
    assert_null(strstr(html, "<script"));
    assert_null(strstr(html, "<link"));
    assert_null(strstr(html, "@import"));
    assert_null(strstr(html, "url("));
    assert_null(strstr(html, "src="));
}

static void test_report_run_dir(void **state) {
    (void)state;
    char *d = make_run_dir();
    char *out = tu_path(d, "report.html");
    anc_report_summary sum;
    anc_error err = {0};
    TU_CHECK(anc_report_write(d, NULL, NULL, &sum, &err), &err);
    assert_int_equal(sum.datasets, 1);
    assert_int_equal(sum.runs, 2);
    assert_int_equal(sum.results, 4);  /* eval.json, eval_ifeval.json, ab_apo_vs_dpo.json, ab_leaderboard.json; eval_bad.json is a note */
    char *html = tu_read_file(out, NULL);
    assert_self_contained(html);

    /* Charts: 7 metrics, one polyline per run in each. */
    assert_int_equal(tu_count_substr(html, "<svg class=\"chart\""), 7);
    const char *metrics[] = {"loss", "rewards/chosen", "rewards/rejected", "rewards/margins",
                             "rewards/accuracies", "logps/chosen", "logps/rejected"};
    const char *p = strstr(html, "<svg class=\"chart\"");
    for (int m = 0; m < 7; m++) {
        assert_non_null(p);
        const char *end = strstr(p, "</svg>");
        assert_non_null(end);
        size_t lines = 0;
        for (const char *q = strstr(p, "<polyline"); q && q < end; q = strstr(q + 1, "<polyline")) lines++;
        assert_int_equal(lines, 2);
        char want[96];
        snprintf(want, sizeof want, "class=\"ctitle\" x=\"64\" y=\"20\">%s</text>", metrics[m]);
        assert_true(strstr(p, want) == strstr(p, "class=\"ctitle\""));
        p = strstr(end, "<svg class=\"chart\"");
    }
    assert_int_equal(tu_count_substr(html, "<title>apo_zero</title></polyline>"), 7);
    assert_int_equal(tu_count_substr(html, "<title>sweep/dpo</title></polyline>"), 7);
    assert_null(strstr(html, "a/b/c"));
    /* eval dots: loss, rewards/chosen, rewards/margins, logps/chosen */
    assert_int_equal(tu_count_substr(html, "<circle class=\"eval\""), 4);
    assert_non_null(strstr(html, "apo_zero: 0.95 at 2</title>"));
    /* the -inf of rewards/rejected at step 3 is skipped: 2 points remain */
    const char *rr = strstr(html, ">rewards/rejected</text>");
    assert_non_null(rr);
    const char *pl = strstr(rr, "<polyline");
    const char *pts = strstr(pl, "points=\"");
    const char *pts_end = strchr(pts + 8, '"');
    size_t commas = 0;
    for (const char *q = pts; q < pts_end; q++) commas += *q == ',';
    assert_int_equal(commas, 2);
    /* ticks are round numbers: the loss axis of 0.5..1 */
    assert_non_null(strstr(html, ">0.5</text>"));
    assert_non_null(strstr(html, ">1.0</text>") ? strstr(html, ">1.0</text>") : strstr(html, ">1</text>"));
    assert_non_null(strstr(html, "class=\"legend\""));

    /* Pairs: table, diff, escaping. */
    assert_non_null(strstr(html, "<td class=\"name\">pairs_clair.jsonl</td><td>4</td>"));
    assert_null(strstr(html, "<td class=\"name\">prompts.jsonl</td>"));
    assert_non_null(strstr(html, "is <del>Lyon. </del><ins>Paris. </ins>It is big."));
    assert_non_null(strstr(html, "&lt;script&gt;alert(1)&lt;/script&gt; <del>here</del><ins>nowhere</ins>"));
    assert_non_null(strstr(html, "Write &lt;b&gt;HTML&lt;/b&gt;"));
    assert_non_null(strstr(html, "Lyon is wrong."));
    assert_non_null(strstr(html, "id q1"));
    assert_null(strstr(html, "not shown"));  /* only the first 3 pairs are examples */
    assert_non_null(strstr(html, "<td>25.0%</td>"));  /* 1 of 4 identical */

    /* Results. */
    assert_non_null(strstr(html, "<td class=\"name\">win_rate_ci</td><td>0.55 &ndash; 0.69</td>"));
    assert_non_null(strstr(html, "<td class=\"name\">n</td><td>200</td>"));
    assert_non_null(strstr(html, "<td class=\"name\">per_task.math</td><td>0.5</td>"));
    assert_non_null(strstr(html, "&lt;b&gt;judge&lt;/b&gt;"));
    assert_non_null(strstr(html, "<td class=\"name\">a_wins</td><td>12</td>"));
    /* a leaderboard: one row per system, escaped, an unrated one with dashes */
    assert_non_null(strstr(html, "<tr><td>1</td><td class=\"name\">&lt;good&gt;</td><td>1082.2</td><td>1057.8 &ndash; 1106.2</td>"
                                 "<td>160</td><td>70 / 80 / 10</td></tr>"));
    assert_non_null(strstr(html, "<tr><td>&ndash;</td><td class=\"name\">lonely</td><td>&ndash;</td><td></td><td>0</td>"));
    /* IFEval: the per-type table */
    assert_non_null(strstr(html, "<th class=\"name\">IFEval instruction type</th>"));
    assert_non_null(strstr(html, "<td class=\"name\">punctuation:no_comma</td><td>2</td><td>0.5000</td><td>1.0000</td>"));
    assert_non_null(strstr(html, "<td class=\"name\">prompt_strict</td><td>0.6667</td>"));

    /* Notes name file:line and what was expected. */
    assert_non_null(strstr(html, "broken.jsonl: skipped: "));
    assert_non_null(strstr(html, "broken.jsonl:2:"));
    assert_non_null(strstr(html, "sweep/dpo/metrics.jsonl:3:"));
    assert_non_null(strstr(html, "eval_bad.json: expected a JSON object"));
    free(html);

    /* --out elsewhere and options. */
    char *alt = tu_path(d, "alt.html");
    anc_report_options opt;
    anc_report_options_default(&opt);
    opt.examples = 0;
    opt.title = "My <run>";
    TU_CHECK(anc_report_write(d, alt, &opt, NULL, &err), &err);
    html = tu_read_file(alt, NULL);
    assert_non_null(strstr(html, "<title>My &lt;run&gt;</title>"));
    assert_null(strstr(html, "class=\"diff\""));
    assert_self_contained(html);
    free(html);
    free(alt);
    free(out);
    tu_rmtree(d);
    free(d);
}

static void test_report_empty_and_missing(void **state) {
    (void)state;
    char *d = tu_tmpdir();
    anc_sbuf b = {0};
    anc_report_summary sum;
    anc_error err = {0};
    TU_CHECK(anc_report_render(d, NULL, &b, &sum, &err), &err);
    const char *html = anc_sbuf_str(&b);
    assert_non_null(strstr(html, "no training runs found"));
    assert_non_null(strstr(html, "no preference pairs found"));
    assert_non_null(strstr(html, "no evaluation or A/B results found"));
    assert_int_equal(sum.runs + sum.datasets + sum.results + sum.notes, 0);
    assert_self_contained(html);
    anc_sbuf_free(&b);

    char *missing = tu_path(d, "nope");
    assert_int_equal(anc_report_render(missing, NULL, &b, NULL, &err), ANC_ERR_IO);
    assert_non_null(strstr(err.message, missing));
    anc_sbuf_free(&b);
    put(d, "file.txt", "x");
    char *file = tu_path(d, "file.txt");
    assert_int_equal(anc_report_render(file, NULL, &b, NULL, &err), ANC_ERR_IO);
    assert_non_null(strstr(err.message, "expected a run directory"));
    anc_sbuf_free(&b);
    free(file);
    free(missing);
    tu_rmtree(d);
    free(d);
}

/* ---- browser and CLI ---------------------------------------------------------- */

static int find_chromium(char *buf, size_t cap) {
    FILE *f = popen("command -v chromium || command -v chromium-browser", "r");
    if (!f) return 0;
    int ok = fgets(buf, (int)cap, f) != NULL;
    pclose(f);
    if (!ok) return 0;
    buf[strcspn(buf, "\n")] = 0;
    return buf[0] == '/';
}

static void test_report_in_chromium(void **state) {
    (void)state;
    char chromium[512];
    if (!find_chromium(chromium, sizeof chromium)) {
        fprintf(stderr, "note: no chromium or chromium-browser on PATH (scripts/install-deps.sh installs "
                        "Debian's chromium); skipping the headless rendering check\n");
        skip();
    }
    char *d = make_run_dir();
    anc_error err = {0};
    TU_CHECK(anc_report_write(d, NULL, NULL, NULL, &err), &err);
    /* --no-sandbox: Chromium refuses to run as root with its sandbox. Console
     * messages and uncaught script errors reach this log. */
    int rc = tu_system("cd '%s' && HOME='%s' timeout 120 '%s' --headless --no-sandbox --disable-gpu "
                       "--disable-dev-shm-usage --no-first-run --hide-scrollbars --user-data-dir='%s/profile' "
                       "--enable-logging=stderr --v=0 --window-size=1280,2000 --screenshot='%s/shot.png' "
                       "'file://%s/report.html' >chromium.out 2>chromium.err",
                       d, d, chromium, d, d, d);
    char *log_path = tu_path(d, "chromium.err");
    char *log = tu_read_file(log_path, NULL);
    if (rc != 0) fail_msg("chromium exited with %d; its log:\n%s", rc, log);
    assert_null(strstr(log, "Uncaught"));
    assert_null(strstr(log, "SyntaxError"));
    char *shot = tu_path(d, "shot.png");
    struct stat sb;
    assert_int_equal(stat(shot, &sb), 0);
    assert_true(sb.st_size > 20000);
    size_t len = 0;
    char *png = tu_read_file(shot, &len);
    assert_true(len > 8 && memcmp(png, "\x89PNG\r\n\x1a\n", 8) == 0);
    free(png);
    /* Kept for people to look at. */
    tu_system("cp '%s' '%s/test_report_screenshot.png' && cp '%s/report.html' '%s/test_report.html'", shot,
              ANCHOR_BINARY_DIR, d, ANCHOR_BINARY_DIR);
    free(shot);
    free(log);
    free(log_path);
    tu_rmtree(d);
    free(d);
}

static void test_cli_report(void **state) {
    (void)state;
    if (tu_system("'%s' report --help >/dev/null 2>&1", tu_cli()) != 0) {
        fprintf(stderr, "note: %s does not dispatch 'report' yet; skipping\n", tu_cli());
        skip();
    }
    char *d = make_run_dir();
    assert_int_equal(tu_system("'%s' report '%s' --out '%s/r.html' --examples 1 2>'%s/err.txt'", tu_cli(), d, d, d), 0);
    char *r = tu_path(d, "r.html");
    char *html = tu_read_file(r, NULL);
    assert_int_equal(tu_count_substr(html, "<div class=\"pair\">"), 1);
    assert_self_contained(html);
    char *e = tu_path(d, "err.txt");
    char *msg = tu_read_file(e, NULL);
    assert_non_null(strstr(msg, "1 pairs datasets, 2 training runs"));
    assert_int_equal(tu_system("'%s' report '%s/none' 2>'%s/err.txt'", tu_cli(), d, d), 1);
    free(msg);
    msg = tu_read_file(e, NULL);
    assert_non_null(strstr(msg, "cannot open the run directory"));
    assert_int_equal(tu_system("'%s' report 2>/dev/null", tu_cli()), 2);
    free(msg);
    free(e);
    free(html);
    free(r);
    tu_rmtree(d);
    free(d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_ticks),
        cmocka_unit_test(test_word_diff),
        cmocka_unit_test(test_report_run_dir),
        cmocka_unit_test(test_report_empty_and_missing),
        cmocka_unit_test(test_report_in_chromium),
        cmocka_unit_test(test_cli_report),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
