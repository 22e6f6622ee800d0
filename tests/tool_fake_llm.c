/* A fake LLM for `exec:` backends in tests. Reads the OpenAI-style request
 * JSON on stdin and prints a reply on stdout, by mode:
 *
 *   tool_fake_llm replay FIXTURE.jsonl LOG   CLAIR reviser replaying real replies:
 *        finds the row of FIXTURE whose student_solution is the draft in the
 *        prompt and prints its completion (exit 3 when none matches)
 *   tool_fake_llm revise LOG [SLEEP_MS]      CLAIR reviser answering any draft:
 *        rationale + "{corrected_student_solution}:" + the draft upper-cased
 *   tool_fake_llm judge LOG BIAS             pairwise judge that prefers the
 *        response with more 'x' characters; BIAS=a answers A on ties
 *   tool_fake_llm answer LOG                 "stronger" model: answers "ANSWER: " + prompt
 *
 * Each completed reply appends one line to LOG (the request's first 60
 * characters of the user message), so tests count the requests answered. */
#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static char *between(const char *s, const char *start, const char *end) {
    const char *a = strstr(s, start);
    if (!a) return NULL;
    a += strlen(start);
    const char *b = end ? strstr(a, end) : a + strlen(a);
    if (!b) return NULL;
    return strndup(a, (size_t)(b - a));
}

static void log_line(const char *path, const char *content) {
    FILE *f = fopen(path, "a");
    if (!f) return;
    fprintf(f, "%.60s\n", content);
    fclose(f);
}

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    json_error_t je;
    json_t *req = json_loadf(stdin, 0, &je);
    if (!req) return 2;
    json_t *msgs = json_object_get(req, "messages");
    const char *content = json_string_value(json_object_get(json_array_get(msgs, json_array_size(msgs) - 1), "content"));
    if (!content) return 2;
    const char *mode = argv[1];
    if (!strcmp(mode, "replay")) {
        if (argc < 4) return 2;
        char *draft = between(content, "{student_solution}: ", "\n\n-----------------");
        if (!draft) return 3;
        FILE *f = fopen(argv[2], "r");
        if (!f) return 2;
        char *line = NULL;
        size_t cap = 0;
        int found = 0;
        while (getline(&line, &cap, f) > 0) {
            json_t *row = json_loads(line, 0, &je);
            const char *sol = json_string_value(json_object_get(row, "student_solution"));
            if (sol && !strcmp(sol, draft)) {
                fputs(json_string_value(json_object_get(row, "completion")), stdout);
                found = 1;
            }
            json_decref(row);
            if (found) break;
        }
        free(line);
        fclose(f);
        free(draft);
        if (!found) return 3;
        log_line(argv[3], content);
    } else if (!strcmp(mode, "revise")) {
        char *draft = between(content, "{student_solution}: ", "\n\n-----------------");
        if (!draft) return 3;
        if (argc > 3) {
            long ms = atol(argv[3]);
            struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
            nanosleep(&ts, NULL);
        }
        for (char *c = draft; *c; c++) *c = (char)toupper((unsigned char)*c);
        printf("{teacher_reasoning}: The answer should be louder.\n\n{corrected_student_solution}: %s\n", draft);
        free(draft);
        log_line(argv[2], content);
    } else if (!strcmp(mode, "judge")) {
        char *a = between(content, "[The Start of Response A]\n", "\n[The End of Response A]");
        char *b = between(content, "[The Start of Response B]\n", "\n[The End of Response B]");
        if (!a || !b) return 3;
        int xa = 0, xb = 0;
        for (char *c = a; *c; c++) xa += *c == 'x';
        for (char *c = b; *c; c++) xb += *c == 'x';
        const char *v = xa > xb ? "A" : xb > xa ? "B" : (argc > 3 && !strcmp(argv[3], "a")) ? "A" : "tie";
        printf("Both are fine.\nVerdict: %s\n", v);
        free(a);
        free(b);
        log_line(argv[2], content);
    } else if (!strcmp(mode, "answer")) {
        printf("ANSWER: %s", content);
        log_line(argv[2], content);
    } else {
        return 2;
    }
    json_decref(req);
    return 0;
}
