/* Tests for the chat-template engine (src/jinja/template*.c).
 *
 * - Every case of ../shared/fixtures/chat-templates/hf_render_cases.json must
 *   render byte for byte (skipped when the fixtures folder is absent).
 * - Construct tables: the expected strings were produced by Python jinja2
 *   3.1.6 set up as transformers sets it up (ImmutableSandboxedEnvironment,
 *   trim_blocks, lstrip_blocks, loopcontrols, tojson = json.dumps with
 *   ensure_ascii=False, strftime_now pinned to 2025-07-10T12:00:00Z).
 * - Errors: syntax positions, raise_exception messages, unknown filters,
 *   undefined values, limits.
 * - A fuzz-style sweep feeds truncated and mutated fixture templates to
 *   compile + render; it must never crash (run under ASan/UBSan too).
 * - Built-in templates render a 3-message conversation to their formats. */
#include "testutil.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jinja/template.h"

#define NOW_2025_07_10_NOON 1752148800 /* 2025-07-10T12:00:00Z */

typedef struct tcase {
    const char *tpl;
    const char *ctx; /* JSON object or NULL */
    const char *expected;
} tcase;

static const char CTX[] =
    "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi  there\"}, {\"role\": \"assistant\", \"content\": "
    "\"Yo\"}], \"d\": {\"b\": 1, \"a\": [1, 2.5, null, true], \"c\": \"x\\\"y\"}, \"s\": \"Hello World\", "
    "\"l\": [3, 1, 2], \"u\": \"h\303\251llo\"}";

static json_t *parse_json(const char *text) {
    if (!text) return NULL;
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    if (!j) fail_msg("bad test JSON: %s (%s)", je.text, text);
    return j;
}

/* Compiles and renders; returns the status, *out (malloc'd) on success. */
static anc_status render_n(const char *src, size_t len, const char *ctx_json, const anc_template_options *opts,
                           char **out, size_t *out_len, anc_error *err) {
    anc_template *t = NULL;
    *out = NULL;
    anc_status st = anc_template_compile(&t, src, len, "t", err);
    if (st != ANC_OK) {
        assert_null(t);
        return st;
    }
    json_t *ctx = parse_json(ctx_json);
    anc_template_options def;
    memset(&def, 0, sizeof def);
    def.has_now = 1;
    def.now_utc = NOW_2025_07_10_NOON;
    st = anc_template_render(t, ctx, opts ? opts : &def, out, out_len, err);
    json_decref(ctx);
    anc_template_free(t);
    return st;
}

static anc_status render(const char *src, const char *ctx_json, char **out, anc_error *err) {
    return render_n(src, strlen(src), ctx_json, NULL, out, NULL, err);
}

static void expect_render(const char *src, const char *ctx_json, const char *expected) {
    char *out;
    anc_error err;
    anc_status st = render(src, ctx_json, &out, &err);
    if (st != ANC_OK) fail_msg("template %s\nfailed: %s", src, err.message);
    if (strcmp(out, expected) != 0) fail_msg("template %s\n  got      [%s]\n  expected [%s]", src, out, expected);
    free(out);
}

static void expect_error(const char *src, const char *ctx_json, anc_status code, const char *needle) {
    char *out = NULL;
    anc_error err;
    anc_status st = render(src, ctx_json, &out, &err);
    if (st == ANC_OK) fail_msg("template %s\nrendered [%s], expected an error", src, out);
    assert_null(out);
    if (st != code)
        fail_msg("template %s\nstatus %s (%s), expected %s", src, anc_status_name(st), err.message,
                 anc_status_name(code));
    if (needle && !strstr(err.message, needle))
        fail_msg("template %s\nmessage \"%s\" lacks \"%s\"", src, err.message, needle);
}

static void run_table(const tcase *cases, size_t n) {
    for (size_t i = 0; i < n; i++) expect_render(cases[i].tpl, cases[i].ctx, cases[i].expected);
}

#define RUN_TABLE(t) run_table(t, sizeof(t) / sizeof((t)[0]))

