#!/usr/bin/env python3
"""Generate reference fixtures for anchor's model tests.

Usage:  /usr/bin/python3 scripts/make_reference.py tests/fixtures/reference

Builds three tiny random Hugging Face-style checkpoints (Llama with GQA and a
sharded F32 checkpoint, Qwen2 with tied embeddings / qkv biases in BF16, and
Llama with llama3 rope scaling in F16) and, for each, computes in float64 with
plain torch the exact forward semantics of transformers' LlamaForCausalLM /
Qwen2ForCausalLM on a packed batch: logits, per-token log-probs, per-sequence
masked log-prob sums, and the gradient of L = sum_s coef[s] * seq_logp[s]
with respect to every parameter.

Only torch, json, struct are used (no transformers, no safetensors package).
Deterministic: fixed seeds, float64 math, fixed file layout.
"""

import json
import math
import os
import struct
import sys

try:
    import torch
except ImportError:  # pragma: no cover - convenience for `make reference`
    if os.path.exists("/usr/bin/python3") and os.path.realpath(sys.executable) != os.path.realpath(
        "/usr/bin/python3"
    ):
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    raise

torch.set_grad_enabled(True)

# ----------------------------------------------------------------------------
# safetensors writer
# ----------------------------------------------------------------------------

_DTYPES = {
    "F64": (torch.float64, 8),
    "F32": (torch.float32, 4),
    "F16": (torch.float16, 2),
    "BF16": (torch.bfloat16, 2),
    "I64": (torch.int64, 8),
    "I32": (torch.int32, 4),
    "U8": (torch.uint8, 1),
}

# torch dtype used to reinterpret the bits when serialising (numpy has no bf16)
_BITS_VIEW = {
    torch.float64: torch.float64,
    torch.float32: torch.float32,
    torch.float16: torch.int16,
    torch.bfloat16: torch.int16,
    torch.int64: torch.int64,
    torch.int32: torch.int32,
    torch.uint8: torch.uint8,
}


def tensor_bytes(t, dtype_name):
    tdt, _ = _DTYPES[dtype_name]
    t = t.detach().to(tdt).contiguous()
    a = t.view(_BITS_VIEW[tdt]).numpy()
    return a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes(order="C")


def write_safetensors(path, tensors):
    """tensors: list of (name, torch.Tensor, dtype_name). Stored in list order."""
    header = {"__metadata__": {"format": "pt"}}
    blobs = []
    off = 0
    for name, t, dt in tensors:
        b = tensor_bytes(t, dt)
        header[name] = {
            "dtype": dt,
            "shape": list(t.shape),
            "data_offsets": [off, off + len(b)],
        }
        blobs.append(b)
        off += len(b)
    hj = json.dumps(header, separators=(",", ":")).encode("utf-8")
    pad = (8 - (8 + len(hj)) % 8) % 8
    hj += b" " * pad
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hj)))
        f.write(hj)
        for b in blobs:
            f.write(b)
    return off  # data bytes


def read_safetensors(path):
    """Minimal reader used for the round-trip self-check."""
    rev = {k: v[0] for k, v in _DTYPES.items()}
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    hdr = json.loads(data[8 : 8 + n].decode("utf-8"))
    base = 8 + n
    out = {}
    for name, info in hdr.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        tdt = rev[info["dtype"]]
        raw = bytearray(data[base + b : base + e])
        t = torch.frombuffer(raw, dtype=_BITS_VIEW[tdt]).view(tdt) if e > b else torch.empty(0, dtype=tdt)
        out[name] = t.reshape(info["shape"]).clone()
    return out


# ----------------------------------------------------------------------------
# Model definitions
# ----------------------------------------------------------------------------

TRANSFORMERS_VERSION = "4.44.2"

