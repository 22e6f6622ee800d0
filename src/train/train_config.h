/* The effective training configuration as YAML (train_config.yaml in the
 * output folder), with the keys `anchor train --config` reads: the flag
 * names with underscores. */
#ifndef ANCHOR_TRAIN_TRAIN_CONFIG_H
#define ANCHOR_TRAIN_TRAIN_CONFIG_H

#include "train/trainer.h"

/* Writes c to path atomically. */
anc_status anc_train_config_write_yaml(const anc_train_config *c, const char *path, anc_error *err);

#endif
