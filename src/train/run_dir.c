#include "train/run_dir.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/fileutil.h"
#include "core/paths.h"

#define NEXT ".anchor-next"
#define OLD ".anchor-old"
#define OLD_TMP ".anchor-old.tmp"
#define COMPLETE ".complete"

/* Names a training run writes into its folder (besides the model folder's
 * tokenizer files, which the new run holds too). */
static int is_run_product(const char *name) {
    size_t n = strlen(name);
    if (!strncmp(name, "checkpoint-", 11)) return 1;
    if (!strcmp(name, "metrics.jsonl") || !strcmp(name, "train_config.yaml") || !strcmp(name, "train_signature.yaml"))
        return 1;
    if (!strcmp(name, "model.safetensors.index.json")) return 1;
    return !strncmp(name, "model", 5) && n > 12 && !strcmp(name + n - 12, ".safetensors");
}

static int is_ours(const char *name) {
    return !strcmp(name, ".") || !strcmp(name, "..") || !strcmp(name, NEXT) || !strncmp(name, OLD, strlen(OLD));
}

/* Moves the entries of from/ accepted by keep (NULL: all but COMPLETE) into
 * to/. other: a folder whose entries are also moved by name (may be NULL). */
static anc_status move_entries(const char *from, const char *to, const char *other, int all, anc_error *err) {
    DIR *d = opendir(from);
    if (!d) return anc_error_set(err, ANC_ERR_IO, "%s: cannot list: %s", from, strerror(errno));
    anc_status st = ANC_OK;
    struct dirent *e;
    while (!st && (e = readdir(d))) {
        const char *name = e->d_name;
        if (is_ours(name) || !strcmp(name, COMPLETE)) continue;
        int take = all;
        if (!take) {
            take = is_run_product(name);
            if (!take && other) {
                char *o = anc_path_join(other, name);
                take = o && anc_path_exists(o);
                free(o);
            }
        }
        if (!take) continue;
        char *src = anc_path_join(from, name), *dst = anc_path_join(to, name);
        if (!src || !dst) st = anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
        else if (rename(src, dst) != 0)
            st = anc_error_set(err, ANC_ERR_IO, "%s: cannot move to %s: %s", src, dst, strerror(errno));
        free(src);
        free(dst);
    }
    closedir(d);
    return st;
}

/* The swap proper; every step may be repeated after a crash. */
static anc_status finish_swap(const char *final, anc_error *err) {
    char *next = anc_path_join(final, NEXT), *old = anc_path_join(final, OLD), *old_tmp = anc_path_join(final, OLD_TMP);
    anc_status st = ANC_OK;
    if (!next || !old || !old_tmp) { st = anc_error_set(err, ANC_ERR_NOMEM, "out of memory"); goto done; }
    if (!anc_path_exists(old)) {
        /* 1. the previous run's files go aside (OLD_TMP becomes OLD once all are there) */
        if (!anc_path_exists(old_tmp) && mkdir(old_tmp, 0755) != 0) {
            st = anc_error_set(err, ANC_ERR_IO, "%s: cannot create: %s", old_tmp, strerror(errno));
            goto done;
        }
        if ((st = move_entries(final, old_tmp, next, 0, err))) goto done;
        if (rename(old_tmp, old) != 0) {
            st = anc_error_set(err, ANC_ERR_IO, "%s: cannot rename: %s", old_tmp, strerror(errno));
            goto done;
        }
    }
    /* 2. the new run's files come in; 3. both folders go */
    if ((st = move_entries(next, final, NULL, 1, err))) goto done;
    if ((st = anc_rmtree(old, err))) goto done;
    st = anc_rmtree(next, err);
done:
    free(next);
    free(old);
    free(old_tmp);
    return st;
}

/* 1 when dir holds a file a run writes. */
static int holds_run(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    int found = 0;
    struct dirent *e;
    while (!found && (e = readdir(d))) found = !is_ours(e->d_name) && is_run_product(e->d_name);
    closedir(d);
    return found;
}

anc_status anc_run_dir_open(anc_run_dir *rd, const char *output_dir, int resume, anc_error *err) {
    memset(rd, 0, sizeof *rd);
    anc_status st = anc_mkdirs(output_dir, err);
    if (st) return st;
    char *next = anc_path_join(output_dir, NEXT), *mark = next ? anc_path_join(next, COMPLETE) : NULL;
    if (!(rd->final = strdup(output_dir)) || !mark) { st = anc_error_set(err, ANC_ERR_NOMEM, "out of memory"); goto done; }
    if (anc_path_exists(mark) && (st = finish_swap(output_dir, err))) {
        anc_error_prefix(err, "finishing the swap of an earlier run");
        goto done;
    }
    if (resume && anc_path_exists(next)) {
        rd->staged = 1;
    } else if (!resume) {
        if ((st = anc_rmtree(next, err))) goto done;
        if (holds_run(output_dir)) {
            if ((st = anc_mkdirs(next, err))) goto done;
            rd->staged = 1;
        }
    }
    rd->work = strdup(rd->staged ? next : output_dir);
    if (!rd->work) st = anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
done:
    free(next);
    free(mark);
    if (st) anc_run_dir_free(rd);
    return st;
}

anc_status anc_run_dir_commit(anc_run_dir *rd, anc_error *err) {
    if (!rd->staged) return ANC_OK;
    char *mark = anc_path_join(rd->work, COMPLETE);
    if (!mark) return anc_error_set(err, ANC_ERR_NOMEM, "out of memory");
    anc_status st = anc_write_file_atomic(mark, "", 0, err);
    free(mark);
    if (!st) st = finish_swap(rd->final, err);
    return st;
}

void anc_run_dir_free(anc_run_dir *rd) {
    free(rd->final);
    free(rd->work);
    memset(rd, 0, sizeof *rd);
}
