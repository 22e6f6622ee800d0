/* Tests of the CLAIR reviser prompt and reply parser (src/clair/revise.h)
 * and of the pairwise judge prompt, verdict parser and both-orders
 * combination (src/clair/judge.h).
 *
 *  - the reviser prompt is the authors' text byte for byte, with only
 *    {input}/{output} substituted in one pass; template files.
 *  - marker styles: braced with/without colon, bold, heading, plain
 *    "Name:", case, CRLF, same-line content; the LAST marker wins; markers
 *    inside a line or prose at a line start are not markers; rationale
 *    with and without a reasoning marker; unwrapping of quotes/fences only
 *    when the whole revision is wrapped (and not when the draft is);
 *    failures with reasons (no marker, empty revision).
 *  - the 8 real gpt-4 replies of ../shared/fixtures/clair (skipped when
 *    absent): revision and rationale non-empty, free of markers, and equal
 *    at both ends (first/last 40 characters of the revision, 30 of the
 *    rationale) and in length to what was read off each reply by hand.
 *  - judge verdict lines in many spellings, the [[A]] fallback, failures,
 *    and the 16 combinations of two verdicts. */
#include "testutil.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "clair/judge.h"
#include "clair/revise.h"
#include "clair/text.h"
#include "data/jsonl.h"

static void write_text(const char *path, const char *text) { tu_write_file(path, text, strlen(text)); }

/* ---- reviser prompt --------------------------------------------------------- */

static const char EXPECTED_PROMPT[] =
    "You are a teacher and your task is to minimally improve a student's answer. I will give you a {task} and a "
    "{student_solution}. Your job is to revise the {student_solution} such that it is clearer, more correct, and more "
    "engaging. Copy all non-corrected parts of the student's answer. Do not allude to the {corrected_student_solution} "
    "being a revision or a correction in your final solution.\n\n"
    "{task}: What is 2+2? {output}\n\n"
    "{student_solution}: It is {input} 5.\n\n"
    "-----------------\n\n"
    "Let's first think step by step with a {teacher_reasoning} to decide how to improve the {student_solution}, then "
    "give the {corrected_student_solution}. Mention the {teacher_reasoning} and {corrected_student_solution} "
    "identifiers to structure your answer.\n\n";

static void test_reviser_prompt(void **state) {
    (void)state;
    char *p = NULL;
    anc_error err = {0};
    /* values holding placeholders are not rescanned */
    TU_CHECK(anc_clair_prompt(NULL, "What is 2+2? {output}", "It is {input} 5.", &p, &err), &err);
    assert_string_equal(p, EXPECTED_PROMPT);
    free(p);
    TU_CHECK(anc_clair_prompt("Q={input} A={output} {x} {input}", "q", "a", &p, &err), &err);
    assert_string_equal(p, "Q=q A=a {x} q");
    free(p);
    assert_int_equal(anc_clair_prompt("only {input}", "q", "a", &p, &err), ANC_ERR_INVALID);
    assert_null(p);
    assert_non_null(strstr(err.message, "no {output} placeholder"));

    char *dir = tu_tmpdir();
    char *path = tu_path(dir, "reviser.txt");
    write_text(path, "Improve: {input}\n---\n{output}\r\n");
    char *tmpl = NULL;
    TU_CHECK(anc_clair_template_load(path, &tmpl, &err), &err);
    assert_string_equal(tmpl, "Improve: {input}\n---\n{output}"); /* one trailing newline dropped */
    TU_CHECK(anc_clair_prompt(tmpl, "x", "y", &p, &err), &err);
    assert_string_equal(p, "Improve: x\n---\ny");
    free(p);
    free(tmpl);
    write_text(path, "Improve: {Input} {output}\n");
    assert_int_equal(anc_clair_template_load(path, &tmpl, &err), ANC_ERR_FORMAT);
    assert_null(tmpl);
    assert_non_null(strstr(err.message, "reviser.txt: template has no {input} placeholder"));
    tu_rmtree(dir);
    free(path);
    free(dir);
}

/* ---- reply parser --------------------------------------------------------------- */

static anc_clair_reply parse_ok(const char *reply, const char *draft) {
    anc_clair_reply r;
    anc_error err = {0};
    TU_CHECK(anc_clair_parse_reply(reply, strlen(reply), draft, &r, &err), &err);
    return r;
}

