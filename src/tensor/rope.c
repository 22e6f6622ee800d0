/* Rotary position embeddings, Hugging Face "rotate_half" convention: the
 * pairs rotated together are (i, i + D/2), not adjacent elements.
 *   x'[i]       = x[i]·cos − x[i+D/2]·sin
 *   x'[i+D/2]   = x[i+D/2]·cos + x[i]·sin          (i < D/2)
 * The frequency and angle arithmetic mirrors what transformers does in fp32
 * so that our cos/sin tables match PyTorch's to the last bit or so. */
#include <math.h>

#include "tensor/ops.h"
#include "tensor/ops_internal.h"

/* transformers' _compute_llama3_parameters, step by step in fp32 the way
 * PyTorch evaluates it (Python-float scalars are cast to float32 by the
 * tensor ops; `a / tensor` is reciprocal(tensor) * a). */
static float llama3_scale(float inv, const anc_rope_scaling *s) {
    float factor = s->factor, low = s->low_freq_factor, high = s->high_freq_factor;
    double old = s->original_max_position_embeddings;
    float low_freq_wavelen = (float)(old / low);
    float high_freq_wavelen = (float)(old / high);
    float wavelen = (1.0f / inv) * (float)6.283185307179586; /* 2·math.pi */
    /* Low frequencies (long wavelengths) are divided by factor, high ones
     * kept, and the band in between interpolates smoothly. */
    float scaled = wavelen > low_freq_wavelen ? inv / factor : inv;
    int medium = !(wavelen < high_freq_wavelen) && !(wavelen > low_freq_wavelen);
    if (!medium) return scaled;
    float smooth = ((1.0f / wavelen) * (float)old - low) / (float)((double)high - (double)low);
    return (1.0f - smooth) * scaled / factor + smooth * scaled;
}

void anc_rope_inv_freq(float *inv_freq, int head_dim, float theta,
                       const anc_rope_scaling *scaling) {
    int half = head_dim / 2;
    for (int i = 0; i < half; i++) {
        /* torch: 1.0 / (base ** (arange(0, D, 2).float() / D)); the exponent
         * is a float32 quotient, the power rounded to float32. */
        float e = (float)(2 * i) / (float)head_dim;
        float p = (float)pow((double)theta, (double)e);
        float inv = 1.0f / p;
        if (scaling && scaling->type == ANC_ROPE_LLAMA3) inv = llama3_scale(inv, scaling);
        inv_freq[i] = inv;
    }
}

void anc_rope_table(float *cos_t, float *sin_t, const int32_t *pos, const float *inv_freq,
                    int64_t N, int head_dim) {
    int half = head_dim / 2;
    /* cos/sin in double cost ~30x an elementwise op: a lower bar */
    ANC_OMP("omp parallel for schedule(static) if (N * (int64_t)half >= ANC_OMP_MIN_WORK / 32)")
    for (int64_t n = 0; n < N; n++) {
        float p = (float)pos[n];
        for (int i = 0; i < half; i++) {
            /* The float product is what torch's fp32 matmul of inv_freq by
             * positions yields (exactly representable in double, rounded
             * once); cos/sin are then taken in double and rounded. */
            float angle = p * inv_freq[i];
            cos_t[n * half + i] = (float)cos((double)angle);
            sin_t[n * half + i] = (float)sin((double)angle);
        }
    }
}

void anc_rope_forward(float *x, const float *cos_t, const float *sin_t, int64_t N, int n_heads,
                      int head_dim) {
    int half = head_dim / 2;
    ANC_OMP("omp parallel for schedule(static) if (N * n_heads * head_dim >= ANC_OMP_MIN_WORK)")
    for (int64_t n = 0; n < N; n++) {
        const float *c = cos_t + n * half, *s = sin_t + n * half;
        for (int h = 0; h < n_heads; h++) {
            float *a = x + (n * n_heads + h) * head_dim, *b = a + half;
            for (int i = 0; i < half; i++) {
                float x0 = a[i], x1 = b[i];
                a[i] = x0 * c[i] - x1 * s[i];
                b[i] = x1 * c[i] + x0 * s[i];
            }
        }
    }
}

/* R is a rotation per pair, so the gradient wrt the input is R^T dx: the
 * same rotation with sin negated. */
void anc_rope_backward(float *dx, const float *cos_t, const float *sin_t, int64_t N, int n_heads,
                       int head_dim) {
    int half = head_dim / 2;
    ANC_OMP("omp parallel for schedule(static) if (N * n_heads * head_dim >= ANC_OMP_MIN_WORK)")
    for (int64_t n = 0; n < N; n++) {
        const float *c = cos_t + n * half, *s = sin_t + n * half;
        for (int h = 0; h < n_heads; h++) {
            float *a = dx + (n * n_heads + h) * head_dim, *b = a + half;
            for (int i = 0; i < half; i++) {
                float g0 = a[i], g1 = b[i];
                a[i] = g0 * c[i] + g1 * s[i];
                b[i] = g1 * c[i] - g0 * s[i];
            }
        }
    }
}
