#!/usr/bin/env python3
"""Generate reference fixtures for anchor's LoRA adapters.

Usage:  /usr/bin/python3 scripts/make_lora_reference.py tests/fixtures/lora

Plain torch autograd in float64 (no peft, no transformers). The base model is
tests/fixtures/reference/llama_gqa (read back from its committed files, the
forward of scripts/make_reference.py). Every adapted projection follows PEFT's
LoRA Linear forward (peft/tuners/lora/layer.py, Linear.forward):

    result = W x + lora_B(lora_A(dropout(x))) * scaling

with scaling = lora_alpha / r, or lora_alpha / sqrt(r) with use_rslora, and
lora_dropout 0.0 here (dropout is the identity). PEFT's tensor names:
base_model.model.model.layers.{i}.self_attn.{q,k,v,o}_proj.lora_A.weight
[r, in] and ...lora_B.weight [out, r]; gate/up/down_proj under mlp.

Writes into OUTDIR:
  adapter_qv/            r=4, alpha=8, q_proj and v_proj (PEFT's Llama default)
  adapter_all_rslora/    r=3, alpha=6, use_rslora, all seven projections
                         each: adapter_config.json + adapter_model.safetensors (F32),
                         A and B both 0.1 * randn (fixed seeds) so B != 0
  cases.safetensors      one packed batch (2 sequences, lengths 9 and 6), every
                         token scored but the first of each sequence, per-token
                         coefficients coef; per adapter the adapted model's
                         logits, per-token log-probs and the gradient of
                         J = sum_t coef[t] * logp[t] with respect to every
                         lora_A / lora_B tensor (F64); the base model's log-probs

tests/fixtures/lora/README.md (kept by hand) describes the files and the
tolerances of tests/test_lora_torch.c.

Self-checks: safetensors round trip, adapters zeroed -> the base forward of
make_reference.py exactly, the unmerged forward equals the forward on merged
weights W + scaling * B A, each packed sequence alone equals its slice, and
autograd against central finite differences on sampled adapter elements.
Deterministic (fixed seeds): rerunning gives byte-identical files.
"""

import json
import math
import os
import sys

try:
    import torch
except ImportError:  # pragma: no cover
    if os.path.exists("/usr/bin/python3") and os.path.realpath(sys.executable) != os.path.realpath(
        "/usr/bin/python3"
    ):
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    raise

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_reference as mr  # noqa: E402  (float64 Llama forward, safetensors I/O)

torch.set_default_dtype(torch.float64)

BASE = "llama_gqa"
SEQ_LENS = [9, 6]
BATCH_SEED = 4242

MODULES = [  # PEFT module name, parent, base weight key
    ("q_proj", "self_attn"),
    ("k_proj", "self_attn"),
    ("v_proj", "self_attn"),
    ("o_proj", "self_attn"),
    ("gate_proj", "mlp"),
    ("up_proj", "mlp"),
    ("down_proj", "mlp"),
]
PARENT = dict(MODULES)

ADAPTERS = [
    {"dir": "adapter_qv", "r": 4, "alpha": 8, "rslora": False, "targets": ["q_proj", "v_proj"], "seed": 501},
    {
        "dir": "adapter_all_rslora",
        "r": 3,
        "alpha": 6,
        "rslora": True,
        "targets": [m for m, _ in MODULES],
        "seed": 502,
    },
]


def peft_name(layer, mod, ab):
    return f"base_model.model.model.layers.{layer}.{PARENT[mod]}.{mod}.lora_{ab}.weight"


def base_weight_name(layer, mod):
    return f"model.layers.{layer}.{PARENT[mod]}.{mod}.weight"


def scaling_of(ad):
    return ad["alpha"] / math.sqrt(ad["r"]) if ad["rslora"] else ad["alpha"] / ad["r"]


def adapter_specs(cfg, ad):
    """(name, shape) in anchor's / PEFT's order: layer, projection, A then B."""
    out = []
    for i in range(cfg["num_hidden_layers"]):
        for mod, _ in MODULES:
            if mod not in ad["targets"]:
                continue
            W_out, W_in = [s for n, s, _ in mr.param_specs(cfg) if n == base_weight_name(i, mod)][0]
            out.append((peft_name(i, mod, "A"), (ad["r"], W_in)))
            out.append((peft_name(i, mod, "B"), (W_out, ad["r"])))
    return out