static void expect_revision(const char *reply, const char *revision, const char *rationale) {
    anc_clair_reply r = parse_ok(reply, NULL);
    assert_string_equal(r.revision, revision);
    if (rationale) assert_string_equal(r.rationale, rationale);
    anc_clair_reply_free(&r);
}

static void expect_failure(const char *reply, const char *reason) {
    anc_clair_reply r;
    anc_error err = {0};
    assert_int_equal(anc_clair_parse_reply(reply, reply ? strlen(reply) : 0, NULL, &r, &err), ANC_ERR_FORMAT);
    assert_null(r.revision);
    assert_null(r.rationale);
    if (!strstr(err.message, reason)) fail_msg("expected '%s' in: %s", reason, err.message);
}

static void test_marker_styles(void **state) {
    (void)state;
    expect_revision("{teacher_reasoning}: fix it\n\n{corrected_student_solution}:\n\nThe answer.\n", "The answer.", "fix it");
    expect_revision("{teacher_reasoning}\nfix it\n{corrected_student_solution}\nThe answer.", "The answer.", "fix it");
    expect_revision("{teacher_reasoning}: why\n\n{corrected_student_solution}: Same line.\nSecond line.", "Same line.\nSecond line.", "why");
    expect_revision("**Teacher Reasoning:**\nwhy\n\n**Corrected Student Solution:**\nFixed.", "Fixed.", "why");
    expect_revision("### Teacher Reasoning\nwhy\n### Corrected Student Solution\n\nFixed.", "Fixed.", "why");
    expect_revision("Teacher reasoning: why\nCorrected student solution: Fixed.", "Fixed.", "why");
    expect_revision("**{corrected_student_solution}**: Fixed.", "Fixed.", "");
    expect_revision("## {Corrected_Student_Solution}\nFixed.", "Fixed.", "");
    expect_revision("__corrected-student-solution__\nFixed.", "Fixed.", "");
    expect_revision("  CORRECTED STUDENT SOLUTION :  Fixed.  ", "Fixed.", "");
    expect_revision("{teacher_reasoning}:\r\nwhy\r\n\r\n{corrected_student_solution}:\r\nLine 1\r\nLine 2\r\n", "Line 1\r\nLine 2", "why");
    /* no reasoning marker: the rationale is everything before the solution marker */
    expect_revision("Some thoughts.\n\n{corrected_student_solution}\nFixed.", "Fixed.", "Some thoughts.");
    /* the LAST marker line wins; the rationale runs up to it */
    expect_revision("{teacher_reasoning}\nI will write the {corrected_student_solution}.\n{corrected_student_solution}: draft one\n"
                    "{corrected_student_solution}:\nfinal one",
                    "final one", "I will write the {corrected_student_solution}.\n{corrected_student_solution}: draft one");
    /* prose at a line start is not a marker, a mid-line mention neither */
    expect_revision("{corrected_student_solution}\nCorrected student solution is shorter than before.\nThe end.",
                    "Corrected student solution is shorter than before.\nThe end.", "");
    expect_revision("{corrected_student_solution}:\nA {corrected_student_solution} mid-line stays.", "A {corrected_student_solution} mid-line stays.", "");
    /* names must match whole words */
    expect_failure("{corrected_student_solutions}: x", "no {corrected_student_solution} marker");
    expect_failure("Let me give the {corrected_student_solution} now.\nIt is 4.", "no {corrected_student_solution} marker");
    expect_failure("{teacher_reasoning}: only reasoning", "no {corrected_student_solution} marker");
    expect_failure("", "no {corrected_student_solution} marker");
    expect_failure(NULL, "no {corrected_student_solution} marker");
    expect_failure("{teacher_reasoning}: x\n\n{corrected_student_solution}:\n   \n\n", "empty revision after the {corrected_student_solution} marker on line 3");
    expect_failure("{corrected_student_solution}: \"\"", "empty revision");
    expect_failure("x\n{corrected_student_solution}\n```\n\n```\n", "empty revision");
    anc_clair_reply r = parse_ok("a\nb\n**Corrected Student Solution:**\nok", NULL);
    assert_int_equal(r.marker_line, 3);
    anc_clair_reply_free(&r);
}

