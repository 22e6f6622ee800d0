/* Memory plan of a run (model/memplan.h). Each term names the allocation
 * it stands for; keep them in step with those files. */
#include "model/memplan.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "model/params.h"
#include "tensor/ops.h"

/* ---- checked arithmetic: a plan past 2^64 bytes is an error, not a wrap ---- */

typedef struct { int over; } ck;

static uint64_t mul(ck *c, uint64_t a, uint64_t b) {
    uint64_t r;
    if (__builtin_mul_overflow(a, b, &r)) c->over = 1;
    return r;
}

static uint64_t add(ck *c, uint64_t a, uint64_t b) {
    uint64_t r;
    if (__builtin_add_overflow(a, b, &r)) c->over = 1;
    return r;
}

static uint64_t max3(uint64_t a, uint64_t b, uint64_t c) {
    uint64_t m = a > b ? a : b;
    return m > c ? m : c;
}

/* ---- LoRA shapes: lora_A [r, in], lora_B [out, r] per adapted projection ---- */

static void proj_shape(const anc_config *c, int mod, uint64_t *in, uint64_t *out) {
    uint64_t C = (uint64_t)c->hidden_size, F = (uint64_t)c->intermediate_size;
    uint64_t QD = (uint64_t)c->num_heads * (uint64_t)c->head_dim;
    uint64_t KD = (uint64_t)c->num_kv_heads * (uint64_t)c->head_dim;
    switch (mod) {
    case ANC_LORA_Q: *in = C, *out = QD; break;
    case ANC_LORA_K:
    case ANC_LORA_V: *in = C, *out = KD; break;
    case ANC_LORA_O: *in = QD, *out = C; break;
    case ANC_LORA_GATE:
    case ANC_LORA_UP: *in = C, *out = F; break;
    default: *in = F, *out = C; break; /* ANC_LORA_DOWN */
    }
}

size_t anc_lora_param_count(const anc_config *cfg, const anc_lora_config *lc) {
    if (!cfg || !lc || lc->r <= 0 || cfg->num_layers <= 0) return 0;
    uint64_t per_layer = 0;
    for (int mod = 0; mod < ANC_LORA_NMOD; mod++) {
        if (!(lc->targets & (1u << mod))) continue;
        uint64_t in, out;
        proj_shape(cfg, mod, &in, &out);
        per_layer += (uint64_t)lc->r * (in + out);
    }
    return (size_t)(per_layer * (uint64_t)cfg->num_layers);
}

/* ---- the plan ---- */

/* Bytes of the vocabulary rows of forward (and backward when train):
 * forward.c ensure_rows holds per scored row rows (8 bytes), targets,
 * row_logp, row_lse, row_lsum, drow (4 each) = 28, within the 32 counted
 * here, and hrows [R, C] fp32; ensure_backward adds dhrows [R, C]. The
 * scratch is one buffer shared by the vocabulary log-softmax
 * (anc_logprob_scratch_floats) and attention (anc_attention_scratch_floats
 * of the longest sequence, at most tokens): the larger of the two. */
static uint64_t vocab_bytes(ck *k, const anc_config *cfg, int64_t tokens, int64_t rows, int train) {
    uint64_t C = (uint64_t)cfg->hidden_size;
    uint64_t s_lp = anc_logprob_scratch_floats(rows, cfg->vocab_size);
    uint64_t s_att = anc_attention_scratch_floats(tokens);
    uint64_t scratch = mul(k, 4, s_lp > s_att ? s_lp : s_att);
    uint64_t per_row = add(k, mul(k, C, train ? 8 : 4), 32);
    return add(k, scratch, mul(k, (uint64_t)rows, per_row));
}