/* Generated from jinja2 3.1.6 configured like transformers (see the file comment). */
static const tcase CASES_LITERALS[] = {
    {"{{ 'a\\tb\\x41\\u00e9' }}|{{ \"q\\\"\" }}|{{ 'a' 'b' }}", NULL, "a\tbA\303\251|q\"|ab"},
    {"{{ 42 }} {{ 1_000 }} {{ 0x1F }} {{ 2.5 }} {{ 1e3 }} {{ 1.5e-7 }} {{ 1e16 }} {{ 0.1 + 0.2 }} {{ -0.0 }}", NULL,
     "42 1000 31 2.5 1000.0 1.5e-07 1e+16 0.30000000000000004 -0.0"},
    {"{{ true }} {{ True }} {{ false }} {{ none }} {{ None }} {{ [1, 'a', none, true, 1.5] }} {{ {'k': [1, (2, 3)]} }} "
     "{{ (1,) }}",
     NULL, "True True False None None [1, 'a', None, True, 1.5] {'k': [1, (2, 3)]} (1,)"},
    {"{{ [\"it's\", 'say \"hi\"', 'both \\' \"', 'nl\\n'] }}", NULL,
     "[\"it's\", 'say \"hi\"', 'both \\' \"', 'nl\\n']"},
    {"{{ 'x', 1 }}", NULL, "('x', 1)"},
};
static const tcase CASES_ARITHMETIC[] = {
    {"{{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ 7 / 2 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 7.5 % 2 }} "
     "{{ -7.5 // 2 }}",
     NULL, "7 9 3.5 3 -4 1 2 1.5 -4.0"},
    {"{{ 2 ** 10 }} {{ 2 ** -1 }} {{ 2 ** 3 ** 2 }} {{ -2 ** 2 }} {{ 10 / 4 * 2 }} {{ true + 1 }}", NULL,
     "1024 0.5 64 4 5.0 2"},
    {"{{ 'a' ~ 1 ~ none ~ true ~ undefined_thing }}|{{ 'ab' * 3 }}|{{ [1] * 2 }}|{{ [1] + [2] }}|{{ 'a' + 'b' }}", NULL,
     "a1NoneTrue|ababab|[1, 1]|[1, 2]|ab"},
    {"{{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ 1 == 1.0 }} {{ true == 1 }} {{ (1, 2) == [1, 2] }} {{ 'a' != 'b' }} {{ 'b' >= "
     "'a' }} {{ [1, 2] < [1, 3] }}",
     NULL, "True False True True False True True True"},
    {"{{ 1 and 2 }} {{ 0 and 2 }} {{ 0 or 'z' }} {{ '' or none }} {{ not 1 }} {{ not 0 and 1 }} {{ 'a' if 1 else 'b' "
     "}}{{ 'a' if 0 else 'b' }}[{{ 'a' if 0 }}]",
     NULL, "2 0 z None False 1 ab[]"},
    {"{{ 'll' in s }} {{ 'x' not in s }} {{ 1 in l }} {{ 'a' in d }} {{ 'zz' in d }} {{ none in [none] }}", CTX,
     "True True True True False True"},
};
static const tcase CASES_ACCESS[] = {
    {"{{ s[0] }}{{ s[-1] }}|{{ s[1:3] }}|{{ s[::-1] }}|{{ s[::2] }}|{{ s[-5:] }}|{{ l[1:] }}{{ l[:-1] }}{{ l[::-1] "
     "}}[{{ l[10] }}]{{ u[1:3] }}{{ u[::-1] }}",
     CTX, "Hd|el|dlroW olleH|HloWrd|World|[1, 2][3, 1][2, 1, 3][]\303\251loll\303\251h"},
    {"{{ d.a }}|{{ d['c'] }}|{{ d.a[1] }}|{{ d.a.1 }}|{{ d['a'][-1] }}|[{{ d.zz }}]|{{ messages[0].role }}|{{ "
     "messages[-1]['content'] }}",
     CTX, "[1, 2.5, None, True]|x\"y|2.5|2.5|True|[]|user|Yo"},
};
static const tcase CASES_CONTROL[] = {
    {"{% if l %}yes{% elif x %}no{% else %}never{% endif %}|{% if x %}a{% elif s == 'nope' %}b{% else %}c{% endif %}",
     CTX, "yes|c"},
    {"{% for x in l %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ "
     "loop.last }}{{ loop.length }}[{{ loop.previtem }}|{{ loop.nextitem }}];{% endfor %}",
     CTX, "1032TrueFalse3[|1];2121FalseFalse3[3|2];3210FalseTrue3[1|];"},
    {"{% for x in l if x > 1 %}{{ loop.index }}/{{ loop.length }}:{{ x }}{% if not loop.last %},{% endif %}{% else "
     "%}none{% endfor %}|{% for x in [] %}a{% else %}empty{% endfor %}|{% for x in l if x > 5 %}a{% else "
     "%}filtered-empty{% endfor %}",
     CTX, "1/2:3,2/2:2|empty|filtered-empty"},
    {"{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}|{% for k, v in d|items %}{{ k }}{% endfor %}|{% for k in "
     "d %}{{ k }}{% endfor %}|{% for c in 'ab' %}{{ c }}.{% endfor %}",
     CTX, "b=1;a=[1, 2.5, None, True];c=x\"y;|bac|bac|a.b."},
    {"{% for x in [1, 2, 3, 4, 5] %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 4 %}{% break %}{% endif %}{{ x "
     "}}{% endfor %}",
     NULL, "13"},
    {"{% for a in [1, 2] %}{% for b in 'xy' %}{{ a }}{{ b }}{{ loop.index }}{% endfor %}{{ loop.index }} {% endfor %}",
     NULL, "1x11y21 2x12y22 "},
    {"{% for m in messages %}{{ loop.cycle('odd', 'even') }}{% endfor %}", CTX, "oddeven"},
    {"{% for a, b in [[1, 2], (3, 4)] %}{{ a + b }}{% endfor %}", NULL, "37"},
    {"{% for v in [1, 2] %}{% break %}{% else %}E1{% endfor %}|{% for v in [1, 2] %}{{ v }}{% if v == 2 %}{% break "
     "%}{% endif %}{% else %}E2{% endfor %}|{% for v in [1] %}{% continue %}{% else %}E3{% endfor %}",
     NULL, "E1|12|E3"},
};
static const tcase CASES_SCOPING[] = {
    {"{% set x = 0 %}{% for i in range(3) %}{{ x }}{% set x = x + 1 %}{{ x }},{% endfor %}{{ x }}", NULL, "01,01,01,0"},
    {"{% set ns = namespace(c=0, s='') %}{% for x in [3, 1, 2] %}{% set ns.c = ns.c + x %}{% set ns.s = ns.s ~ x %}{% "
     "endfor %}{{ ns.c }} {{ ns.s }} {{ ns }}",
     NULL, "6 312 <Namespace {'c': 6, 's': '312'}>"},
    {"{% set a, b = 1, 2 %}{{ a }}{{ b }}{% set t = (1,) %}{{ t }}{% if true %}{% set inner = 'kept' %}{% endif %}{{ "
     "inner }}",
     NULL, "12(1,)kept"},
    {"{% set x %}inner {{ 1 }}{% endset %}[{{ x }}]{% set y | upper %}abc{% endset %}{{ y }}", NULL, "[inner 1]ABC"},
    {"{% with a = 5, b = 6 %}{{ a }}{{ b }}{% endwith %}[{{ a }}]", NULL, "56[]"},
    {"{% set messages = messages[1:] %}{{ messages|length }}", CTX, "1"},
};
static const tcase CASES_MACROS[] = {
    {"{% macro m(a, b=2) %}[{{ a }}-{{ b }}]{% endmacro %}{{ m(1) }}{{ m(1, 3) }}{{ m(b=5, a=0) }}{{ m() }}", NULL,
     "[1-2][1-3][0-5][-2]"},
    {"{% macro f(x) %}{{ x }}{{ varargs }}{{ kwargs }}{% endmacro %}{{ f(1, 2, y=3) }}", NULL, "1(2,){'y': 3}"},
    {"{% macro outer(t) %}<{{ t }}:{{ caller() }}>{% endmacro %}{% call outer('T') %}in{% endcall %}", NULL, "<T:in>"},
    {"{% macro fact(n) %}{% if n <= 1 %}1{% else %}{{ n * (fact(n - 1)|int) }}{% endif %}{% endmacro %}{{ fact(5) }}",
     NULL, "120"},
    {"{% set g = 1 %}{% macro m() %}{{ g }}{% endmacro %}{% set g = 2 %}{{ m() }}|{% macro t() %}  x  {% endmacro "
     "%}[{{ t()|trim }}]",
     NULL, "2|[x]"},
    {"{% filter upper %}hello {{ 'w' }}{% endfilter %}", NULL, "HELLO W"},
};
static const tcase CASES_FILTERS[] = {
    {"{{ s|lower }}|{{ s|upper }}|{{ 'hello wORLD-foo(bar'|title }}|{{ 'aBc dEF'|capitalize }}|{{ u|upper }}", CTX,
     "hello world|HELLO WORLD|Hello World-Foo(Bar|Abc def|H\303\211LLO"},
    {"[{{ '  x  '|trim }}]{{ 'xxaxx'|trim('x') }}|{{ s|length }}{{ u|length }}{{ l|count }}{{ d|length }}", CTX,
     "[x]a|11533"},
    {"{{ l|first }}{{ l|last }}|{{ l|join('-') }}|{{ l|join }}|{{ l|sort }}{{ l|sort(reverse=true) }}|{{ "
     "l|reverse|list }}{{ s|reverse }}",
     CTX, "32|3-1-2|312|[1, 2, 3][3, 2, 1]|[2, 1, 3]dlroW olleH"},
    {"{{ x|default('dflt') }}|{{ ''|default('dflt') }}|{{ ''|default('dflt', true) }}|{{ none|d('n') }}|{{ s|d('n') }}",
     CTX, "dflt||dflt|None|Hello World"},
    {"{{ s|replace('o', '0') }}|{{ s|replace('o', '0', 1) }}|{{ l|list }}{{ 'ab'|list }}{{ d|list }}", CTX,
     "Hell0 W0rld|Hell0 World|[3, 1, 2]['a', 'b']['b', 'a', 'c']"},
    {"{{ messages|selectattr('role', 'equalto', 'user')|list }}|{{ messages|rejectattr('role', 'eq', "
     "'user')|map(attribute='content')|list }}|{{ messages|selectattr('nope')|list }}",
     CTX, "[{'role': 'user', 'content': 'Hi  there'}]|['Yo']|[]"},
    {"{{ messages|map(attribute='content')|join(', ') }}|{{ messages|map(attribute='nope', default='D')|list }}|{{ "
     "l|map('string')|list }}|{{ ['a', 'B']|map('upper')|list }}",
     CTX, "Hi  there, Yo|['D', 'D']|['3', '1', '2']|['A', 'B']"},
    {"{{ l|select('odd')|list }}{{ l|reject('even')|list }}{{ [0, 1, '', 'a']|select|list }}{{ [1, 2, 3]|select('gt', "
     "1)|list }}",
     CTX, "[3, 1][3, 1][1, 'a'][2, 3]"},
    {"{{ 3|string }}|{{ '42'|int }}|{{ '4.7'|int }}|{{ 'x'|int }}|{{ 'x'|int(9) }}|{{ '0x1A'|int(0, 16) }}|{{ "
     "'2.5'|float }}|{{ 3|float }}|{{ -7|abs }}|{{ 2.5|round }}|{{ 3.5|round }}|{{ 3.14159|round(2) }}|{{ 3|round "
     "}}|{{ 2.1|round(0, 'ceil') }}",
     NULL, "3|42|4|0|9|26|2.5|3.0|7|2.0|4.0|3.14|3|3.0"},
    {"{{ ['a', 'A', 'b']|unique|list }}|{{ {'b': 1, 'A': 2, 'a': 0}|dictsort }}|{{ {'b': 1, 'a': "
     "2}|dictsort(by='value') }}|{{ ['b', 'A', 'c']|sort }}|{{ ['b', 'A', 'c']|sort(case_sensitive=true) }}",
     NULL, "['a', 'b']|[('A', 2), ('a', 0), ('b', 1)]|[('b', 1), ('a', 2)]|['A', 'b', 'c']|['A', 'b', 'c']"},
    {"{{ '<a href=\"x\">&\\''|e }}|{{ '<b>'|safe }}|{{ 'a\\nb\\n\\nc'|indent(2) }}|{{ 'x\\ny'|indent(2, true) }}|{{ "
     "'a\\n\\nb'|indent(1, blank=true) }}",
     NULL, "&lt;a href=&#34;x&#34;&gt;&amp;&#39;|<b>|a\n  b\n\n  c|  x\n  y|a\n \n b"},
    {"{{ [1, 2, 3]|sum }} {{ l|max }} {{ l|min }} {{ ['b', 'A']|max }} {{ "
     "messages|map(attribute='content')|map('length')|sum }} {{ [[1], [2]]|sum(start=[]) }}",
     CTX, "6 3 1 b 11 [1, 2]"},
    {"{{ [1, 2, 3, 4, 5]|batch(2)|list }} {{ [1, 2, 3]|batch(2, 0)|list }} {{ 'one two, three'|wordcount }} {{ "
     "'ab'|center(6) }}|",
     NULL, "[[1, 2], [3, 4], [5]] [[1, 2], [3, 0]] 3   ab  |"},
    {"{{ '%s and %d' % ('a', 3) }}|{{ '%05.1f|%-4s|%x|%r' % (2.25, 'ab', 255, 'q') }}|{{ '%s'|format(l) }}|{{ "
     "'%s-%s'|format(1, 2) }}|{{ '%(a)s!' % {'a': 1} }}",
     CTX, "a and 3|002.2|ab  |ff|'q'|[3, 1, 2]|1-2|1!"},
    {"{{ d|attr('a') }}|{{ s|attr('upper') is callable }}", CTX, "|True"},
    {"{{ 'T' if [1]|select('gt', 10) else 'F' }}{{ 'T' if []|map('upper') else 'F' }}{{ 'T' if {}|items else 'F' }}{{ "
     "'T' if {}.items() else 'F' }}|{{ d.items() }}|{{ d.keys() }}|{{ l|unique|list }}",
     CTX,
     "TTTF|dict_items([('b', 1), ('a', [1, 2.5, None, True]), ('c', 'x\"y')])|dict_keys(['b', 'a', 'c'])|[3, 1, 2]"},
    {"[{{ '\302\240x\343\200\200 '|trim }}][{{ ' \342\200\250y\t'.strip() }}][{{ 'a\302\240b c'.split() }}]|{{ 1.5 is "
     "odd }}{{ 3 is odd }}{{ 4.0 is even }}",
     NULL, "[x][y][['a', 'b', 'c']]|FalseTrueTrue"},
};
static const tcase CASES_TESTS[] = {
    {"{{ x is defined }}{{ s is defined }}{{ x is undefined }}{{ none is none }}{{ s is string }}{{ d is mapping }}{{ "
     "l is iterable }}{{ s is iterable }}{{ x is iterable }}",
     CTX, "FalseTrueTrueTrueTrueTrueTrueTrueTrue"},
    {"{{ 1 is number }}{{ 1.5 is float }}{{ 1 is integer }}{{ true is integer }}{{ true is boolean }}{{ true is true "
     "}}{{ 0 is false }}{{ false is false }}{{ l is sequence }}{{ d is sequence }}",
     CTX, "TrueTrueTrueFalseTrueTrueFalseTrueTrueTrue"},
    {"{{ 4 is even }}{{ 3 is odd }}{{ 9 is divisibleby 3 }}{{ 9 is divisibleby(2) }}{{ 1 is in l }}{{ 'x' is lower "
     "}}{{ 'X' is upper }}{{ 2 is eq 2 }}{{ 2 is gt 1 }}{{ 2 is le 1 }}{{ 'trim' is filter }}{{ 'odd' is test }}{{ l "
     "is sameas l }}",
     CTX, "TrueTrueTrueFalseTrueTrueTrueTrueTrueFalseTrueTrueTrue"},
    {"{{ s is not string }}{{ x is not defined }}{{ not x is defined }}{{ d.zz is not none }}", CTX,
     "FalseTrueTrueTrue"},
};
static const tcase CASES_METHODS[] = {
    {"{{ '  x '.strip() }}|{{ ' x '.lstrip() }}|{{ ' x '.rstrip() }}|{{ 'xxhixx'.strip('x') }}|{{ s.split() }}{{ "
     "s.split('o') }}{{ 'a,b,c'.split(',', 1) }}{{ 'a b c'.rsplit(' ', 1) }}{{ '  a  b  '.split(None, 1) }}",
     CTX, "x|x | x|hi|['Hello', 'World']['Hell', ' W', 'rld']['a', 'b,c']['a b', 'c']['a', 'b  ']"},
    {"{{ s.startswith('He') }}{{ s.endswith('x') }}{{ s.startswith(('x', 'H')) }}|{{ s.upper() }}{{ s.lower() }}{{ "
     "s.replace('l', 'L') }}{{ s.replace('l', 'L', 2) }}{{ 'hi there'.title() }}{{ 'hI'.capitalize() }}{{ "
     "'Ab'.swapcase() }}",
     CTX, "TrueFalseTrue|HELLO WORLDhello worldHeLLo WorLdHeLLo WorldHi ThereHiaB"},
    {"{{ s.find('o') }}{{ s.rfind('o') }}{{ s.find('z') }}{{ s.count('l') }}{{ u.find('l') }}{{ '-'.join(['a', 'b']) "
     "}}{{ s.center(15, '*') }}{{ '5'.zfill(3) }}{{ 'ab'.ljust(4, '.') }}{{ 'ab'.rjust(4) }}",
     CTX, "47-132a-b**Hello World**005ab..  ab"},
    {"{{ d.get('a') }}{{ d.get('zz') }}{{ d.get('zz', 1) }}{{ d.keys()|list }}{{ d.values()|list }}{{ d.items()|list "
     "}}{{ l.count(1) }}{{ l.index(2) }}",
     CTX,
     "[1, 2.5, None, True]None1['b', 'a', 'c'][1, [1, 2.5, None, True], 'x\"y'][('b', 1), ('a', [1, 2.5, None, True]), "
     "('c', 'x\"y')]12"},
    {"{{ 'a\\nb\\r\\nc'.splitlines() }}{{ 'abc'.partition('b') }}{{ 'abc'.rpartition('x') }}{{ "
     "'abcabc'.removeprefix('ab') }}{{ '12'.isdigit() }}{{ 'ab'.isalpha() }}{{ ' '.isspace() }}",
     NULL, "['a', 'b', 'c']('a', 'b', 'c')('', '', 'abc')cabcTrueTrueTrue"},
    {"{{ '{} {}'.format(1, 'a') }}|{{ '{0}{1}{0}'.format('x', 'y') }}|{{ '{a}!{{}}'.format(a=3) }}|{{ "
     "'{!r}'.format('q') }}",
     NULL, "1 a|xyx|3!{}|'q'"},
};
static const tcase CASES_GLOBALS[] = {
    {"{{ range(3)|list }}{{ range(1, 7, 2)|list }}{{ range(5, 0, -2)|list }}{{ range(0)|list }}|{{ dict(a=1, b='x') "
     "}}|{{ namespace(a=1).a }}|{{ namespace({'k': 2}).k }}",
     NULL, "[0, 1, 2][1, 3, 5][5, 3, 1][]|{'a': 1, 'b': 'x'}|1|2"},
    {"{{ strftime_now('%d %B %Y') }}|{{ strftime_now('%Y-%m-%d %H:%M:%S %a %A %b %j %-d %e %I%p %y %%') }}|{{ "
     "strftime_now('%d %b %Y') }}",
     NULL, "10 July 2025|2025-07-10 12:00:00 Thu Thursday Jul 191 10 10 12PM 25 %|10 Jul 2025"},
};
static const tcase CASES_TOJSON[] = {
    {"{{ d|tojson }}|{{ u|tojson }}|{{ l|tojson(sort_keys=true) }}|{{ {'b': 1, 'a': 2}|tojson(sort_keys=true) }}", CTX,
     "{\"b\": 1, \"a\": [1, 2.5, null, true], \"c\": \"x\\\"y\"}|\"h\303\251llo\"|[3, 1, 2]|{\"a\": 2, \"b\": 1}"},
    {"{{ d|tojson(indent=2) }}|{{ {'a': [], 'b': {}}|tojson(indent=4) }}|{{ [1, [2]]|tojson(indent='\\t') }}", CTX,
     "{\n  \"b\": 1,\n  \"a\": [\n    1,\n    2.5,\n    null,\n    true\n  ],\n  \"c\": \"x\\\"y\"\n}|{\n    \"a\": "
     "[],\n    \"b\": {}\n}|[\n\t1,\n\t[\n\t\t2\n\t]\n]"},
    {"{{ '\\u0001\\u007f\\b\\f\\n\\r\\t\"\\\\/'|tojson }}|{{ {'\303\251': "
     "'\303\274\360\237\230\200'}|tojson(ensure_ascii=true) }}|{{ [1.0, 2.5e20, -0.5, 1e-7, true, none]|tojson }}|{{ "
     "{1: 'a', none: 'b'}|tojson }}|{{ [1, 2]|tojson(separators=(',', ':')) }}",
     NULL,
     "\"\\u0001\177\\b\\f\\n\\r\\t\\\"\\\\/\"|{\"\\u00e9\": \"\\u00fc\\ud83d\\ude00\"}|[1.0, 2.5e+20, -0.5, 1e-07, "
     "true, null]|{\"1\": \"a\", \"null\": \"b\"}|[1,2]"},
};
static const tcase CASES_WHITESPACE[] = {
    {"a\n  {% if true %}\n    b\n  {% endif %}\nc\n", NULL,
     "a\n    b\nc"},
    {"a  {% if true %}  b  {% endif %}  c", NULL,
     "a    b    c"},
    {"  {%- if true -%}  b  {%- endif -%}  |", NULL,
     "b|"},
    {"x\n{{- 'N' -}}\ny|x {{ 'N' }} y\n", NULL,
     "xNy|x N y"},
    {"{% for x in [1, 2] %}\n  {{ x }}\n{% endfor %}\n", NULL,
     "  1\n  2\n"},
    {"{% for x in [1, 2] %}\n  {{- x }}\n{%- endfor %}", NULL,
     "12"},
    {"a\n  {# comment #}\nb|a  {#- c -#}  b", NULL,
     "a\nb|ab"},
    {"a\n  {%+ if true %}x{% endif +%}\nb", NULL,
     "a\n  x\nb"},
    {"{% raw %}{{ not parsed }}{% endraw %}|a\n  {% raw %}\n  {{ x }}\n  {% endraw %}\nb", NULL,
     "{{ not parsed }}|a\n\n  {{ x }}\nb"},
    {"a\r\nb\r\n{% if true %}\r\nc\r\n{% endif %}\r\n", NULL,
     "a\nb\nc\n"},
    {"trailing\n\n", NULL,
     "trailing\n"},
    {"{{ {'a': {'b': 1}} }}|{{ {'a': 1}}}", NULL,
     "{'a': {'b': 1}}|{'a': 1}"},
    {"line1\n    {%- if true %}\n    inner\n    {%- endif %}\nline2", NULL,
     "line1    innerline2"},
    {"{% macro m() -%}\n  body\n{%- endmacro %}[{{ m() }}]", NULL,
     "[body]"},
    {"x   {%- if true %} y {% endif -%}   z", NULL,
     "x y z"},
    {"{%- generation -%}\n  G\n{%- endgeneration -%}", NULL,
     "G"},
};

