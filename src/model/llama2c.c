#include "model/llama2c.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Copies rows of a [n_heads*D, cols] matrix from Meta's interleaved rotary
 * order (pairs 2j, 2j+1 within a head) into HF's half-split order (j, j+D/2):
 * new row h*D + half*(D/2) + j takes old row h*D + 2j + half. */
static void permute_rotary_rows(float *dst, const float *src, int n_heads, int D, int cols) {
    for (int h = 0; h < n_heads; h++)
        for (int half = 0; half < 2; half++)
            for (int j = 0; j < D / 2; j++) {
                size_t to = (size_t)h * D + (size_t)half * (D / 2) + (size_t)j;
                size_t from = (size_t)h * D + 2 * (size_t)j + (size_t)half;
                memcpy(dst + to * cols, src + from * cols, sizeof(float) * (size_t)cols);
            }
}

anc_status anc_llama2c_load(anc_model **out, const char *path, anc_error *err) {
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return anc_error_set(err, ANC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0) {
        fclose(f);
        return anc_error_set(err, ANC_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
    }
    uint64_t fsize = (uint64_t)sb.st_size;
    int32_t hdr[7];
    if (fsize < sizeof hdr || fread(hdr, sizeof hdr, 1, f) != 1) {
        fclose(f);
        return anc_error_set(err, ANC_ERR_FORMAT, "%s: file of %llu bytes is shorter than the 28-byte llama2.c header",
                             path, (unsigned long long)fsize);
    }
    int dim = hdr[0], hidden = hdr[1], n_layers = hdr[2], n_heads = hdr[3], n_kv = hdr[4];
    int shared = hdr[5] > 0;
    int64_t vocab = hdr[5] > 0 ? hdr[5] : -(int64_t)hdr[5];
    int seq_len = hdr[6];
    if (dim <= 0 || hidden <= 0 || n_layers <= 0 || n_heads <= 0 || n_kv <= 0 || vocab <= 0 || seq_len <= 0 ||
        dim > 65536 || hidden > 262144 || n_layers > 1024 || vocab > 4000000 || seq_len > 10000000 ||
        dim % n_heads != 0 || n_heads % n_kv != 0 || (dim / n_heads) % 2 != 0) {
        fclose(f);
        return anc_error_set(err, ANC_ERR_FORMAT,
                             "%s: header (dim %d, hidden %d, layers %d, heads %d, kv heads %d, vocab %lld, seq_len %d) "
                             "is not a valid llama2.c v0 checkpoint (expected positive sizes, heads dividing dim)",
                             path, dim, hidden, n_layers, n_heads, n_kv, (long long)vocab, seq_len);
    }
    const uint64_t D = (uint64_t)(dim / n_heads), kv_dim = (uint64_t)n_kv * D, C = (uint64_t)dim, L = (uint64_t)n_layers;
    const uint64_t F = (uint64_t)hidden, Vn = (uint64_t)vocab;
    uint64_t floats = Vn * C + L * C + L * C * C + 2 * L * C * kv_dim + L * C * C + L * C + 3 * L * C * F + C +
                      (uint64_t)seq_len * D;  /* freq_cis_real + freq_cis_imag (unused) */
    if (!shared) floats += Vn * C;
    uint64_t expect = 28 + floats * 4;
    if (fsize != expect) {
        fclose(f);
        return anc_error_set(err, ANC_ERR_FORMAT,
                             "%s: file has %llu bytes but its header (dim %d, layers %d, vocab %lld, %s classifier) implies %llu",
                             path, (unsigned long long)fsize, dim, n_layers, (long long)vocab,
                             shared ? "shared" : "separate", (unsigned long long)expect);
    }
    float *w = malloc(floats * sizeof(float));
    if (!w) {
        fclose(f);
        return anc_error_set(err, ANC_ERR_NOMEM, "%s: cannot allocate %llu weights", path, (unsigned long long)floats);
    }
    if (fread(w, sizeof(float), floats, f) != floats) {
        free(w);
        fclose(f);
        return anc_error_set(err, ANC_ERR_IO, "%s: short read", path);
    }
    fclose(f);

    anc_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.arch = ANC_ARCH_LLAMA;
    cfg.vocab_size = (int)vocab;
    cfg.hidden_size = dim;
    cfg.intermediate_size = hidden;
    cfg.num_layers = n_layers;
    cfg.num_heads = n_heads;
    cfg.num_kv_heads = n_kv;
    cfg.head_dim = (int)D;
    cfg.max_position_embeddings = seq_len;
    cfg.rms_norm_eps = 1e-5f;   /* llama2.c run.c */
    cfg.rope_theta = 10000.0f;
    cfg.tie_word_embeddings = shared;
    cfg.bos_token_id = vocab > 1 ? 1 : -1;
    cfg.eos_token_id = vocab > 2 ? 2 : -1;
    cfg.torch_dtype = ANC_DT_F32;
    anc_model *m = NULL;
    anc_status st = anc_model_create(&m, &cfg, err);
    if (st) {
        free(w);
        return anc_error_prefix(err, "%s", path);
    }
    const float *p = w;
    const float *emb = p; p += Vn * C;
    const float *rms_att = p; p += L * C;
    const float *wq = p; p += L * C * C;
    const float *wk = p; p += L * C * kv_dim;
    const float *wv = p; p += L * C * kv_dim;
    const float *wo = p; p += L * C * C;
    const float *rms_ffn = p; p += L * C;
    const float *w1 = p; p += L * C * F;
    const float *w2 = p; p += L * F * C;
    const float *w3 = p; p += L * C * F;
    const float *rms_final = p; p += C;
    p += (uint64_t)seq_len * D;  /* skip freq_cis tables: recomputed from theta */
    const float *wcls = shared ? emb : p;

    memcpy(m->w.embed, emb, sizeof(float) * Vn * C);
    for (uint64_t l = 0; l < L; l++) {
        anc_layer_view *lv = &m->w.layers[l];
        memcpy(lv->attn_norm, rms_att + l * C, sizeof(float) * C);
        permute_rotary_rows(lv->wq, wq + l * C * C, n_heads, (int)D, dim);
        permute_rotary_rows(lv->wk, wk + l * C * kv_dim, n_kv, (int)D, dim);
        memcpy(lv->wv, wv + l * C * kv_dim, sizeof(float) * C * kv_dim);
        memcpy(lv->wo, wo + l * C * C, sizeof(float) * C * C);
        memcpy(lv->mlp_norm, rms_ffn + l * C, sizeof(float) * C);
        memcpy(lv->w_gate, w1 + l * C * F, sizeof(float) * C * F);
        memcpy(lv->w_down, w2 + l * F * C, sizeof(float) * F * C);
        memcpy(lv->w_up, w3 + l * C * F, sizeof(float) * C * F);
    }
    memcpy(m->w.final_norm, rms_final, sizeof(float) * C);
    if (!shared) memcpy(m->w.lm_head, wcls, sizeof(float) * Vn * C);
    free(w);
    *out = m;
    return ANC_OK;
}