anc_status anc_mem_plan_compute(const anc_config *cfg, const anc_mem_plan_opts *o, anc_mem_plan *out, anc_error *err) {
    if (!out) return anc_error_set(err, ANC_ERR_INVALID, "memory plan: an output record is required");
    memset(out, 0, sizeof *out);
    if (!cfg || !o) return anc_error_set(err, ANC_ERR_INVALID, "memory plan: a model config and options are required");
    anc_status st = anc_config_validate(cfg, "memory plan", err);
    if (st) return st;
    /* the upper bound keeps the kernels' scratch formulas (int64/size_t) from wrapping */
    if (o->tokens < 1 || o->tokens > ANC_MEM_PLAN_MAX_TOKENS)
        return anc_error_set(err, ANC_ERR_INVALID, "memory plan: tokens per micro-batch must be at least 1 and at most 2^40 (got %lld)",
                             (long long)o->tokens);
    if (o->scored_rows < 0 || o->scored_rows > o->tokens)
        return anc_error_set(err, ANC_ERR_INVALID, "memory plan: scored rows must lie in [0, %lld] (got %lld)",
                             (long long)o->tokens, (long long)o->scored_rows);
    if (o->lora) {
        if (!o->lora_cfg) return anc_error_set(err, ANC_ERR_INVALID, "memory plan: LoRA needs a LoRA config (r, targets)");
        if ((st = anc_lora_config_check(o->lora_cfg, err))) return anc_error_prefix(err, "memory plan");
    }

    anc_param_spec *specs = NULL;
    size_t n_specs = 0, n = 0;
    if ((st = anc_param_layout(cfg, &specs, &n_specs, &n, err))) return st;
    uint64_t n_1d = 0; /* norms and biases: the fp32 part of a frozen bf16 base */
    for (size_t i = 0; i < n_specs; i++)
        if (specs[i].ndim == 1) n_1d += specs[i].n_elems;
    free(specs);

    ck k = {0};
    const int64_t T = o->tokens, R = o->scored_rows ? o->scored_rows : o->tokens;
    const uint64_t C = (uint64_t)cfg->hidden_size, F = (uint64_t)cfg->intermediate_size;
    const uint64_t QD = (uint64_t)cfg->num_heads * (uint64_t)cfg->head_dim;
    out->n_params = n;

    /* Weights as held (model.c): the fp32 slab, plus its bf16 copy under
     * --bf16 (anc_model_set_bf16); a LoRA base under --bf16 is a frozen
     * bf16 base (anc_model_create_frozen16: 2 bytes per parameter, only
     * the 1-D tensors' pages of the fp32 slab resident). */
    if (o->lora && o->bf16) out->weights = add(&k, mul(&k, 2, n), mul(&k, 4, n_1d));
    else out->weights = mul(&k, o->bf16 ? 6 : 4, n);

    /* Full fine-tuning (trainer.c, optim.c): a gradient slab of n floats;
     * AdamW's m and v (n floats each) and the 1-byte decay mask per
     * trained parameter (anc_optim_init). */
    if (o->train && !o->lora) {
        out->grads = mul(&k, 4, n);
        out->optimizer = mul(&k, 9, n);
    }

    /* LoRA (lora.c, trainer.c): the fp32 adapter slab, its gradients and
     * AdamW moments share one layout: 16 bytes per adapter parameter, and
     * the decay mask 1; scoring holds the adapter slab only. */
    if (o->lora) {
        out->n_adapter_params = anc_lora_param_count(cfg, o->lora_cfg);
        out->adapters = mul(&k, o->train ? 17 : 4, out->n_adapter_params);
    }

    /* Activations (forward.c): per token of the micro-batch. */
    out->activations = mul(&k, anc_model_act_bytes_per_token(cfg, o->checkpointing), (uint64_t)T);
    if (o->lora) {
        /* forward.c ensure_lora: anc_lora_scratch_floats for the batch's
         * tokens with inputs of max(C, F, H*D) features: 2 * tokens * r,
         * plus tokens * max_in when dropout draws a mask (about
         * tokens * (2r + max_in) floats). anc_lora_scratch_floats reads
         * only the adapter's config, so a probe carrying it is enough. */
        anc_lora probe;
        memset(&probe, 0, sizeof probe);
        probe.cfg = *o->lora_cfg;
        int max_in = (int)max3(C, F, QD);
        out->activations = add(&k, out->activations, mul(&k, 4, anc_lora_scratch_floats(&probe, T, max_in)));
    }
    if (o->bf16) {
        /* gemm.c as_bf16: two conversion buffers (anc_mm buf[0], buf[1])
         * of 2 bytes per element for operands outside the bf16 slab, at
         * most one [tokens, max(F, C, H*D)] activation each (backward's
         * weight gradients convert two activations). An estimate. */
        out->activations = add(&k, out->activations, mul(&k, 2 * 2, mul(&k, (uint64_t)T, max3(F, C, QD))));
    }

    out->vocab = vocab_bytes(&k, cfg, T, R, o->train);

    /* A held reference (trainer.c setup_reference, --no-precompute-ref
     * with --ref-model): loaded as the policy is (load_run_model), with
     * its own forward-only acts (checkpointing on; the per-token figure
     * counts backward buffers it never allocates: an upper bound). */
    if (o->ref_model_held) {
        uint64_t ref_acts = mul(&k, anc_model_act_bytes_per_token(cfg, 1), (uint64_t)T);
        out->ref = add(&k, add(&k, out->weights, ref_acts), vocab_bytes(&k, cfg, T, R, 0));
    }

    uint64_t counted = out->weights;
    counted = add(&k, counted, out->grads);
    counted = add(&k, counted, out->optimizer);
    counted = add(&k, counted, out->adapters);
    counted = add(&k, counted, out->activations);
    counted = add(&k, counted, out->vocab);
    counted = add(&k, counted, out->ref);
    out->overhead = add(&k, counted / 100 * ANC_MEM_OVERHEAD_PCT + counted % 100 * ANC_MEM_OVERHEAD_PCT / 100,
                        ANC_MEM_OVERHEAD_FIXED);
    out->total = add(&k, counted, out->overhead);
    if (k.over) {
        size_t n_params = out->n_params;
        memset(out, 0, sizeof *out);
        out->n_params = n_params;
        return anc_error_set(err, ANC_ERR_INVALID, "memory plan: %lld tokens of a %zu-parameter model exceed 2^64 bytes",
                             (long long)T, n_params);
    }
    return ANC_OK;
}