/* ---------------------------------------------------------------- tables */

#define TABLE_TEST(name, table)      \
    static void name(void **state) { \
        (void)state;                  \
        RUN_TABLE(table);             \
    }

TABLE_TEST(test_literals, CASES_LITERALS)
TABLE_TEST(test_arithmetic_and_logic, CASES_ARITHMETIC)
TABLE_TEST(test_attribute_item_slice, CASES_ACCESS)
TABLE_TEST(test_if_and_for, CASES_CONTROL)
TABLE_TEST(test_set_scoping_namespace, CASES_SCOPING)
TABLE_TEST(test_macros_call_filter_blocks, CASES_MACROS)
TABLE_TEST(test_filters, CASES_FILTERS)
TABLE_TEST(test_tests, CASES_TESTS)
TABLE_TEST(test_methods, CASES_METHODS)
TABLE_TEST(test_globals_strftime, CASES_GLOBALS)
TABLE_TEST(test_tojson, CASES_TOJSON)
TABLE_TEST(test_whitespace_control, CASES_WHITESPACE)

/* ---------------------------------------------------------------- fixtures */

/* "2025-07-10T12:00:00.000Z" -> seconds since the epoch (UTC). */
static int64_t parse_utc(const char *s) {
    int y, mo, d, h, mi, sec;
    if (sscanf(s, "%d-%d-%dT%d:%d:%d", &y, &mo, &d, &h, &mi, &sec) != 6) fail_msg("bad now_utc %s", s);
    y -= mo <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    int64_t days = era * 146097 + doe - 719468;
    return days * 86400 + h * 3600 + mi * 60 + sec;
}