static void test_unwrapping(void **state) {
    (void)state;
    anc_clair_reply r = parse_ok("{corrected_student_solution}: \"It is 4.\"", NULL);
    assert_string_equal(r.revision, "It is 4.");
    assert_int_equal(r.unwrapped, 1);
    anc_clair_reply_free(&r);
    expect_revision("{corrected_student_solution}:\n\xe2\x80\x9c" "It is 4.\xe2\x80\x9d", "It is 4.", NULL);
    /* not one wrapping pair: kept */
    expect_revision("{corrected_student_solution}:\n\"A\" and \"B\"", "\"A\" and \"B\"", NULL);
    expect_revision("{corrected_student_solution}:\n\"It is 4.", "\"It is 4.", NULL);
    /* prose fences are removed, code fences kept */
    r = parse_ok("{corrected_student_solution}:\n```\nLine 1\n\nLine 2\n```\n", NULL);
    assert_string_equal(r.revision, "Line 1\n\nLine 2");
    assert_int_equal(r.unwrapped, 2);
    anc_clair_reply_free(&r);
    expect_revision("{corrected_student_solution}:\n```markdown\n# Title\ntext\n```", "# Title\ntext", NULL);
    expect_revision("{corrected_student_solution}:\n~~~text\nplain\n~~~", "plain", NULL);
    expect_revision("{corrected_student_solution}:\n```python\nprint(4)\n```", "```python\nprint(4)\n```", NULL);
    /* two blocks, or text after the block: not wrapped as a whole */
    expect_revision("{corrected_student_solution}:\n```\na\n```\nmiddle\n```\nb\n```", "```\na\n```\nmiddle\n```\nb\n```", NULL);
    expect_revision("{corrected_student_solution}:\n```\na\n```\nafter", "```\na\n```\nafter", NULL);
    /* a longer outer fence may hold shorter inner fences */
    expect_revision("{corrected_student_solution}:\n````md\nsee:\n```js\nx\n```\n````", "see:\n```js\nx\n```", NULL);
    /* the draft was wrapped the same way: keep the form */
    r = parse_ok("{corrected_student_solution}: \"It is 4.\"", "\"It is 5.\"");
    assert_string_equal(r.revision, "\"It is 4.\"");
    assert_int_equal(r.unwrapped, 0);
    anc_clair_reply_free(&r);
    r = parse_ok("{corrected_student_solution}:\n```\nfixed\n```", "  ```\nbroken\n```\n");
    assert_string_equal(r.revision, "```\nfixed\n```");
    anc_clair_reply_free(&r);
}

/* Hand-read from each reply of gpt4_revisions_sample.jsonl: the revision's
 * length in code points, its first and last 40 characters, and the first and
 * last 30 characters of the rationale. */
static const struct {
    size_t rev_len;
    const char *rev_head, *rev_tail, *rat_head, *rat_tail;
} CLAIR_EXPECT[8] = {
    {216, "1. Exploring the Depths: A Meta-Analysis", "'s Impact on Adolescent Depression Rates",
     "To improve the student's solut", "f psychology and social media."},
    {2364, "Enhancing the capabilities of a robotic ", "ty across a wider range of applications.",
     "The student's solution provide", "h varying levels of expertise."},
    {3120, "Kubernetes, often referred to as k8s or ", "n application deployment and management.",
     "The student's solution provide", " flexibility, and scalability."},
    {3020, "Of course, I'd be happy to help you solv", "ctions we can take to make a difference.",
     "The student's solution provide", " a sense of agency or urgency."},
    {462, "According to the most recent polls, Joe ", "tes and non-partisan news organizations.",
     "The original student solution ", "ding to the most recent polls."},
    {785, "Sure, I'd be happy to help with that!\n\nI", " for further operations in your program.",
     "The student's solution contain", "ement of the student's answer."},
    {2780, "The stock market crash of 1929, culminat", "s to prevent future financial disasters.",
     "The student's answer provides ", "ity and depth to the analysis."},
    {190, "Based on the analysis of the facial expr", "otions appearing overwhelmingly intense.",
     "To improve the student's solut", "iption more vivid and precise."},
};

