/* Declarative option tables: each workflow step (generate, revise, judge,
 * ...) declares its options once, as rows naming the option, its type, the
 * field of the step's options struct it fills (offsetof), its default and its
 * help. The CLI parses flags and --config files through the table, and the
 * pipeline validates and fills steps through the same table, so a step's
 * command and its pipeline kind accept exactly the same options.
 * No global state; tables are static const data. */
#ifndef ANCHOR_FLOW_OPTIONS_H
#define ANCHOR_FLOW_OPTIONS_H

#include <stddef.h>

#include "core/error.h"

/* ANC_OPT_INT: any integer that fits a long (seeds); ANC_OPT_COUNT: a count
 * or size, 0..INT_MAX. Both fill a long. ANC_OPT_FLOAT fills a double,
 * ANC_OPT_FLAG an int, ANC_OPT_STR a const char *, ANC_OPT_LIST an
 * anc_opt_list. */
typedef enum { ANC_OPT_STR, ANC_OPT_INT, ANC_OPT_COUNT, ANC_OPT_FLOAT, ANC_OPT_FLAG, ANC_OPT_LIST } anc_option_type;

/* What a value means to the pipeline: it resolves paths against the run
 * directory and hashes what a step reads. */
typedef enum {
    ANC_ROLE_VALUE = 0,   /* a plain value */
    ANC_ROLE_IN_FILE,     /* a file the step reads (hashed by content) */
    ANC_ROLE_IN_DIR,      /* a folder the step reads, e.g. a model (hashed by listing) */
    ANC_ROLE_OUT,         /* what the step writes */
    ANC_ROLE_MAYBE_PATH,  /* a name or a file (chat templates): a path when it exists */
    ANC_ROLE_SPEC,        /* an LLM spec; local:DIR is resolved and hashed as a folder */
    ANC_ROLE_NAMED_FILE   /* NAME=PATH (ab --system): PATH resolved and hashed as an input; NAME=SPEC (a backend) kept */
} anc_opt_role;

#define ANC_OPT_REQUIRED 1u   /* the step needs it (the pipeline checks; the command says so) */
#define ANC_OPT_CLI_ONLY 2u   /* the pipeline sets it itself (--store, --fresh, --resume, --config) */
#define ANC_OPT_POSITIONAL 4u /* on the command line, the positional arguments (stats FILE...) */

/* Values of a repeatable option: "--loss-type a --loss-type b" or
 * "--loss-type a,b". from_file: the values are the table's default or came
 * from a config file, and values on the command line replace rather than
 * extend them. The strings
 * are borrowed (argv, a config kept by the CLI, a pipeline). */
#define ANC_OPT_LIST_MAX 16
typedef struct anc_opt_list {
    const char *v[ANC_OPT_LIST_MAX];
    int n;
    int from_file;
} anc_opt_list;

typedef struct anc_option {
    const char *name;      /* "max-new-tokens" for --max-new-tokens; '_' and '-' compare equal */
    unsigned char type;    /* anc_option_type */
    unsigned char role;    /* anc_opt_role */
    unsigned char flags;   /* ANC_OPT_* bits */
    size_t offset;         /* offsetof the field in the step's options struct */
    const char *def;       /* default as text ("0.7", "completion", "1"), NULL: zero / NULL */
    const char *metavar;   /* "DIR" (NULL for flags) */
    const char *help;
} anc_option;

/* The row called key in table t (ends with a row whose name is NULL), '_'
 * and '-' interchangeable; NULL when absent. */
const anc_option *anc_options_find(const anc_option *t, const char *key);

/* Sets the field of every row of t that has a default to it; the other
 * fields keep their value (callers zero the struct first; two rows may name
 * one field, as an option and its alias do). Defaults are part of the table,
 * so a bad one is a programming error: ANC_ERR_INTERNAL naming the row. */
anc_status anc_options_defaults(const anc_option *t, void *base, anc_error *err);

/* Checks value v against o's type without storing it. Returns NULL, or what
 * was expected ("an integer", "an integer >= 0", "a number", "true or
 * false") for the caller's message. */
const char *anc_option_check(const anc_option *o, const char *v);

/* Stores v (checked as anc_option_check) in o's field of base: a string is
 * borrowed, a number parsed, a flag from true/false/yes/no/True/False, and a
 * list value appended as one element (no splitting). On a bad value returns
 * ANC_ERR_INVALID with "option '--NAME' expects WHAT, got 'V'"; a full list
 * gives ANC_ERR_INVALID too. */
anc_status anc_option_set(const anc_option *o, void *base, const char *v, anc_error *err);

/* Copies of values kept for a struct filled by a library caller. */
typedef struct anc_opt_strings {
    char **v;
    size_t n;
} anc_opt_strings;

/* As anc_option_set, on a copy of v kept in *keep (free with
 * anc_opt_strings_free after the last use of base). A list value is split
 * at commas (blanks around items dropped) and replaces the list's values
 * (a set gives the whole list). Errors as
 * anc_option_set, plus ANC_ERR_NOMEM; on error the field is unchanged
 * except for a list, which keeps the items set before the bad one. */
anc_status anc_option_set_copy(const anc_option *o, void *base, const char *v, anc_opt_strings *keep, anc_error *err);
void anc_opt_strings_free(anc_opt_strings *k);

/* The field of o in base, for the CLI binding its parser to it. */
void *anc_option_field(const anc_option *o, void *base);

/* Number of rows of t (without the terminating one). */
size_t anc_options_count(const anc_option *t);

#endif
