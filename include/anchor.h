/* libanchor public API.
 *
 * anchor aligns Llama-family language models with contrastive revisions
 * (CLAIR) and anchored preference optimization (APO). This header gathers
 * the public modules; each module header documents its functions' contracts
 * and ownership. Conventions everywhere:
 *   - fallible functions return anc_status (ANC_OK = 0) and fill a
 *     caller-owned anc_error with a message naming the file, line or offset;
 *   - the library never prints, never exits, and holds no global mutable
 *     state (a policy and a reference model live side by side);
 *   - objects returned through `**out` are owned by the caller and released
 *     with the matching *_free / *_close function. */
#ifndef ANCHOR_H
#define ANCHOR_H

#include "core/error.h"
#include "core/dtype.h"
#include "core/progress.h"
#include "core/blas.h"
#include "io/safetensors.h"
#include "model/llama2c.h"
#include "model/config.h"
#include "model/params.h"
#include "model/model.h"
#include "data/jsonl.h"
#include "data/pairs.h"
#include "train/score.h"
#include "train/loss.h"
#include "train/optim.h"
#include "train/trainer.h"
#include "model/decode.h"
#include "model/generate.h"
#include "data/dataset.h"
#include "tokenizer/tokenizer.h"
#include "jinja/template.h"
#include "jinja/chat_template.h"

#include "anchor/version.h"

#endif