static json_t *load_fixture_cases(void) {
    char *path = tu_shared_fixture("chat-templates/hf_render_cases.json");
    if (!path) return NULL;
    json_error_t je;
    json_t *cases = json_load_file(path, 0, &je);
    if (!cases) fail_msg("%s: %s", path, je.text);
    free(path);
    assert_true(json_is_array(cases));
    return cases;
}

static void test_hf_fixtures(void **state) {
    (void)state;
    json_t *cases = load_fixture_cases();
    if (!cases) skip();
    size_t i, passed = 0;
    json_t *c;
    json_array_foreach(cases, i, c) {
        const char *model = json_string_value(json_object_get(c, "model"));
        const char *src = json_string_value(json_object_get(c, "chat_template"));
        const char *expected = json_string_value(json_object_get(c, "expected"));
        json_t *now = json_object_get(c, "now_utc");
        assert_non_null(src);
        assert_non_null(expected);
        anc_template *t = NULL;
        anc_error err;
        if (anc_template_compile(&t, src, strlen(src), model, &err) != ANC_OK) {
            print_message("FAIL %s: %s\n", model, err.message);
            continue;
        }
        anc_template_options opts;
        memset(&opts, 0, sizeof opts);
        if (now) {
            opts.has_now = 1;
            opts.now_utc = parse_utc(json_string_value(now));
        }
        char *out = NULL;
        size_t n = 0;
        if (anc_template_render(t, json_object_get(c, "context"), &opts, &out, &n, &err) != ANC_OK) {
            print_message("FAIL %s: %s\n", model, err.message);
        } else if (n != strlen(expected) || memcmp(out, expected, n) != 0) {
            size_t k = 0;
            while (k < n && out[k] == expected[k]) k++;
            print_message("FAIL %s: differs at byte %zu\n  got      [%.80s]\n  expected [%.80s]\n", model, k, out + k,
                          expected + k);
        } else {
            passed++;
        }
        free(out);
        anc_template_free(t);
    }
    print_message("hf_render_cases: %zu/%zu render exactly\n", passed, json_array_size(cases));
    assert_int_equal(passed, json_array_size(cases));
    assert_int_equal(json_array_size(cases), 29);
    json_decref(cases);
}