static void assert_ends(const char *s, const char *head, const char *tail, const char *what, size_t i) {
    size_t n = strlen(s), hn = strlen(head), tn = strlen(tail);
    if (n < hn || memcmp(s, head, hn) != 0) fail_msg("reply %zu: %s starts '%.40s', expected '%s'", i, what, s, head);
    if (n < tn || memcmp(s + n - tn, tail, tn) != 0) fail_msg("reply %zu: %s ends '%s', expected '%s'", i, what, s + (n > tn ? n - tn : 0), tail);
}

static void test_real_replies(void **state) {
    (void)state;
    char *path = tu_shared_fixture("clair/gpt4_revisions_sample.jsonl");
    if (!path) skip();
    anc_rows rows;
    anc_error err = {0};
    TU_CHECK(anc_rows_load(&rows, path, &err), &err);
    assert_int_equal(rows.n, 8);
    for (size_t i = 0; i < rows.n; i++) {
        const json_t *c = json_object_get(rows.rows[i], "completion");
        const char *draft = json_string_value(json_object_get(rows.rows[i], "student_solution"));
        assert_non_null(draft);
        anc_clair_reply r;
        TU_CHECK(anc_clair_parse_reply(json_string_value(c), json_string_length(c), draft, &r, &err), &err);
        assert_true(r.revision[0] && r.rationale[0]);
        const char *markers[] = {"{corrected_student_solution}", "{teacher_reasoning}", "orrected Student Solution"};
        for (size_t k = 0; k < 3; k++) {
            if (strstr(r.revision, markers[k])) fail_msg("reply %zu: revision holds %s", i, markers[k]);
            if (strstr(r.rationale, markers[k])) fail_msg("reply %zu: rationale holds %s", i, markers[k]);
        }
        assert_int_equal(anc_text_count_cps(r.revision, strlen(r.revision)), CLAIR_EXPECT[i].rev_len);
        assert_ends(r.revision, CLAIR_EXPECT[i].rev_head, CLAIR_EXPECT[i].rev_tail, "revision", i);
        assert_ends(r.rationale, CLAIR_EXPECT[i].rat_head, CLAIR_EXPECT[i].rat_tail, "rationale", i);
        assert_int_equal(r.unwrapped, 0);
        anc_clair_reply_free(&r);
    }
    anc_rows_free(&rows);
    free(path);
}

/* ---- judge ------------------------------------------------------------------------ */

static void test_judge_prompt(void **state) {
    (void)state;
    char *p = NULL;
    anc_error err = {0};
    TU_CHECK(anc_judge_prompt(NULL, "Why is the sky blue?", "Rayleigh {response_b}", "Because.", &p, &err), &err);
    assert_non_null(strstr(p, "[User Prompt]\nWhy is the sky blue?\n\n[The Start of Response A]\nRayleigh {response_b}\n"
                              "[The End of Response A]\n\n[The Start of Response B]\nBecause.\n[The End of Response B]"));
    assert_non_null(strstr(p, "\"Verdict: A\""));
    assert_null(strstr(p, "{prompt}"));
    free(p);
    TU_CHECK(anc_judge_prompt("{prompt}|{response_a}|{response_b}|{other}", "p", "a", "b", &p, &err), &err);
    assert_string_equal(p, "p|a|b|{other}");
    free(p);
    assert_int_equal(anc_judge_prompt("{prompt} {response_a}", "p", "a", "b", &p, &err), ANC_ERR_INVALID);
    assert_non_null(strstr(err.message, "{response_b}"));
    char *dir = tu_tmpdir(), *path = tu_path(dir, "judge.txt"), *tmpl = NULL;
    write_text(path, "{prompt}\n{response_a}\n{response_b}\n");
    TU_CHECK(anc_judge_template_load(path, &tmpl, &err), &err);
    assert_string_equal(tmpl, "{prompt}\n{response_a}\n{response_b}");
    free(tmpl);
    write_text(path, "{prompt}\n{response_a}\n");
    assert_int_equal(anc_judge_template_load(path, &tmpl, &err), ANC_ERR_FORMAT);
    assert_non_null(strstr(err.message, "judge.txt: template has no {response_b} placeholder"));
    tu_rmtree(dir);
    free(path);
    free(dir);
}