MODELS = [
    {
        "dir": "llama_gqa",
        "seed": 1234,
        "storage": "F32",
        "shards": 2,
        "config": {
            "architectures": ["LlamaForCausalLM"],
            "attention_bias": False,
            "attention_dropout": 0.0,
            "bos_token_id": 1,
            "eos_token_id": 2,
            "hidden_act": "silu",
            "hidden_size": 32,
            "initializer_range": 0.02,
            "intermediate_size": 64,
            "max_position_embeddings": 128,
            "mlp_bias": False,
            "model_type": "llama",
            "num_attention_heads": 4,
            "num_hidden_layers": 2,
            "num_key_value_heads": 2,
            "pretraining_tp": 1,
            "rms_norm_eps": 1e-05,
            "rope_scaling": None,
            "rope_theta": 10000.0,
            "tie_word_embeddings": False,
            "torch_dtype": "float32",
            "transformers_version": TRANSFORMERS_VERSION,
            "use_cache": True,
            "vocab_size": 96,
        },
    },
    {
        "dir": "qwen2_tied",
        "seed": 2345,
        "storage": "BF16",
        "shards": 1,
        "config": {
            "architectures": ["Qwen2ForCausalLM"],
            "attention_dropout": 0.0,
            "bos_token_id": 1,
            "eos_token_id": 2,
            "hidden_act": "silu",
            "hidden_size": 48,
            "initializer_range": 0.02,
            "intermediate_size": 96,
            "max_position_embeddings": 128,
            "max_window_layers": 2,
            "model_type": "qwen2",
            "num_attention_heads": 6,
            "num_hidden_layers": 2,
            "num_key_value_heads": 2,
            "rms_norm_eps": 1e-06,
            "rope_scaling": None,
            "rope_theta": 1000000.0,
            "sliding_window": 128,
            "tie_word_embeddings": True,
            "torch_dtype": "bfloat16",
            "transformers_version": TRANSFORMERS_VERSION,
            "use_cache": True,
            "use_sliding_window": False,
            "vocab_size": 80,
        },
    },
    {
        "dir": "llama3_rope",
        "seed": 3456,
        "storage": "F16",
        "shards": 1,
        "config": {
            "architectures": ["LlamaForCausalLM"],
            "attention_bias": False,
            "attention_dropout": 0.0,
            "bos_token_id": 1,
            "eos_token_id": 2,
            "head_dim": 16,
            "hidden_act": "silu",
            "hidden_size": 64,
            "initializer_range": 0.02,
            "intermediate_size": 128,
            "max_position_embeddings": 128,
            "mlp_bias": False,
            "model_type": "llama",
            "num_attention_heads": 4,
            "num_hidden_layers": 2,
            "num_key_value_heads": 1,
            "pretraining_tp": 1,
            "rms_norm_eps": 1e-05,
            # original_max_position_embeddings=64 (not 16): with head_dim 16 and
            # theta 5e5 the shortest wavelength is 2*pi, so the high-frequency
            # band (wavelen < old_ctx/high_freq_factor) only exists when
            # old_ctx/4 > 2*pi.  64 gives 1 high, 1 medium and 6 low bands.
            "rope_scaling": {
                "factor": 8.0,
                "high_freq_factor": 4.0,
                "low_freq_factor": 1.0,
                "original_max_position_embeddings": 64,
                "rope_type": "llama3",
            },
            "rope_theta": 500000.0,
            "tie_word_embeddings": False,
            "torch_dtype": "float16",
            "transformers_version": TRANSFORMERS_VERSION,
            "use_cache": True,
            "vocab_size": 64,
        },
    },
]

SEQ_LENS = [7, 12, 5]
SCORE_TAIL = [4, 6, 2]  # last k tokens of each sequence are "response" tokens
COEF = [0.7, -1.3, 0.45]


def head_dim_of(cfg):
    return cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]


