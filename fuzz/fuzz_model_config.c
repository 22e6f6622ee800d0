/* libFuzzer target for the Hugging Face config.json parser: the bytes are
 * written to config.json in a private temp folder and read with
 * anc_config_load (what anc_model_load_hf and `anchor info` call), and
 * parsed from memory with anc_config_parse (both must agree). A config that
 * loads must validate, save (anc_config_save) and load back to the same
 * model, and, when its parameter table is small enough to build here, give
 * the tensor table of anc_param_layout with contiguous offsets whose total
 * matches an overflow-checked count. Failures must explain themselves.
 *
 * Findings fixed: parameter counts that wrapped size_t, rms_norm_eps /
 * rope_theta beyond float range (written back as inf), eos_token_id
 * truncated to int.
 * Seeds: fuzz/corpus/fuzz_model_config/. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_tmp.h"
#include "model/config.h"
#include "model/params.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The parameter count of c in exact arithmetic; 0 when it exceeds limit. */
static unsigned __int128 exact_params(const anc_config *c) {
    typedef unsigned __int128 u128;
    const u128 V = (u128)c->vocab_size, C = (u128)c->hidden_size, F = (u128)c->intermediate_size;
    const u128 QD = (u128)c->num_heads * (u128)c->head_dim, KD = (u128)c->num_kv_heads * (u128)c->head_dim;
    u128 layer = C + QD * C + 2 * KD * C + C * QD + C + 3 * F * C;
    if (c->attention_bias) layer += QD + 2 * KD;
    return V * C + (u128)c->num_layers * layer + C + (c->tie_word_embeddings ? 0 : V * C);
}

static void check_layout(const anc_config *c) {
    if (c->num_layers > 256) return; /* the table alone would be large (12 specs a layer) */
    unsigned __int128 want = exact_params(c);
    if (want > (unsigned __int128)1 << 40) abort(); /* anc_config_validate bounds the count */
    anc_param_spec *specs = NULL;
    size_t n = 0, total = 0;
    anc_error err;
    anc_error_clear(&err);
    if (anc_param_layout(c, &specs, &n, &total, &err) != ANC_OK) {
        if (err.message[0] == '\0') abort();
        return;
    }
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        if (specs[i].offset != off || specs[i].name[0] == '\0') abort();
        if (specs[i].ndim != 1 && specs[i].ndim != 2) abort();
        off += specs[i].n_elems;
    }
    if (off != total || (unsigned __int128)total != want) abort();
    if (anc_param_count(c) != total) abort();
    free(specs);
}

static int same_model(const anc_config *a, const anc_config *b) {
    int eos_a = a->eos_token_id < 0 ? -1 : a->eos_token_id, eos_b = b->eos_token_id < 0 ? -1 : b->eos_token_id;
    int sw_a = a->sliding_window > 0 ? a->sliding_window : 0, sw_b = b->sliding_window > 0 ? b->sliding_window : 0;
    int ok = a->arch == b->arch && a->vocab_size == b->vocab_size && a->hidden_size == b->hidden_size &&
             a->intermediate_size == b->intermediate_size && a->num_layers == b->num_layers &&
             a->num_heads == b->num_heads && a->num_kv_heads == b->num_kv_heads && a->head_dim == b->head_dim &&
             a->max_position_embeddings == b->max_position_embeddings && a->tie_word_embeddings == b->tie_word_embeddings &&
             a->attention_bias == b->attention_bias && a->bos_token_id == b->bos_token_id && sw_a == sw_b &&
             a->rope_scaling.type == b->rope_scaling.type;
    if (!ok) return 0;
    if (eos_a != eos_b || a->rms_norm_eps != b->rms_norm_eps || a->rope_theta != b->rope_theta) return 0;
    if (a->rope_scaling.type == ANC_ROPE_LLAMA3 &&
        (a->rope_scaling.factor != b->rope_scaling.factor || a->rope_scaling.low_freq_factor != b->rope_scaling.low_freq_factor ||
         a->rope_scaling.high_freq_factor != b->rope_scaling.high_freq_factor))
        return 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *dir = fz_tmpdir();
    if (!dir) return 0;
    char *path = fz_path(dir, "config.json"), *saved = fz_path(dir, "saved.json");
    if (!path || !saved || fz_write(path, data, size) != 0) goto done;

    anc_config cfg, mem;
    anc_error err, err2;
    anc_error_clear(&err);
    anc_error_clear(&err2);
    anc_status st = anc_config_load(&cfg, path, &err);
    anc_status st2 = anc_config_parse(&mem, (const char *)data, size, "config.json", &err2);
    if (st != st2) abort();
    if (st != ANC_OK) {
        if (err.message[0] == '\0' || err2.message[0] == '\0') abort();
        goto done;
    }
    if (memcmp(&cfg, &mem, sizeof cfg) != 0) abort();
    if (anc_config_validate(&cfg, "config.json", &err) != ANC_OK) abort();
    if (!anc_arch_name(cfg.arch) || !anc_arch_model_type(cfg.arch)) abort();
    check_layout(&cfg);

    static const anc_dtype dts[] = {ANC_DT_F32, ANC_DT_F16, ANC_DT_BF16};
    anc_dtype dt = dts[size % 3];
    if (anc_config_save(&cfg, dt, saved, &err) != ANC_OK) abort();
    anc_config back;
    if (anc_config_load(&back, saved, &err) != ANC_OK) {
        abort(); /* what anchor writes must load again */
    }
    if (back.torch_dtype != dt || !same_model(&cfg, &back)) abort();
done:
    free(path);
    free(saved);
    fz_rmtree(dir);
    free(dir);
    return 0;
}
