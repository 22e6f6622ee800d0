#!/usr/bin/python3
"""PyTorch peer of `bench_train --lora-r R` (anchor's LoRA APO-zero step):
one optimiser step on one preference pair for a random Llama-family model
with LoRA on all seven linear projections (q, k, v, o, gate, up, down) and a
frozen base, as TRL's DPOTrainer(loss_type="apo_zero") + PEFT would run it:

  * the batch of bench_train: chosen and rejected sequences of N/2 tokens
    each (N = --tokens, default 1024), sharing their first N/8 tokens (the
    prompt; 128 of 512 by default), response tokens scored; token ids random;
  * reference log-probs precomputed once with the adapters disabled (TRL's
    precompute_ref_log_probs; a PEFT model is its own reference);
  * loss = (1 - sigmoid(beta * (c - c_ref))) + sigmoid(beta * (r - r_ref)),
    beta 0.1, on summed response log-probs; backward; clip_grad_norm_(1.0);
    torch.optim.AdamW(lr 1e-6) over the adapter parameters only;
  * LoRA as PEFT: y = W x (+ b) + (alpha / r) * B A dropout(x), alpha = 2r,
    A kaiming_uniform_(a = sqrt(5)), B zeros, dropout --lora-dropout (0.05);
  * base weights N(0, 0.02), norm weights 1, requires_grad False; with --bf16
    the base is held in bf16 only (built in bf16, no fp32 copy: as
    from_pretrained(torch_dtype=torch.bfloat16)), adapters stay fp32, and the
    step runs under torch.autocast("cpu", dtype=torch.bfloat16);
  * --gradient-checkpointing: torch.utils.checkpoint around each decoder
    layer (use_reentrant=False), as HF's gradient_checkpointing_enable().

Model: the SmolLM2-135M shape of torch_engine.py / bench_model.h by default,
or --config bench/shapes/X.json (a Hugging Face config.json: GQA, head_dim,
tied or untied head, llama3 rope scaling, Qwen2's q/k/v biases).
Attention is eager (torch 1.13 has no SDPA), as torch_engine.py.

Prints the "key value" lines of torch_train.py, plus peak RSS (ru_maxrss)."""
import argparse
import json
import math
import os
import resource
import sys
import time

import torch
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_engine import rope  # noqa: E402  (same rotary helper as the other peers)

# SmolLM2-135M (bench_model.h, torch_engine.py): 30 layers, tied head
SMOLLM2 = {
    "architectures": ["LlamaForCausalLM"], "vocab_size": 49152, "hidden_size": 576,
    "intermediate_size": 1536, "num_hidden_layers": 30, "num_attention_heads": 9,
    "num_key_value_heads": 3, "head_dim": 64, "rms_norm_eps": 1e-5, "rope_theta": 100000.0,
    "tie_word_embeddings": True,
}


class Shape:
    """The fields of a config.json the model needs, with transformers' defaults."""

    def __init__(self, c, layers=None):
        arch = (c.get("architectures") or [None])[0] or c.get("model_type", "")
        self.qwen2 = arch in ("Qwen2ForCausalLM", "qwen2")
        self.V, self.C, self.Fd = c["vocab_size"], c["hidden_size"], c["intermediate_size"]
        self.L = layers or c["num_hidden_layers"]
        self.H = c["num_attention_heads"]
        self.KVH = c.get("num_key_value_heads") or self.H
        self.D = c.get("head_dim") or self.C // self.H
        self.eps = c.get("rms_norm_eps", 1e-6)
        self.theta = c.get("rope_theta", 10000.0)
        self.tied = c.get("tie_word_embeddings", True)
        self.bias = self.qwen2 or bool(c.get("attention_bias", False))
        self.rope_scaling = c.get("rope_scaling")
        self.name = arch


def inv_freq(s):
    inv = 1.0 / (s.theta ** (torch.arange(0, s.D, 2, dtype=torch.float32) / s.D))
    rs = s.rope_scaling
    if rs and rs.get("rope_type", rs.get("type")) == "llama3":
        # transformers' _compute_llama3_parameters
        factor, lo, hi = rs["factor"], rs.get("low_freq_factor", 1.0), rs.get("high_freq_factor", 4.0)
        old = rs.get("original_max_position_embeddings", 8192)
        lo_wl, hi_wl = old / lo, old / hi
        wl = 2 * math.pi / inv
        scaled = torch.where(wl > lo_wl, inv / factor, inv)
        smooth = (old / wl - lo) / (hi - lo)
        smoothed = (1 - smooth) * scaled / factor + smooth * scaled
        medium = ~(wl < hi_wl) * ~(wl > lo_wl)
        inv = torch.where(medium, smoothed, scaled)
    elif rs and rs.get("rope_type", rs.get("type")) not in (None, "default"):
        raise SystemExit("rope_scaling %r is not supported here" % rs)
    return inv


def rmsnorm(x, w, eps):
    # LlamaRMSNorm / Qwen2RMSNorm: statistics in fp32, back to the input dtype
    dt = x.dtype
    h = x.float()
    h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + eps)
    return w * h.to(dt)