static anc_verdict verdict(const char *reply) {
    anc_verdict v = ANC_VERDICT_NONE;
    anc_error err = {0};
    anc_status st = anc_judge_parse(reply, strlen(reply), &v, &err);
    if (st) {
        assert_int_equal(st, ANC_ERR_FORMAT);
        assert_int_equal(v, ANC_VERDICT_NONE);
        assert_non_null(strstr(err.message, "no verdict line"));
    }
    return v;
}

static void test_judge_parse(void **state) {
    (void)state;
    assert_int_equal(verdict("Verdict: A"), ANC_VERDICT_A);
    assert_int_equal(verdict("Both are fine, but B is clearer.\n\nverdict: b\n"), ANC_VERDICT_B);
    assert_int_equal(verdict("**Verdict:** B"), ANC_VERDICT_B);
    assert_int_equal(verdict("**Verdict**: A\r\n"), ANC_VERDICT_A);
    assert_int_equal(verdict("### Final Verdict: [[B]]"), ANC_VERDICT_B);
    assert_int_equal(verdict("Verdict: Tie."), ANC_VERDICT_TIE);
    assert_int_equal(verdict("Verdict: draw"), ANC_VERDICT_TIE);
    assert_int_equal(verdict("VERDICT = Response A!"), ANC_VERDICT_A);
    assert_int_equal(verdict("> Verdict: `Assistant B`"), ANC_VERDICT_B);
    assert_int_equal(verdict("- **Final verdict:** \"A\""), ANC_VERDICT_A);
    /* the last verdict line wins */
    assert_int_equal(verdict("Verdict: A\nOn reflection...\nVerdict: B\nThanks."), ANC_VERDICT_B);
    /* prose that mentions a verdict is not one */
    assert_int_equal(verdict("Verdict: A is longer but B is right."), ANC_VERDICT_NONE);
    assert_int_equal(verdict("My verdict: after much thought"), ANC_VERDICT_NONE);
    assert_int_equal(verdict("Verdict: Apple"), ANC_VERDICT_NONE);
    assert_int_equal(verdict("The verdict is unclear."), ANC_VERDICT_NONE);
    assert_int_equal(verdict(""), ANC_VERDICT_NONE);
    /* MT-Bench tokens as a fallback */
    assert_int_equal(verdict("Assistant A is better. [[A]]"), ANC_VERDICT_A);
    assert_int_equal(verdict("[[A]] was my first thought, final: [[C]]"), ANC_VERDICT_TIE);
    assert_int_equal(verdict("[[b]]"), ANC_VERDICT_B);
    anc_verdict v;
    assert_int_equal(anc_judge_parse(NULL, 0, &v, NULL), ANC_ERR_FORMAT);
}

static void test_judge_combine(void **state) {
    (void)state;
    const anc_verdict vs[4] = {ANC_VERDICT_NONE, ANC_VERDICT_A, ANC_VERDICT_B, ANC_VERDICT_TIE};
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) {
            anc_judge_outcome want = ANC_JUDGE_INCONSISTENT;
            if (vs[i] == ANC_VERDICT_A && vs[j] == ANC_VERDICT_B) want = ANC_JUDGE_FIRST;
            if (vs[i] == ANC_VERDICT_B && vs[j] == ANC_VERDICT_A) want = ANC_JUDGE_SECOND;
            if (vs[i] == ANC_VERDICT_TIE && vs[j] == ANC_VERDICT_TIE) want = ANC_JUDGE_TIE;
            assert_int_equal(anc_judge_combine(vs[i], vs[j]), want);
        }
    assert_string_equal(anc_judge_outcome_name(ANC_JUDGE_FIRST), "first");
    assert_string_equal(anc_judge_outcome_name(ANC_JUDGE_INCONSISTENT), "inconsistent");
    assert_string_equal(anc_verdict_name(ANC_VERDICT_TIE), "tie");
    assert_string_equal(anc_verdict_name(ANC_VERDICT_NONE), "none");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reviser_prompt),
        cmocka_unit_test(test_marker_styles),
        cmocka_unit_test(test_unwrapping),
        cmocka_unit_test(test_real_replies),
        cmocka_unit_test(test_judge_prompt),
        cmocka_unit_test(test_judge_parse),
        cmocka_unit_test(test_judge_combine),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