def param_specs(cfg):
    """HF state_dict order: (name, shape, kind) with kind in {mat, norm, bias}."""
    H, I, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    nh, kvh = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    D = head_dim_of(cfg)
    qwen = cfg["model_type"] == "qwen2"
    specs = [("model.embed_tokens.weight", (V, H), "emb")]
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        specs.append((p + "self_attn.q_proj.weight", (nh * D, H), "mat"))
        if qwen:
            specs.append((p + "self_attn.q_proj.bias", (nh * D,), "bias"))
        specs.append((p + "self_attn.k_proj.weight", (kvh * D, H), "mat"))
        if qwen:
            specs.append((p + "self_attn.k_proj.bias", (kvh * D,), "bias"))
        specs.append((p + "self_attn.v_proj.weight", (kvh * D, H), "mat"))
        if qwen:
            specs.append((p + "self_attn.v_proj.bias", (kvh * D,), "bias"))
        specs.append((p + "self_attn.o_proj.weight", (H, nh * D), "mat"))
        specs.append((p + "mlp.gate_proj.weight", (I, H), "mat"))
        specs.append((p + "mlp.up_proj.weight", (I, H), "mat"))
        specs.append((p + "mlp.down_proj.weight", (H, I), "mat"))
        specs.append((p + "input_layernorm.weight", (H,), "norm"))
        specs.append((p + "post_attention_layernorm.weight", (H,), "norm"))
    specs.append(("model.norm.weight", (H,), "norm"))
    if not cfg["tie_word_embeddings"]:
        specs.append(("lm_head.weight", (V, H), "mat"))
    return specs


def init_params(cfg, storage, seed):
    """Random weights, rounded to the storage dtype; returns name -> float64."""
    g = torch.Generator().manual_seed(seed)
    tdt = _DTYPES[storage][0]
    params = {}
    for name, shape, kind in param_specs(cfg):
        if kind == "emb":
            w = torch.randn(shape, generator=g, dtype=torch.float32) * 0.5
        elif kind == "mat":
            # std ~0.2 in units of a unit-variance input -> fan-in scaled so
            # activations stay O(1) but logits/attention are far from uniform
            w = torch.randn(shape, generator=g, dtype=torch.float32) * (1.6 / math.sqrt(shape[1]))
        elif kind == "norm":
            w = 1.0 + 0.1 * torch.randn(shape, generator=g, dtype=torch.float32)
        else:  # bias
            w = 0.1 * torch.randn(shape, generator=g, dtype=torch.float32)
        params[name] = w.to(tdt).to(torch.float64)
    return params


# ----------------------------------------------------------------------------
# Reference forward (float64)
# ----------------------------------------------------------------------------