void anc_mem_human(char *buf, size_t n, double bytes) {
    if (!buf || n == 0) return;
    static const char *const u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int i = 0;
    while (bytes >= 1024 && i < 4) {
        bytes /= 1024;
        i++;
    }
    snprintf(buf, n, "%.1f %s", bytes, u[i]);
}

/* ---- available memory ---- */

/* malloc'd "<root><path>" (root may be ""), NULL when out of memory. */
static char *rooted(const char *root, const char *a, const char *b) {
    int len = snprintf(NULL, 0, "%s%s%s", root, a, b);
    if (len < 0) return NULL;
    char *p = malloc((size_t)len + 1);
    if (p) snprintf(p, (size_t)len + 1, "%s%s%s", root, a, b);
    return p;
}

/* Reads a small pseudo-file (procfs and sysfs report sizes of 0 or a page,
 * so read to the end) into a malloc'd NUL-terminated string of at most
 * 1 MiB. NULL when it cannot be opened or read. */
static char *read_pseudo(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t got = fread(buf + len, 1, cap - 1 - len, f);
        len += got;
        if (got == 0) break;
        if (len + 1 == cap) {
            if (cap >= (1u << 20)) break;
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    int bad = ferror(f);
    fclose(f);
    if (!buf) return NULL;
    if (bad) {
        free(buf);
        return NULL;
    }
    buf[len] = '\0';
    return buf;
}

/* The unsigned decimal that starts s (after blanks) into *v: 1, or 0 when
 * there is none ("max") or it overflows. */
static int parse_u64(const char *s, uint64_t *v) {
    while (*s == ' ' || *s == '\t') s++;
    if (*s < '0' || *s > '9') return 0;
    errno = 0;
    char *end;
    unsigned long long x = strtoull(s, &end, 10);
    if (errno) return 0;
    *v = x;
    return 1;
}

/* Reads one number from the file at dir/name: 1 and *v, or 0 (absent,
 * unreadable, or "max"). */
static int read_u64_file(const char *dir, const char *name, uint64_t *v) {
    char *p = rooted(dir, "/", name);
    char *s = p ? read_pseudo(p) : NULL;
    free(p);
    int ok = s && parse_u64(s, v);
    free(s);
    return ok;
}

/* The value of "key value" line in a memory.stat-style text; 0 when absent. */
static uint64_t stat_value(const char *text, const char *key) {
    size_t kl = strlen(key);
    for (const char *l = text; l && *l;) {
        uint64_t v;
        if (!strncmp(l, key, kl) && (l[kl] == ' ' || l[kl] == '\t') && parse_u64(l + kl, &v)) return v;
        l = strchr(l, '\n');
        if (l) l++;
    }
    return 0;
}

/* v1 reports "no limit" as the page counter's maximum (~2^63): anything at
 * or above 2^62 bytes is treated as unset. */
#define NO_LIMIT (1ull << 62)

/* Headroom of the cgroup folder dir: limit - (usage - inactive file
 * cache), 1 when a limit is set there. */
static int cgroup_headroom(const char *dir, int v2, uint64_t *room) {
    uint64_t limit, usage;
    if (!read_u64_file(dir, v2 ? "memory.max" : "memory.limit_in_bytes", &limit) || limit >= NO_LIMIT) return 0;
    if (!read_u64_file(dir, v2 ? "memory.current" : "memory.usage_in_bytes", &usage)) usage = 0;
    char *sp = rooted(dir, "/", "memory.stat");
    char *stat = sp ? read_pseudo(sp) : NULL;
    free(sp);
    uint64_t inactive = stat ? stat_value(stat, v2 ? "inactive_file" : "total_inactive_file") : 0;
    free(stat);
    uint64_t used = usage > inactive ? usage - inactive : 0;
    *room = limit > used ? limit - used : 0;
    return 1;
}

/* The smallest headroom over mount/rel and its ancestors up to mount (a
 * limit anywhere above binds too; inside a cgroup namespace rel may not
 * exist under the mount, and the walk reaches the mount itself). */
static int cgroup_walk(const char *mount, const char *rel, int v2, uint64_t *room) {
    char *dir = rooted(mount, rel[0] == '/' ? "" : "/", rel);
    if (!dir) return 0;
    size_t base = strlen(mount), end = strlen(dir);
    while (end > base && dir[end - 1] == '/') dir[--end] = '\0';
    int found = 0;
    for (;;) {
        uint64_t r;
        if (cgroup_headroom(dir, v2, &r) && (!found || r < *room)) {
            *room = r;
            found = 1;
        }
        size_t len = strlen(dir);
        if (len <= base) break;
        while (len > base && dir[len - 1] != '/') len--;
        if (len > base) len--; /* drop the '/' too */
        dir[len] = '\0';
    }
    free(dir);
    return found;
}

/* Whether the comma-separated controller list ctl names "memory". */
static int names_memory(const char *ctl, size_t n) {
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && ctl[j] != ',') j++;
        if (j - i == 6 && !strncmp(ctl + i, "memory", 6)) return 1;
        i = j + 1;
    }
    return 0;
}