CHUNK = 1 << 24


def randn_(t, std=0.02):
    """t ~ N(0, std) in place; a low-precision t is filled through a small fp32
    buffer (normal_ on bf16 is ~5x slower and there is no full fp32 copy)."""
    if t.dtype == torch.float32:
        return t.normal_(0.0, std)
    flat, buf = t.view(-1), torch.empty(min(CHUNK, t.numel()))
    for i in range(0, flat.numel(), CHUNK):
        n = min(CHUNK, flat.numel() - i)
        flat[i:i + n].copy_(buf[:n].normal_(0.0, std))
    return t


def frozen(*shape, dtype, init="randn"):
    t = torch.empty(*shape, dtype=dtype)
    if init == "randn":
        randn_(t)
    elif init == "ones":
        t.fill_(1.0)
    else:
        t.zero_()
    return torch.nn.Parameter(t, requires_grad=False)


class LoRALinear(torch.nn.Module):
    """PEFT's lora.Linear: frozen W (+ b), y += scale * B(A(dropout(x)))."""

    def __init__(self, fin, fout, bias, r, alpha, dropout, dtype):
        super().__init__()
        self.weight = frozen(fout, fin, dtype=dtype)
        self.bias = frozen(fout, dtype=dtype) if bias else None
        self.r = r
        if r > 0:
            self.lora_A = torch.nn.Parameter(torch.empty(r, fin))
            torch.nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))
            self.lora_B = torch.nn.Parameter(torch.zeros(fout, r))
            self.drop = torch.nn.Dropout(dropout) if dropout > 0 else torch.nn.Identity()
            self.scale = alpha / r
        self.enabled = True

    def forward(self, x):
        y = F.linear(x, self.weight, self.bias)
        if self.r > 0 and self.enabled:
            y = y + F.linear(F.linear(self.drop(x), self.lora_A), self.lora_B) * self.scale
        return y


class Layer(torch.nn.Module):
    def __init__(self, s, lin):
        super().__init__()
        self.s = s
        self.n1 = frozen(s.C, dtype=lin.dtype, init="ones")
        self.q = lin(s.C, s.H * s.D, s.bias)
        self.k = lin(s.C, s.KVH * s.D, s.bias)
        self.v = lin(s.C, s.KVH * s.D, s.bias)
        self.o = lin(s.H * s.D, s.C, False)
        self.n2 = frozen(s.C, dtype=lin.dtype, init="ones")
        self.gate = lin(s.C, s.Fd, False)
        self.up = lin(s.C, s.Fd, False)
        self.down = lin(s.Fd, s.C, False)

    def forward(self, x, cos, sin, mask):
        s = self.s
        B, T, _ = x.shape
        h = rmsnorm(x, self.n1, s.eps)
        q = self.q(h).view(B, T, s.H, s.D).transpose(1, 2)
        k = self.k(h).view(B, T, s.KVH, s.D).transpose(1, 2)
        v = self.v(h).view(B, T, s.KVH, s.D).transpose(1, 2)
        q, k = rope(q, cos.to(q.dtype), sin.to(q.dtype)), rope(k, cos.to(k.dtype), sin.to(k.dtype))
        rep = s.H // s.KVH
        k = k.repeat_interleave(rep, dim=1)
        v = v.repeat_interleave(rep, dim=1)
        # eager attention as transformers' LlamaAttention: softmax in fp32
        sc = (q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(s.D))
        sc = sc.masked_fill(mask, float("-inf"))
        a = torch.softmax(sc.float(), dim=-1).to(v.dtype) @ v
        x = x + self.o(a.transpose(1, 2).reshape(B, T, s.H * s.D))
        h = rmsnorm(x, self.n2, s.eps)
        return x + self.down(F.silu(self.gate(h)) * self.up(h))


class Model(torch.nn.Module):
    def __init__(self, s, r, alpha, dropout, dtype, ckpt):
        super().__init__()
        self.s, self.ckpt = s, ckpt

        def lin(fin, fout, bias):
            return LoRALinear(fin, fout, bias, r, alpha, dropout, dtype)
        lin.dtype = dtype
        self.embed = frozen(s.V, s.C, dtype=dtype)
        self.layers = torch.nn.ModuleList([Layer(s, lin) for _ in range(s.L)])
        self.norm = frozen(s.C, dtype=dtype, init="ones")
        self.lm_head = None if s.tied else frozen(s.V, s.C, dtype=dtype)
        self.register_buffer("inv_freq", inv_freq(s))

    def set_adapters(self, on):
        for mod in self.modules():
            if isinstance(mod, LoRALinear):
                mod.enabled = on

    def response_logps(self, ids, prompt):
        """Sum of log p(ids[:, t] | ids[:, :t]) over t >= prompt, per row."""
        B, T = ids.shape
        fr = torch.outer(torch.arange(T, dtype=torch.float32), self.inv_freq)
        emb = torch.cat((fr, fr), dim=-1)
        cos, sin = emb.cos()[None, None], emb.sin()[None, None]
        mask = torch.ones(T, T, dtype=torch.bool).triu(1)
        x = self.embed[ids]
        for l in self.layers:
            if self.ckpt and torch.is_grad_enabled():
                x = checkpoint(l, x, cos, sin, mask, use_reentrant=False)
            else:
                x = l(x, cos, sin, mask)
        x = rmsnorm(x, self.norm, self.s.eps)
        head = self.embed if self.lm_head is None else self.lm_head
        logits = x[:, prompt - 1:-1] @ head.t()  # response rows only, as torch_train.py
        # transformers upcasts the logits; TRL takes log_softmax + gather of those
        logp = torch.log_softmax(logits.float(), dim=-1).gather(-1, ids[:, prompt:, None]).squeeze(-1)
        return logp.sum(-1)


