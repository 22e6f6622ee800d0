/* Sequence log-probabilities of preference pairs under a model: the
 * quantity every preference objective is built from, and the reference
 * model's cached log-probs. anc_score_pairs is public (anchor/score.h). */
#ifndef ANCHOR_TRAIN_SCORE_H
#define ANCHOR_TRAIN_SCORE_H

#include "anchor/score.h"
#include "core/progress.h"
#include "data/pairs.h"
#include "model/model.h"

#endif