/* ---------------------------------------------------------------- errors */

static void test_syntax_errors(void **state) {
    (void)state;
    expect_error("hello\n{% for x in xs %}", NULL, ANC_ERR_FORMAT, "t:2:18: syntax error: unexpected end of template");
    expect_error("{{ 1 + }}", NULL, ANC_ERR_FORMAT, "t:1:8:");
    expect_error("a\nb {% if %}", NULL, ANC_ERR_FORMAT, "t:2:9: syntax error: expected an expression");
    expect_error("{{ 'unterminated }}", NULL, ANC_ERR_FORMAT, "t:1:4: syntax error: unterminated string");
    expect_error("{{ [1, 2 }}", NULL, ANC_ERR_FORMAT, "t:1:10: syntax error: unexpected '}', expected ']'");
    expect_error("{% endif %}", NULL, ANC_ERR_FORMAT, "'endif'");
    expect_error("{% if x %}{% endfor %}", NULL, ANC_ERR_FORMAT, "expected 'endif'");
    expect_error("{% bogus %}", NULL, ANC_ERR_FORMAT, "unknown tag 'bogus'");
    expect_error("{# never closed", NULL, ANC_ERR_FORMAT, "t:1:1: syntax error: missing end of comment");
    expect_error("{% break %}", NULL, ANC_ERR_FORMAT, "outside of a for loop");
    expect_error("{{ a b }}", NULL, ANC_ERR_FORMAT, "t:1:6:");
    expect_error("{% macro m(a=1, b) %}{% endmacro %}", NULL, ANC_ERR_FORMAT, "non-default argument");
    expect_error("{{ x is string is string }}", NULL, ANC_ERR_FORMAT, NULL);
    expect_error("{{ 1 }", NULL, ANC_ERR_FORMAT, "unexpected '}'");
    expect_error("{{ '\\x4' }}", NULL, ANC_ERR_FORMAT, "escape");
}