def main():
    ap = argparse.ArgumentParser(description="PyTorch peer of bench_train --lora-r: one LoRA APO-zero step.")
    ap.add_argument("--config", help="a Hugging Face config.json (default: the SmolLM2-135M shape)")
    ap.add_argument("--layers", type=int, help="override num_hidden_layers")
    ap.add_argument("--tokens", type=int, default=1024, help="tokens per step: chosen + rejected (default 1024)")
    ap.add_argument("--lora-r", type=int, default=16)
    ap.add_argument("--lora-dropout", type=float, default=0.05)
    ap.add_argument("--bf16", action="store_true", help="bf16 base weights, fp32 adapters, bf16 autocast")
    ap.add_argument("--gradient-checkpointing", action="store_true")
    ap.add_argument("--steps", type=int, default=3, help="timed steps after one warm-up step")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    if a.tokens < 16:
        ap.error("--tokens must be at least 16")
    if a.lora_r < 1 or a.steps < 1:
        ap.error("--lora-r and --steps must be at least 1")
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)

    cfg = SMOLLM2
    if a.config:
        with open(a.config) as f:
            cfg = json.load(f)
    s = Shape(cfg, a.layers)
    dtype = torch.bfloat16 if a.bf16 else torch.float32
    t0 = time.perf_counter()
    m = Model(s, a.lora_r, 2.0 * a.lora_r, a.lora_dropout, dtype, a.gradient_checkpointing)
    t_build = time.perf_counter() - t0
    P = sum(p.numel() for n, p in m.named_parameters() if "lora_" not in n)
    train = [p for p in m.parameters() if p.requires_grad]
    n_train = sum(p.numel() for p in train)

    L = a.tokens // 2  # bench_train --tokens: prompt N/8, response N/2 - N/8 per side
    prompt = a.tokens // 8
    p_ids = torch.randint(0, s.V, (prompt,))
    ids = torch.stack([torch.cat([p_ids, torch.randint(0, s.V, (L - prompt,))]) for _ in range(2)])
    N = ids.numel()

    def autocast():
        return torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.bf16)

    m.eval()
    m.set_adapters(False)
    with torch.no_grad(), autocast():
        ref = m.response_logps(ids, prompt)
    m.set_adapters(True)
    m.train()
    opt = torch.optim.AdamW(train, lr=1e-6, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    beta = 0.1
    times, loss0 = [], None
    for step in range(a.steps + 1):  # step 0 is a warm-up
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=False)
        with autocast():
            lp = m.response_logps(ids, prompt)
        cw, cl = lp[0] - ref[0], lp[1] - ref[1]
        loss = (1 - torch.sigmoid(beta * cw)) + torch.sigmoid(beta * cl)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(train, 1.0)
        opt.step()
        if step == 0:
            loss0 = loss.item()
        else:
            times.append(time.perf_counter() - t0)
    t = sum(times) / len(times)
    print("impl pytorch")
    print("torch_version", torch.__version__)
    print("threads", torch.get_num_threads())
    print("model %s%s, %d layers, hidden %d, %d/%d heads, vocab %d, %s head" % (
        a.config or "SmolLM2-135M shape", "" if not a.config else " (%s)" % s.name, s.L, s.C, s.H, s.KVH, s.V,
        "tied" if s.tied else "untied"))
    print("precision %s" % ("bf16 (bf16 base weights, fp32 adapters, autocast)" if a.bf16 else "fp32"))
    print("gradient_checkpointing %d" % a.gradient_checkpointing)
    print("params", P)
    print("lora all-linear r %d alpha %g dropout %g, trainable %d (%.2f%%)" % (
        a.lora_r, 2.0 * a.lora_r, a.lora_dropout, n_train, 100.0 * n_train / P))
    print("build_s %.2f" % t_build)
    print("tokens_per_step", N)
    print("step_s %.4f" % t)
    print("train_tok_s %.1f" % (N / t))
    # as bench_train --lora-r: no base weight gradients, forward 2PN + input gradients 2PN
    print("train_gflops %.1f" % (4 * P * N / t / 1e9))
    print("peak_rss_mb %.1f" % (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0))
    print("initial_loss %.6f" % loss0)


if __name__ == "__main__":
    main()