def init_adapter(cfg, ad):
    """0.1 * randn for A and B, rounded to F32 (what the file stores); name -> float64."""
    g = torch.Generator().manual_seed(ad["seed"])
    return {
        n: (0.1 * torch.randn(shape, generator=g, dtype=torch.float32)).to(torch.float64)
        for n, shape in adapter_specs(cfg, ad)
    }


# ----------------------------------------------------------------------------
# Llama forward with PEFT LoRA on the linear layers (float64); the same
# computation as make_reference.forward with every projection through lin().
# ----------------------------------------------------------------------------


def forward_lora(cfg, P, L, scaling, tokens, positions, seq_offsets):
    N = tokens.shape[0]
    nh, kvh = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    D = mr.head_dim_of(cfg)
    eps = float(cfg["rms_norm_eps"])
    group = nh // kvh

    def lin(x, layer, mod):
        y = x @ P[base_weight_name(layer, mod)].T
        a = L.get(peft_name(layer, mod, "A"))
        if a is not None:
            b = L[peft_name(layer, mod, "B")]
            y = y + ((x @ a.T) @ b.T) * scaling  # dropout p = 0: identity
        return y

    inv_freq, _ = mr.rope_inv_freq(cfg)
    freqs = positions.to(torch.float64)[:, None] * inv_freq[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos()[:, None, :], emb.sin()[:, None, :]

    seg = torch.zeros(N, dtype=torch.int64)
    for s in range(len(seq_offsets) - 1):
        seg[seq_offsets[s] : seq_offsets[s + 1]] = s
    idx = torch.arange(N)
    allowed = (seg[:, None] == seg[None, :]) & (idx[None, :] <= idx[:, None])

    x = P["model.embed_tokens.weight"][tokens]
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        h = mr.rmsnorm(x, P[p + "input_layernorm.weight"], eps)
        q = lin(h, i, "q_proj").view(N, nh, D)
        k = lin(h, i, "k_proj").view(N, kvh, D)
        v = lin(h, i, "v_proj").view(N, kvh, D)
        q = q * cos + mr.rotate_half(q) * sin
        k = k * cos + mr.rotate_half(k) * sin
        kvi = torch.arange(nh) // group
        scores = torch.einsum("qhd,khd->hqk", q, k[:, kvi, :]) / math.sqrt(D)
        scores = scores.masked_fill(~allowed[None], float("-inf"))
        attn = torch.softmax(scores, dim=-1)
        o = torch.einsum("hqk,khd->qhd", attn, v[:, kvi, :]).reshape(N, nh * D)
        x = x + lin(o, i, "o_proj")
        h = mr.rmsnorm(x, P[p + "post_attention_layernorm.weight"], eps)
        x = x + lin(torch.nn.functional.silu(lin(h, i, "gate_proj")) * lin(h, i, "up_proj"), i, "down_proj")
    x = mr.rmsnorm(x, P["model.norm.weight"], eps)
    W = P["model.embed_tokens.weight"] if cfg["tie_word_embeddings"] else P["lm_head.weight"]
    return x @ W.T


def token_logp_of(logits, tokens, seq_offsets):
    """log p(token t | earlier tokens of its sequence); 0 at sequence starts."""
    logp = torch.log_softmax(logits, dim=-1)
    starts = set(int(s) for s in seq_offsets[:-1])
    zero = torch.zeros((), dtype=torch.float64)
    return torch.stack([zero if t in starts else logp[t - 1, tokens[t]] for t in range(tokens.shape[0])])


def objective(cfg, P, L, scaling, batch):
    tokens, seq_offsets, positions, mask, coef = batch
    logits = forward_lora(cfg, P, L, scaling, tokens, positions, seq_offsets)
    tl = token_logp_of(logits, tokens, seq_offsets)
    return logits, tl, (coef * mask * tl).sum()


def make_batch(cfg):
    g = torch.Generator().manual_seed(BATCH_SEED)
    N = sum(SEQ_LENS)
    tokens = torch.randint(0, cfg["vocab_size"], (N,), generator=g, dtype=torch.int64)
    seq_offsets = torch.tensor([0] + torch.cumsum(torch.tensor(SEQ_LENS), 0).tolist(), dtype=torch.int64)
    positions = torch.cat([torch.arange(n, dtype=torch.int64) for n in SEQ_LENS])
    mask = torch.ones(N, dtype=torch.uint8)
    mask[seq_offsets[:-1]] = 0
    # float32-exact coefficients, 0 where unscored (the C test passes them as d_token_logp)
    coef = torch.randn(N, generator=g, dtype=torch.float32).to(torch.float64) * mask.to(torch.float64)
    return tokens, seq_offsets, positions, mask, coef


def write_adapter(outdir, cfg, ad, L):
    os.makedirs(outdir, exist_ok=True)
    conf = {
        "alpha_pattern": {},
        "auto_mapping": None,
        "base_model_name_or_path": "tests/fixtures/reference/" + BASE,
        "bias": "none",
        "fan_in_fan_out": False,
        "inference_mode": True,
        "init_lora_weights": True,
        "layers_pattern": None,
        "layers_to_transform": None,
        "lora_alpha": ad["alpha"],
        "lora_dropout": 0.0,
        "modules_to_save": None,
        "peft_type": "LORA",
        "r": ad["r"],
        "rank_pattern": {},
        "revision": None,
        "target_modules": list(ad["targets"]),
        "task_type": "CAUSAL_LM",
        "use_dora": False,
        "use_rslora": ad["rslora"],
    }
    with open(os.path.join(outdir, "adapter_config.json"), "w") as f:
        json.dump(conf, f, indent=2, sort_keys=True)
        f.write("\n")
    path = os.path.join(outdir, "adapter_model.safetensors")
    mr.write_safetensors(path, [(n, L[n], "F32") for n, _ in adapter_specs(cfg, ad)])
    back = mr.read_safetensors(path)
    assert set(back) == set(L)
    for n in L:
        assert back[n].dtype == torch.float32 and torch.equal(back[n].to(torch.float64), L[n]), n


def fd_worst(L, grads, names, f, h, samples, seed, floor):
    """Central finite differences of the scalar f(adapter dict) against the
    autograd grads on `samples` elements drawn (seeded) from the tensors
    `names` of L; the worst relative error (denominator at least floor)."""
    g = torch.Generator().manual_seed(seed)
    worst = 0.0
    with torch.no_grad():
        for _ in range(samples):
            n = names[int(torch.randint(0, len(names), (1,), generator=g))]
            flat = int(torch.randint(0, L[n].numel(), (1,), generator=g))
            vals = []
            for sgn in (1, -1):
                M = dict(L)
                w = L[n].clone()
                w.view(-1)[flat] += sgn * h
                M[n] = w
                vals.append(f(M))
            fd = (vals[0] - vals[1]) / (2 * h)
            an = grads[n].view(-1)[flat].item()
            worst = max(worst, abs(fd - an) / max(abs(fd), abs(an), floor))
    return worst


def finite_diff_check(cfg, P, L, scaling, grads, batch, seed):
    return fd_worst(L, grads, sorted(L), lambda M: objective(cfg, P, M, scaling, batch)[2].item(), 1e-6, 24, seed, 1e-6)


def load_base():
    """The base model llama_gqa as committed: (config, float64 parameters),
    its config.json checked against make_reference.py's."""
    here = os.path.dirname(os.path.abspath(__file__))
    base_dir = os.path.join(here, "..", "tests", "fixtures", "reference", BASE)
    m = [x for x in mr.MODELS if x["dir"] == BASE][0]
    cfg = m["config"]
    P = mr.reload_checkpoint(base_dir, m)
    with open(os.path.join(base_dir, "config.json")) as f:
        assert json.load(f) == cfg, "llama_gqa/config.json differs from make_reference.py"
    return cfg, P


def main():
    if len(sys.argv) != 2:
        print(f"usage: {sys.argv[0]} OUTPUT_DIR", file=sys.stderr)
        sys.exit(2)
    torch.manual_seed(0)
    torch.use_deterministic_algorithms(True)
    root = sys.argv[1]
    os.makedirs(root, exist_ok=True)

    cfg, P = load_base()

    batch = make_batch(cfg)
    tokens, seq_offsets, positions, mask, coef = batch

    with torch.no_grad():
        base_logits = mr.forward(cfg, P, tokens, positions, seq_offsets)
        # no adapter: this forward is make_reference's
        assert torch.allclose(forward_lora(cfg, P, {}, 1.0, tokens, positions, seq_offsets), base_logits,
                              rtol=0, atol=1e-12)
        base_tl = token_logp_of(base_logits, tokens, seq_offsets)

    out = [
        ("tokens", tokens, "I32"),
        ("seq_offsets", seq_offsets, "I64"),
        ("score_mask", mask, "U8"),
        ("coef", coef, "F32"),
        ("base.token_logp", base_tl * mask, "F64"),
    ]
    for ad in ADAPTERS:
        scaling = scaling_of(ad)
        L = init_adapter(cfg, ad)
        write_adapter(os.path.join(root, ad["dir"]), cfg, ad, L)

        leaves = {n: t.clone().requires_grad_(True) for n, t in L.items()}
        logits, tl, J = objective(cfg, P, leaves, scaling, batch)
        assert torch.isfinite(logits).all() and torch.isfinite(J)
        names = [n for n, _ in adapter_specs(cfg, ad)]
        grads = dict(zip(names, (g.detach() for g in torch.autograd.grad(J, [leaves[n] for n in names]))))

        with torch.no_grad():
            # unmerged == merged weights (PEFT's merge: W += scaling * B @ A)
            Pm = dict(P)
            for i in range(cfg["num_hidden_layers"]):
                for mod in ad["targets"]:
                    Pm[base_weight_name(i, mod)] = P[base_weight_name(i, mod)] + scaling * (
                        L[peft_name(i, mod, "B")] @ L[peft_name(i, mod, "A")]
                    )
            merged = mr.forward(cfg, Pm, tokens, positions, seq_offsets)
            assert torch.allclose(merged, logits.detach(), rtol=0, atol=1e-10)
            # packed semantics: each sequence alone equals its slice
            for s in range(len(SEQ_LENS)):
                a, b = int(seq_offsets[s]), int(seq_offsets[s + 1])
                solo = forward_lora(cfg, P, L, scaling, tokens[a:b], positions[a:b], torch.tensor([0, b - a]))
                assert torch.allclose(solo, logits[a:b].detach(), rtol=0, atol=1e-10), s
        fd = finite_diff_check(cfg, P, L, scaling, grads, batch, ad["seed"] + 1)
        assert fd < 1e-5, fd

        p = ad["dir"] + "."
        out.append((p + "logits", logits.detach(), "F64"))
        out.append((p + "token_logp", tl.detach() * mask, "F64"))
        out.append((p + "J", J.detach().reshape(1), "F64"))
        for n in names:
            out.append((p + "grad." + n, grads[n], "F64"))
        dl = ((tl.detach() - base_tl) * mask).abs().max().item()
        gmax = max(g.abs().max().item() for g in grads.values())
        print(
            f"{ad['dir']}: r={ad['r']} alpha={ad['alpha']} rslora={ad['rslora']} scaling={scaling:.6f} "
            f"{len(names)} tensors, {sum(L[n].numel() for n in names)} weights; J={J.item():.6f} "
            f"max|logp - base logp|={dl:.4f} max|logp|={(tl.detach() * mask).abs().max().item():.4f} "
            f"max|grad|={gmax:.4g} fd_max_rel_err={fd:.2e}"
        )

    path = os.path.join(root, "cases.safetensors")
    mr.write_safetensors(path, out)
    back = mr.read_safetensors(path)
    assert torch.equal(back["tokens"].to(torch.int64), tokens)
    assert torch.equal(back["seq_offsets"], seq_offsets)
    assert torch.equal(back["coef"].to(torch.float64), coef)


if __name__ == "__main__":
    main()