static void test_unsupported(void **state) {
    (void)state;
    expect_error("line one\n  {{ x|bogus_filter }}", NULL, ANC_ERR_UNSUPPORTED,
                 "t:2:8: unsupported: no filter named 'bogus_filter'");
    expect_error("{{ x is bogus_test }}", NULL, ANC_ERR_UNSUPPORTED, "t:1:9: unsupported: no test named 'bogus_test'");
    expect_error("{{ 'abc'|truncate(2) }}", NULL, ANC_ERR_UNSUPPORTED, "filter 'truncate' is not supported");
    expect_error("{% include 'other.jinja' %}", NULL, ANC_ERR_UNSUPPORTED, "t:1:4: unsupported: the 'include' tag");
    expect_error("{% extends 'base' %}", NULL, ANC_ERR_UNSUPPORTED, "'extends'");
    expect_error("{% for x in [] recursive %}{% endfor %}", NULL, ANC_ERR_UNSUPPORTED, "recursive");
    expect_error("{{ f(*xs) }}", NULL, ANC_ERR_UNSUPPORTED, "t:1:6:");
    expect_error("{{ 'a'.expandtabs() }}", NULL, ANC_ERR_UNSUPPORTED, "expandtabs");
    expect_error("{{ lipsum() }}", NULL, ANC_ERR_UNSUPPORTED, "lipsum");
}

static void test_runtime_errors(void **state) {
    (void)state;
    expect_error("ok\n{{ raise_exception('Conversation roles must alternate') }}", NULL, ANC_ERR_INVALID,
                 "t:2:4: raise_exception: Conversation roles must alternate");
    /* The fixture style: raised from inside a loop and an if. */
    expect_error(
        "{% for m in messages %}{% if m.role == 'assistant' %}{{ raise_exception('no assistant: ' ~ m.content) }}"
        "{% endif %}{% endfor %}",
        CTX, ANC_ERR_INVALID, "raise_exception: no assistant: Yo");
    expect_error("{{ x.y }}", NULL, ANC_ERR_INVALID, "t:1:5: UndefinedError: 'x' is undefined");
    expect_error("{{ x + 1 }}", NULL, ANC_ERR_INVALID, "'x' is undefined");
    expect_error("{{ 'a' + 1 }}", NULL, ANC_ERR_INVALID, "can only concatenate str");
    expect_error("{{ 1 / 0 }}", NULL, ANC_ERR_INVALID, "ZeroDivisionError");
    expect_error("{% for x in none %}{% endfor %}", NULL, ANC_ERR_INVALID, "not iterable");
    expect_error("{{ x|tojson }}", NULL, ANC_ERR_INVALID, "not JSON serializable");
    expect_error("{{ l.append(4) }}", CTX, ANC_ERR_INVALID, "unsafe");
    expect_error("{% set s.x = 1 %}", CTX, ANC_ERR_INVALID, "non-namespace");
    expect_error("{% set a, b = [1] %}", NULL, ANC_ERR_INVALID, "not enough values to unpack");
    expect_error("{{ range(1000000)|length }}", NULL, ANC_ERR_INVALID, "range too big");
    expect_error("{{ l < 'a' }}", CTX, ANC_ERR_INVALID, "'<' not supported");
}

static void test_undefined_semantics(void **state) {
    (void)state;
    expect_render("[{{ nope }}][{{ nope|length }}][{{ nope|default('d') }}][{{ nope ~ 'x' }}][{{ nope|list }}]"
                  "[{% if nope %}t{% else %}f{% endif %}][{% for x in nope %}x{% endfor %}][{{ nope is defined }}]"
                  "[{{ nope|items|list }}][{{ d.missing }}][{{ none.attr }}][{{ l[99] }}][{{ nope == nope }}]",
                  CTX, "[][0][d][x][[]][f][][False][[]][][][][True]");
}

static void test_limits(void **state) {
    (void)state;
    char *out = NULL;
    anc_error err;
    /* Unbounded macro recursion. */
    expect_error("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", NULL, ANC_ERR_INVALID, "nested more than");
    /* Deep expression / block nesting in the source. */
    size_t depth = 5000;
    char *deep = malloc(depth * 2 + 16);
    assert_non_null(deep);
    memcpy(deep, "{{ ", 3);
    for (size_t i = 0; i < depth; i++) deep[3 + i] = '(';
    memcpy(deep + 3 + depth, " }}", 4);
    assert_int_not_equal(render(deep, NULL, &out, &err), ANC_OK);
    assert_true(strstr(err.message, "t:1:") != NULL);
    for (size_t i = 0; i < depth; i++) deep[3 + i] = '-';
    memcpy(deep + 3 + depth, "1 }}", 5);
    assert_int_equal(render(deep, NULL, &out, &err), ANC_ERR_UNSUPPORTED);
    assert_true(strstr(err.message, "nested too deeply") != NULL);
    free(deep);
    size_t nb = 500;
    const char *open_if = "{% if true %}";
    size_t ol = strlen(open_if);
    char *blocks = malloc(nb * ol + 1);
    assert_non_null(blocks);
    for (size_t i = 0; i < nb; i++) memcpy(blocks + i * ol, open_if, ol);
    blocks[nb * ol] = '\0';
    assert_int_equal(render(blocks, NULL, &out, &err), ANC_ERR_UNSUPPORTED);
    free(blocks);
    /* Output, memory and step caps. */
    anc_template_options o;
    memset(&o, 0, sizeof o);
    o.max_output = 1000;
    const char *big = "{% for i in range(10000) %}xxxxxxxxxx{% endfor %}";
    assert_int_equal(render_n(big, strlen(big), NULL, &o, &out, NULL, &err), ANC_ERR_INVALID);
    assert_true(strstr(err.message, "size limit") != NULL);
    memset(&o, 0, sizeof o);
    o.max_steps = 1000;
    const char *loops = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}";
    assert_int_equal(render_n(loops, strlen(loops), NULL, &o, &out, NULL, &err), ANC_ERR_INVALID);
    assert_true(strstr(err.message, "step limit") != NULL);
    memset(&o, 0, sizeof o);
    o.max_memory = 1 << 20;
    const char *mem = "{% set ns = namespace(s='x') %}{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}";
    assert_int_equal(render_n(mem, strlen(mem), NULL, &o, &out, NULL, &err), ANC_ERR_INVALID);
    assert_true(strstr(err.message, "limit") != NULL);
    /* A namespace that contains itself. */
    expect_error("{% set ns = namespace() %}{% set ns.me = ns %}{{ ns }}", NULL, ANC_ERR_INVALID, "nested too deeply");
    expect_error("{% set ns = namespace() %}{% set ns.me = ns %}{{ ns|string|length }}", NULL, ANC_ERR_INVALID, NULL);
}

