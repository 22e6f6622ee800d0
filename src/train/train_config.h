/* The effective training configuration as YAML (train_config.yaml in the
 * output folder), with the keys `anchor train --config` reads: the flag
 * names with underscores. */
#ifndef ANCHOR_TRAIN_TRAIN_CONFIG_H
#define ANCHOR_TRAIN_TRAIN_CONFIG_H

#include <stdint.h>

#include "train/trainer.h"

/* Writes c to path atomically (with c->advice, an "advisor:" mapping:
 * recommendation, judge or grader, win_rate, ci (Wilson 95%), bootstrap_ci,
 * n, confident, rule). */
anc_status anc_train_config_write_yaml(const anc_train_config *c, const char *path, anc_error *err);

/* The first line of metrics.jsonl of a `--loss-type auto` run: {"step": 0,
 * "advisor": {"recommendation", "win_rate", "ci": [lo, hi], "bootstrap_ci":
 * [lo, hi], "n", "confident", "rule", "judge" or "grader"}} and a newline.
 * malloc'd; NULL when out of memory. */
char *anc_train_advice_metrics_line(const anc_train_advice *a);

/* What decides a run's trajectory, one "key: value" line per option (the
 * data as the hash of its tokenised rows; paths of models and templates as
 * given), in a fixed order: a checkpoint keeps it as train_signature.yaml
 * and `--resume` compares it. Logging, saving and evaluation cadence, the
 * output folder and the save dtype are left out: they may change on resume.
 * *out is malloc'd (caller frees). */
anc_status anc_train_signature(const anc_train_config *c, uint64_t data_hash, char **out, anc_error *err);

/* Compares the signature kept in a checkpoint (then, from ckpt_path) with
 * the current one (now). Equal: ANC_OK. Otherwise ANC_ERR_INVALID with a
 * message naming each differing option as "key old -> new" and the ways out. */
anc_status anc_train_signature_check(const char *then, const char *now, const char *ckpt_path, anc_error *err);

#endif