def rope_inv_freq(cfg):
    D = head_dim_of(cfg)
    base = float(cfg["rope_theta"])
    inv_freq = 1.0 / (base ** (torch.arange(0, D, 2, dtype=torch.int64).to(torch.float64) / D))
    bands = None
    rs = cfg.get("rope_scaling")
    if rs is not None:
        rtype = rs.get("rope_type", rs.get("type"))
        assert rtype == "llama3", rtype
        factor = float(rs["factor"])
        low_ff = float(rs["low_freq_factor"])
        high_ff = float(rs["high_freq_factor"])
        old_ctx = float(rs["original_max_position_embeddings"])
        low_freq_wavelen = old_ctx / low_ff
        high_freq_wavelen = old_ctx / high_ff
        wavelen = 2 * math.pi / inv_freq
        inv_freq_llama = torch.where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq)
        smooth = (old_ctx / wavelen - low_ff) / (high_ff - low_ff)
        smoothed = (1 - smooth) * inv_freq_llama / factor + smooth * inv_freq_llama
        is_medium = ~(wavelen < high_freq_wavelen) & ~(wavelen > low_freq_wavelen)
        inv_freq = torch.where(is_medium, smoothed, inv_freq_llama)
        bands = (
            int((wavelen < high_freq_wavelen).sum()),
            int(is_medium.sum()),
            int((wavelen > low_freq_wavelen).sum()),
        )
    return inv_freq, bands  # attention_scaling is 1.0 for default and llama3


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def rmsnorm(x, w, eps):
    return w * (x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def forward(cfg, P, tokens, positions, seq_offsets):
    """tokens/positions: int64 [N]; returns logits float64 [N, V]."""
    N = tokens.shape[0]
    Hd = cfg["hidden_size"]
    nh, kvh = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    D = head_dim_of(cfg)
    eps = float(cfg["rms_norm_eps"])
    qwen = cfg["model_type"] == "qwen2"
    group = nh // kvh

    inv_freq, _ = rope_inv_freq(cfg)
    freqs = positions.to(torch.float64)[:, None] * inv_freq[None, :]  # [N, D/2]
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos()[:, None, :], emb.sin()[:, None, :]  # [N, 1, D]

    seg = torch.zeros(N, dtype=torch.int64)
    for s in range(len(seq_offsets) - 1):
        seg[seq_offsets[s] : seq_offsets[s + 1]] = s
    idx = torch.arange(N)
    allowed = (seg[:, None] == seg[None, :]) & (idx[None, :] <= idx[:, None])  # [q, k]

    x = P["model.embed_tokens.weight"][tokens]  # [N, H]
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        h = rmsnorm(x, P[p + "input_layernorm.weight"], eps)
        q = h @ P[p + "self_attn.q_proj.weight"].T
        k = h @ P[p + "self_attn.k_proj.weight"].T
        v = h @ P[p + "self_attn.v_proj.weight"].T
        if qwen:
            q = q + P[p + "self_attn.q_proj.bias"]
            k = k + P[p + "self_attn.k_proj.bias"]
            v = v + P[p + "self_attn.v_proj.bias"]
        q = q.view(N, nh, D)
        k = k.view(N, kvh, D)
        v = v.view(N, kvh, D)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        kvi = torch.arange(nh) // group  # kv head for each q head
        kk = k[:, kvi, :]  # [N, nh, D]
        vv = v[:, kvi, :]
        scores = torch.einsum("qhd,khd->hqk", q, kk) / math.sqrt(D)
        scores = scores.masked_fill(~allowed[None], float("-inf"))
        attn = torch.softmax(scores, dim=-1)
        o = torch.einsum("hqk,khd->qhd", attn, vv).reshape(N, nh * D)
        x = x + o @ P[p + "self_attn.o_proj.weight"].T
        h = rmsnorm(x, P[p + "post_attention_layernorm.weight"], eps)
        g = h @ P[p + "mlp.gate_proj.weight"].T
        u = h @ P[p + "mlp.up_proj.weight"].T
        x = x + (torch.nn.functional.silu(g) * u) @ P[p + "mlp.down_proj.weight"].T
    x = rmsnorm(x, P["model.norm.weight"], eps)
    W = P["model.embed_tokens.weight"] if cfg["tie_word_embeddings"] else P["lm_head.weight"]
    return x @ W.T


def objective(cfg, P, tokens, positions, seq_offsets, score_mask, coef):
    logits = forward(cfg, P, tokens, positions, seq_offsets)
    N = tokens.shape[0]
    logp = torch.log_softmax(logits, dim=-1)
    starts = set(int(s) for s in seq_offsets[:-1])
    zero = torch.zeros((), dtype=torch.float64)
    token_logp = torch.stack([zero if t in starts else logp[t - 1, tokens[t]] for t in range(N)])
    S = len(seq_offsets) - 1
    seq_logp = torch.stack(
        [
            (token_logp[seq_offsets[s] : seq_offsets[s + 1]] * score_mask[seq_offsets[s] : seq_offsets[s + 1]]).sum()
            for s in range(S)
        ]
    )
    L = (coef * seq_logp).sum()
    return logits, token_logp, seq_logp, L


# ----------------------------------------------------------------------------
# Driver
# ----------------------------------------------------------------------------


def make_batch(cfg, seed):
    g = torch.Generator().manual_seed(seed + 7)
    V = cfg["vocab_size"]
    N = sum(SEQ_LENS)
    tokens = torch.randint(0, V, (N,), generator=g, dtype=torch.int64)
    seq_offsets = torch.tensor([0] + list(torch.cumsum(torch.tensor(SEQ_LENS), 0).tolist()), dtype=torch.int64)
    positions = torch.cat([torch.arange(n, dtype=torch.int64) for n in SEQ_LENS])
    score_mask = torch.zeros(N, dtype=torch.uint8)
    for s, k in enumerate(SCORE_TAIL):
        assert 0 < k < SEQ_LENS[s]
        score_mask[seq_offsets[s + 1] - k : seq_offsets[s + 1]] = 1
    return tokens, seq_offsets, positions, score_mask


def write_checkpoint(outdir, m, params):
    cfg = m["config"]
    storage = m["storage"]
    names = [n for n, _, _ in param_specs(cfg)]
    with open(os.path.join(outdir, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
        f.write("\n")
    entries = [(n, params[n], storage) for n in names]
    if m["shards"] == 1:
        write_safetensors(os.path.join(outdir, "model.safetensors"), entries)
        return
    # split in state_dict order, roughly balanced by bytes (like max_shard_size)
    nsh = m["shards"]
    esz = _DTYPES[storage][1]
    total = sum(params[n].numel() * esz for n in names)
    shards, cur, cur_bytes = [], [], 0
    for e in entries:
        b = e[1].numel() * esz
        if cur and cur_bytes + b > total / nsh and len(shards) < nsh - 1:
            shards.append(cur)
            cur, cur_bytes = [], 0
        cur.append(e)
        cur_bytes += b
    shards.append(cur)
    assert len(shards) == nsh
    weight_map = {}
    for si, sh in enumerate(shards):
        fname = f"model-{si + 1:05d}-of-{nsh:05d}.safetensors"
        write_safetensors(os.path.join(outdir, fname), sh)
        for n, _, _ in sh:
            weight_map[n] = fname
    index = {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
    with open(os.path.join(outdir, "model.safetensors.index.json"), "w") as f:
        json.dump(index, f, indent=2)
        f.write("\n")


def reload_checkpoint(outdir, m):
    """Round-trip check: read back what we wrote and return name -> float64."""
    out = {}
    if m["shards"] == 1:
        files = ["model.safetensors"]
    else:
        with open(os.path.join(outdir, "model.safetensors.index.json")) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
    for fn in files:
        for n, t in read_safetensors(os.path.join(outdir, fn)).items():
            assert t.dtype == _DTYPES[m["storage"]][0], (n, t.dtype)
            out[n] = t.to(torch.float64)
    return out


def finite_diff_check(cfg, P, grads, batch, coef, seed):
    """Central finite differences of L on a few elements of a few params."""
    g = torch.Generator().manual_seed(seed + 11)
    tokens, seq_offsets, positions, score_mask = batch
    sm = score_mask.to(torch.float64)
    names = [
        "model.embed_tokens.weight",
        "model.layers.0.self_attn.q_proj.weight",
        "model.layers.0.self_attn.k_proj.weight",
        "model.layers.1.mlp.gate_proj.weight",
        "model.layers.0.input_layernorm.weight",
        "model.norm.weight",
    ]
    if "model.layers.0.self_attn.k_proj.bias" in P:
        names.append("model.layers.0.self_attn.k_proj.bias")
    if "lm_head.weight" in P:
        names.append("lm_head.weight")
    eps = 1e-6
    worst = 0.0
    with torch.no_grad():
        for n in names:
            for _ in range(3):
                if n == "model.embed_tokens.weight":
                    # pick a row that is actually used as an input token
                    r = int(tokens[torch.randint(0, tokens.numel(), (1,), generator=g)])
                    flat = r * P[n].shape[1] + int(torch.randint(0, P[n].shape[1], (1,), generator=g))
                else:
                    flat = int(torch.randint(0, P[n].numel(), (1,), generator=g))
                orig = P[n].view(-1)[flat].item()
                Q = dict(P)
                wp = P[n].clone()
                wp.view(-1)[flat] = orig + eps
                Q[n] = wp
                Lp = objective(cfg, Q, tokens, positions, seq_offsets, sm, coef)[3].item()
                wm = P[n].clone()
                wm.view(-1)[flat] = orig - eps
                Q[n] = wm
                Lm = objective(cfg, Q, tokens, positions, seq_offsets, sm, coef)[3].item()
                fd = (Lp - Lm) / (2 * eps)
                an = grads[n].view(-1)[flat].item()
                rel = abs(fd - an) / max(abs(fd), abs(an), 1e-6)
                worst = max(worst, rel)
    return worst


def run_model(root, m):
    cfg = m["config"]
    outdir = os.path.join(root, m["dir"])
    os.makedirs(outdir, exist_ok=True)

    params = init_params(cfg, m["storage"], m["seed"])
    write_checkpoint(outdir, m, params)
    P = reload_checkpoint(outdir, m)
    assert set(P) == set(params), sorted(set(P) ^ set(params))
    for n in P:
        assert torch.equal(P[n], params[n]), n

    batch = make_batch(cfg, m["seed"])
    tokens, seq_offsets, positions, score_mask = batch
    coef = torch.tensor(COEF, dtype=torch.float64)

    leaves = {n: t.clone().requires_grad_(True) for n, t in P.items()}
    logits, token_logp, seq_logp, L = objective(
        cfg, leaves, tokens, positions, seq_offsets, score_mask.to(torch.float64), coef
    )
    assert torch.isfinite(logits).all(), "non-finite logits"
    assert torch.isfinite(token_logp).all() and torch.isfinite(L)
    names = list(leaves)
    gl = torch.autograd.grad(L, [leaves[n] for n in names])
    grads = {n: g.detach() for n, g in zip(names, gl)}
    for n, gt in grads.items():
        assert torch.isfinite(gt).all(), n

    # sanity on the packed semantics: each sequence run alone must give the
    # same logits as its slice of the packed batch
    with torch.no_grad():
        for s in range(len(SEQ_LENS)):
            a, b = int(seq_offsets[s]), int(seq_offsets[s + 1])
            solo = forward(cfg, P, tokens[a:b], positions[a:b], torch.tensor([0, b - a]))
            assert torch.allclose(solo, logits[a:b].detach(), rtol=0, atol=1e-10), s

    fd_err = finite_diff_check(cfg, P, grads, batch, coef, m["seed"])
    assert fd_err < 1e-5, fd_err

    out = [
        ("tokens", tokens, "I32"),
        ("seq_offsets", seq_offsets, "I64"),
        ("positions", positions, "I32"),
        ("score_mask", score_mask, "U8"),
        ("coef", coef, "F32"),
        ("logits", logits.detach(), "F32"),
        ("token_logp", token_logp.detach(), "F32"),
        ("seq_logp", seq_logp.detach(), "F32"),
        ("loss_scalar", L.detach().reshape(1), "F32"),
    ]
    for n, _, _ in param_specs(cfg):
        out.append(("grad." + n, grads[n], "F32"))
    write_safetensors(os.path.join(outdir, "expected.safetensors"), out)

    # readback of the expected file
    back = read_safetensors(os.path.join(outdir, "expected.safetensors"))
    assert torch.equal(back["tokens"].to(torch.int64), tokens)
    assert torch.equal(back["seq_offsets"], seq_offsets)

    _, bands = rope_inv_freq(cfg)
    probs = torch.softmax(logits.detach(), -1)
    ent = -(probs * probs.clamp_min(1e-300).log()).sum(-1).mean().item()
    gmax = max(g.abs().max().item() for g in grads.values())
    extra = f" rope_bands(high,med,low)={bands}" if bands else ""
    print(
        f"{m['dir']}: {cfg['architectures'][0]} {m['storage']} N={tokens.numel()} V={cfg['vocab_size']} "
        f"L={L.item():.6f} seq_logp={[round(v, 4) for v in seq_logp.tolist()]} "
        f"logit_range=[{logits.min().item():.2f},{logits.max().item():.2f}] "
        f"mean_entropy={ent:.3f}/ln(V)={math.log(cfg['vocab_size']):.3f} "
        f"max|grad|={gmax:.3g} fd_max_rel_err={fd_err:.2e}{extra}"
    )
    if bands:
        assert all(b > 0 for b in bands), bands


def main():
    if len(sys.argv) != 2:
        print(f"usage: {sys.argv[0]} OUTPUT_DIR", file=sys.stderr)
        sys.exit(2)
    torch.manual_seed(0)
    torch.use_deterministic_algorithms(True)
    root = sys.argv[1]
    os.makedirs(root, exist_ok=True)
    for m in MODELS:
        run_model(root, m)


if __name__ == "__main__":
    main()