static void test_api(void **state) {
    (void)state;
    anc_template *t = NULL;
    anc_error err;
    char *out = NULL;
    size_t n = 99;
    /* Embedded NUL and a NULL context; label defaults. */
    assert_int_equal(anc_template_compile(&t, "a\0b{{ 1 }}", 10, NULL, &err), ANC_OK);
    assert_string_equal(anc_template_label(t), "chat_template");
    assert_int_equal(anc_template_render(t, NULL, NULL, &out, &n, &err), ANC_OK);
    assert_int_equal(n, 4);
    assert_memory_equal(out, "a\0b1", 4);
    free(out);
    json_t *arr = json_array();
    assert_int_equal(anc_template_render(t, arr, NULL, &out, &n, &err), ANC_ERR_INVALID);
    assert_null(out);
    json_decref(arr);
    anc_template_free(t);
    anc_template_free(NULL);
    assert_int_equal(anc_template_compile(NULL, "x", 1, NULL, &err), ANC_ERR_INVALID);
    /* Empty template. */
    assert_int_equal(anc_template_compile(&t, "", 0, "empty", &err), ANC_OK);
    assert_int_equal(anc_template_render(t, NULL, NULL, &out, NULL, &err), ANC_OK);
    assert_string_equal(out, "");
    free(out);
    anc_template_free(t);
    /* The same compiled template renders many contexts (no state kept). */
    const char *count_src = "{% set ns = namespace(n=0) %}{% for m in messages %}{% set ns.n = ns.n + 1 %}"
                            "{% endfor %}{{ ns.n }}:{{ messages[0].content }}";
    assert_int_equal(anc_template_compile(&t, count_src, strlen(count_src), "reuse", &err), ANC_OK);
    for (int k = 0; k < 3; k++) {
        json_t *ctx = parse_json(CTX);
        assert_int_equal(anc_template_render(t, ctx, NULL, &out, NULL, &err), ANC_OK);
        assert_string_equal(out, "2:Hi  there");
        free(out);
        json_decref(ctx);
    }
    anc_template_free(t);
}

/* ---------------------------------------------------------------- fuzz sweep */

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t rnext(rng *r) {
    r->s ^= r->s << 13;
    r->s ^= r->s >> 7;
    r->s ^= r->s << 17;
    return r->s;
}

/* Compile + render must end in OK (with output) or an explained error. */
static void fuzz_one(const char *src, size_t len, const json_t *ctx) {
    anc_template *t = NULL;
    anc_error err;
    anc_error_clear(&err);
    anc_status st = anc_template_compile(&t, src, len, "fuzz", &err);
    if (st != ANC_OK) {
        assert_null(t);
        assert_true(err.message[0] != '\0');
        return;
    }
    anc_template_options o;
    memset(&o, 0, sizeof o);
    o.has_now = 1;
    o.now_utc = NOW_2025_07_10_NOON;
    o.max_steps = 20000;
    o.max_output = 1 << 20;
    o.max_memory = 32 << 20;
    char *out = NULL;
    size_t n = 0;
    st = anc_template_render(t, ctx, &o, &out, &n, &err);
    if (st == ANC_OK) {
        assert_non_null(out);
        assert_int_equal(strlen(out) <= n, 1);
        free(out);
    } else {
        assert_null(out);
        assert_true(err.message[0] != '\0');
    }
    anc_template_free(t);
}

/* Every prefix (or ~300 evenly spaced ones) of src, then mutations:
 * deletions, token insertions, byte changes, duplications. */
static size_t sweep(const char *src, const json_t *ctx, rng *r, int mutations) {
    static const char *const inserts[] = {"{{", "}}", "{%", "%}", "{#", "#}", "-", "+", "(", ")", "[", "]", "{", "}",
                                          "'", "\"", "|", ".", ",", ":", "\\", " endfor ", " endif ", " else ",
                                          " loop ", " if ", " in ", " not ", "**", "~", "\xff", "\xe2\x80", "%",
                                          " is ", " recursive ", "0x", "1e999", "9223372036854775807", "*"};
    size_t len = strlen(src), runs = 0;
    size_t stride = len / 300 + 1;
    for (size_t k = 0; k <= len; k += stride, runs++) fuzz_one(src, k, ctx);
    size_t cap = len * 2 + 256;
    char *buf = malloc(cap);
    assert_non_null(buf);
    for (int m = 0; m < mutations; m++, runs++) {
        memcpy(buf, src, len);
        size_t n = len;
        int ops = 1 + (int)(rnext(r) % 3);
        for (int op = 0; op < ops && n > 0; op++) {
            size_t pos = rnext(r) % n, k;
            switch (rnext(r) % 4) {
            case 0: /* delete a short run */
                k = 1 + rnext(r) % 8;
                if (pos + k > n) k = n - pos;
                memmove(buf + pos, buf + pos + k, n - pos - k);
                n -= k;
                break;
            case 1: { /* insert a token */
                const char *ins = inserts[rnext(r) % (sizeof inserts / sizeof inserts[0])];
                k = strlen(ins);
                if (n + k > cap) break;
                memmove(buf + pos + k, buf + pos, n - pos);
                memcpy(buf + pos, ins, k);
                n += k;
                break;
            }
            case 2: buf[pos] = (char)(rnext(r) & 0xFF); break;
            default: /* duplicate a run */
                k = 1 + rnext(r) % 40;
                if (pos + k > n) k = n - pos;
                if (n + k > cap) break;
                memmove(buf + pos + k, buf + pos, n - pos);
                n += k;
                break;
            }
        }
        fuzz_one(buf, n, ctx);
    }
    free(buf);
    return runs;
}

static const char CONVO[] =
    "{\"messages\": [{\"role\": \"system\", \"content\": \"You are helpful.\"}, {\"role\": \"user\", \"content\": "
    "\"Hello!\"}, {\"role\": \"assistant\", \"content\": \"Hi there.\"}], \"bos_token\": \"<s>\", \"eos_token\": "
    "\"</s>\", \"add_generation_prompt\": %s}";

