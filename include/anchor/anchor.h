/* libanchor public API: everything a program embedding anchor needs.
 *
 * anchor aligns Llama-family language models with contrastive revisions
 * (CLAIR) and anchored preference optimization (APO). Each module header
 * documents its functions' contracts (what they do, their errors, who owns
 * what); anchor/common.h states the conventions they share:
 *   - fallible functions return anc_status (ANC_OK = 0) and fill a
 *     caller-owned anc_error with a message naming the file, line or offset;
 *   - the library never prints, never exits, and holds no global mutable
 *     state (a policy and a reference model live side by side);
 *   - objects returned through `**out` are owned by the caller and released
 *     with the matching *_free / *_close function; other returned memory
 *     with free().
 *
 * Build against an installed anchor with
 *   cc prog.c $(pkg-config --cflags --libs anchor)
 * (libanchor.so; `pkg-config --static` for libanchor.a). */
#ifndef ANCHOR_PUBLIC_ANCHOR_H
#define ANCHOR_PUBLIC_ANCHOR_H

#include "anchor/common.h"   /* ANC_API, anc_status, anc_error, anc_dtype, anc_progress_fn */
#include "anchor/version.h"  /* ANCHOR_VERSION_*, anc_version */
#include "anchor/model.h"    /* load, create, save, info of Hugging Face models */
#include "anchor/tokenizer.h" /* Hugging Face tokenizer.json: encode, decode, special tokens */
#include "anchor/chat.h"     /* Jinja2 chat templates, built-in templates */
#include "anchor/dataset.h"  /* TRL preference datasets tokenised into pairs */
#include "anchor/score.h"    /* sequence log-probabilities of pairs */
#include "anchor/generate.h" /* sampling with a KV cache */
#include "anchor/train.h"    /* preference training (TRL's objectives) */
#include "anchor/store.h"    /* the run store of LLM requests and step items */

#endif