anc_status anc_mem_available_under(const char *root, uint64_t *bytes, const char **source, anc_error *err) {
    if (!bytes) return anc_error_set(err, ANC_ERR_INVALID, "available memory: an output is required");
    *bytes = 0;
    if (source) *source = NULL;
    if (!root) root = "";
    int have = 0;
    uint64_t best = 0;
    const char *src = NULL;

    char *p = rooted(root, "/proc/meminfo", "");
    char *mi = p ? read_pseudo(p) : NULL;
    free(p);
    if (mi) {
        uint64_t kb;
        const char *l = strstr(mi, "MemAvailable:");
        if (l && (l == mi || l[-1] == '\n') && parse_u64(l + strlen("MemAvailable:"), &kb) && kb <= UINT64_MAX / 1024) {
            best = kb * 1024;
            have = 1;
            src = "MemAvailable";
        }
        free(mi);
    }

    p = rooted(root, "/proc/self/cgroup", "");
    char *cg = p ? read_pseudo(p) : NULL;
    free(p);
    char *mnt_v2 = rooted(root, "/sys/fs/cgroup", "");
    char *mnt_unified = rooted(root, "/sys/fs/cgroup/unified", "");
    char *mnt_v1 = rooted(root, "/sys/fs/cgroup/memory", "");
    for (char *l = cg; l && *l && mnt_v2 && mnt_unified && mnt_v1;) {
        /* "hierarchy-id:controllers:path" */
        char *nl = strchr(l, '\n');
        if (nl) *nl = '\0';
        char *c1 = strchr(l, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        uint64_t room = 0;
        const char *what = NULL;
        if (c2 && c2 == c1 + 1 && !strncmp(l, "0:", 2)) {
            /* v2: mounted at /sys/fs/cgroup, or /sys/fs/cgroup/unified in a hybrid layout */
            if (cgroup_walk(mnt_v2, c2 + 1, 1, &room) || cgroup_walk(mnt_unified, c2 + 1, 1, &room))
                what = "cgroup v2 memory.max";
        } else if (c2 && names_memory(c1 + 1, (size_t)(c2 - c1 - 1))) {
            if (cgroup_walk(mnt_v1, c2 + 1, 0, &room)) what = "cgroup v1 memory.limit_in_bytes";
        }
        if (what && (!have || room < best)) {
            best = room;
            src = what;
            have = 1;
        }
        l = nl ? nl + 1 : NULL;
    }
    free(cg);
    free(mnt_v2);
    free(mnt_unified);
    free(mnt_v1);

    if (!have)
        return anc_error_set(err, ANC_ERR_UNSUPPORTED,
                             "available memory: expected MemAvailable in %s/proc/meminfo or a cgroup memory limit, found neither",
                             root);
    *bytes = best;
    if (source) *source = src;
    return ANC_OK;
}

anc_status anc_mem_available(uint64_t *bytes, anc_error *err) { return anc_mem_available_under("", bytes, NULL, err); }