static void test_fuzz_regression(void **state) {
    (void)state;
    rng r = {0x9E3779B97F4A7C15ull};
    size_t runs = 0;
    /* The built-in templates are always there ... */
    char text[512];
    snprintf(text, sizeof text, CONVO, "true");
    json_t *convo = parse_json(text);
    for (size_t i = 0; anc_template_builtin_name(i); i++)
        runs += sweep(anc_template_builtin(anc_template_builtin_name(i)), convo, &r, 600);
    runs += sweep(CASES_CONTROL[1].tpl, convo, &r, 300);
    json_decref(convo);
    /* ... the fixture templates when the shared folder is. */
    json_t *cases = load_fixture_cases();
    if (cases) {
        size_t i;
        json_t *c;
        json_array_foreach(cases, i, c) {
            runs += sweep(json_string_value(json_object_get(c, "chat_template")), json_object_get(c, "context"), &r,
                          150);
        }
        json_decref(cases);
    }
    print_message("fuzz sweep: %zu compile+render runs\n", runs);
}

/* ---------------------------------------------------------------- built-ins */

static void expect_builtin(const char *name, int gen_prompt, const char *expected) {
    const char *src = anc_template_builtin(name);
    assert_non_null(src);
    char ctx[512];
    snprintf(ctx, sizeof ctx, CONVO, gen_prompt ? "true" : "false");
    char *out;
    anc_error err;
    if (render(src, ctx, &out, &err) != ANC_OK) fail_msg("builtin %s: %s", name, err.message);
    if (strcmp(out, expected) != 0)
        fail_msg("builtin %s (gen %d)\n  got      [%s]\n  expected [%s]", name, gen_prompt, out, expected);
    free(out);
}

static void test_builtin_templates(void **state) {
    (void)state;
    const char *chatml = "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHello!<|im_end|>\n"
                         "<|im_start|>assistant\nHi there.<|im_end|>\n";
    expect_builtin("chatml", 0, chatml);
    char buf[1024];
    snprintf(buf, sizeof buf, "%s<|im_start|>assistant\n", chatml);
    expect_builtin("chatml", 1, buf);
    const char *llama3 = "<s><|start_header_id|>system<|end_header_id|>\n\nYou are helpful.<|eot_id|>"
                         "<|start_header_id|>user<|end_header_id|>\n\nHello!<|eot_id|>"
                         "<|start_header_id|>assistant<|end_header_id|>\n\nHi there.<|eot_id|>";
    expect_builtin("llama3", 0, llama3);
    snprintf(buf, sizeof buf, "%s<|start_header_id|>assistant<|end_header_id|>\n\n", llama3);
    expect_builtin("llama3", 1, buf);
    const char *llama2 = "<s>[INST] <<SYS>>\nYou are helpful.\n<</SYS>>\n\nHello! [/INST] Hi there. </s>";
    expect_builtin("llama2", 0, llama2);
    expect_builtin("llama2", 1, llama2);
    const char *zephyr = "<|system|>\nYou are helpful.</s>\n<|user|>\nHello!</s>\n<|assistant|>\nHi there.</s>\n";
    expect_builtin("zephyr", 0, zephyr);
    snprintf(buf, sizeof buf, "%s<|assistant|>\n", zephyr);
    expect_builtin("zephyr", 1, buf);
    const char *mistral = "<s>[INST] You are helpful.\n\nHello! [/INST]Hi there.</s>";
    expect_builtin("mistral", 0, mistral);
    expect_builtin("mistral", 1, mistral);
    /* Alternation is enforced where the format needs it. */
    const char *bad = "{\"messages\": [{\"role\": \"assistant\", \"content\": \"x\"}], \"bos_token\": \"<s>\", "
                      "\"eos_token\": \"</s>\"}";
    expect_error(anc_template_builtin("llama2"), bad, ANC_ERR_INVALID, "raise_exception: llama2 template");
    expect_error(anc_template_builtin("mistral"), bad, ANC_ERR_INVALID, "raise_exception: mistral template");
    assert_null(anc_template_builtin("nope"));
    assert_null(anc_template_builtin(NULL));
    size_t count = 0;
    while (anc_template_builtin_name(count)) {
        assert_non_null(anc_template_builtin(anc_template_builtin_name(count)));
        count++;
    }
    assert_int_equal(count, 5);
}

/* The built-ins match the published templates they stand for, on the
 * fixture conversations (ChatML default, zephyr-7b-beta, Llama-2 default,
 * Mixtral-8x7B-Instruct). */
static void test_builtins_match_fixtures(void **state) {
    (void)state;
    json_t *cases = load_fixture_cases();
    if (!cases) skip();
    static const struct {
        const char *model, *builtin;
    } pairs[] = {
        {"_base", "chatml"},
        {"HuggingFaceH4/zephyr-7b-beta (add_generation_prompt=false)", "zephyr"},
        {"HuggingFaceH4/zephyr-7b-beta (add_generation_prompt=true)", "zephyr"},
        {"llama", "llama2"},
        {"mistralai/Mixtral-8x7B-Instruct-v0.1", "mistral"},
    };
    for (size_t p = 0; p < sizeof pairs / sizeof pairs[0]; p++) {
        size_t i;
        json_t *c, *found = NULL;
        json_array_foreach(cases, i, c) if (strcmp(json_string_value(json_object_get(c, "model")), pairs[p].model) == 0)
            found = c;
        if (!found) fail_msg("fixture %s missing", pairs[p].model);
        char *ctx = json_dumps(json_object_get(found, "context"), JSON_PRESERVE_ORDER);
        char *out;
        anc_error err;
        if (render(anc_template_builtin(pairs[p].builtin), ctx, &out, &err) != ANC_OK)
            fail_msg("%s: %s", pairs[p].builtin, err.message);
        const char *expected = json_string_value(json_object_get(found, "expected"));
        if (strcmp(out, expected) != 0)
            fail_msg("builtin %s vs %s\n  got      [%s]\n  expected [%s]", pairs[p].builtin, pairs[p].model, out,
                     expected);
        free(out);
        free(ctx);
    }
    json_decref(cases);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hf_fixtures),
        cmocka_unit_test(test_literals),
        cmocka_unit_test(test_arithmetic_and_logic),
        cmocka_unit_test(test_attribute_item_slice),
        cmocka_unit_test(test_if_and_for),
        cmocka_unit_test(test_set_scoping_namespace),
        cmocka_unit_test(test_macros_call_filter_blocks),
        cmocka_unit_test(test_filters),
        cmocka_unit_test(test_tests),
        cmocka_unit_test(test_methods),
        cmocka_unit_test(test_globals_strftime),
        cmocka_unit_test(test_tojson),
        cmocka_unit_test(test_whitespace_control),
        cmocka_unit_test(test_undefined_semantics),
        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_unsupported),
        cmocka_unit_test(test_runtime_errors),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_api),
        cmocka_unit_test(test_fuzz_regression),
        cmocka_unit_test(test_builtin_templates),
        cmocka_unit_test(test_builtins_match_fixtures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
