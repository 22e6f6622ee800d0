#!/usr/bin/python3
"""PyTorch peer of bench_engine.c: the same SmolLM2-135M-shaped Llama
(random weights), the same 2 x 512-token packed batch, the same work —
sequence log-probs of all tokens after the first (forward), and forward +
backward of their mean (training step). Prints the same "key value" lines.

A plain-PyTorch Llama (no transformers package on Debian) written for this
benchmark: fp32, eager causal attention per sequence, GQA by repeating kv heads, full
logits then log_softmax + gather, as TRL's DPOTrainer does."""
import argparse
import math
import resource
import statistics
import time

import torch
import torch.nn.functional as F


def rmsnorm(x, w, eps):
    return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def rope(x, cos, sin):
    d = x.shape[-1] // 2
    x1, x2 = x[..., :d], x[..., d:]
    rot = torch.cat((-x2, x1), dim=-1)
    return x * cos + rot * sin


class Llama(torch.nn.Module):
    def __init__(self, layers, V=49152, C=576, Fd=1536, H=9, KVH=3, D=64):
        super().__init__()
        self.V, self.C, self.H, self.KVH, self.D = V, C, H, KVH, D
        self.embed = torch.nn.Parameter(torch.randn(V, C) * 0.02)
        self.layers = torch.nn.ModuleList()
        for _ in range(layers):
            l = torch.nn.Module()
            l.n1 = torch.nn.Parameter(torch.ones(C))
            l.q = torch.nn.Linear(C, H * D, bias=False)
            l.k = torch.nn.Linear(C, KVH * D, bias=False)
            l.v = torch.nn.Linear(C, KVH * D, bias=False)
            l.o = torch.nn.Linear(H * D, C, bias=False)
            l.n2 = torch.nn.Parameter(torch.ones(C))
            l.gate = torch.nn.Linear(C, Fd, bias=False)
            l.up = torch.nn.Linear(C, Fd, bias=False)
            l.down = torch.nn.Linear(Fd, C, bias=False)
            self.layers.append(l)
        self.norm = torch.nn.Parameter(torch.ones(C))
        inv = 1.0 / (100000.0 ** (torch.arange(0, D, 2, dtype=torch.float32) / D))
        self.register_buffer("inv_freq", inv)

    def forward(self, ids):  # ids [B, T]; sequences are independent (packed equivalent)
        return self.response_logps(ids, 1)

    def response_logps(self, ids, prompt):
        """Sum of log p(ids[:, t] | ids[:, :t]) over t >= prompt, per row."""
        B, T = ids.shape
        pos = torch.arange(T, dtype=torch.float32)
        fr = torch.outer(pos, self.inv_freq)
        emb = torch.cat((fr, fr), dim=-1)
        cos, sin = emb.cos()[None, None], emb.sin()[None, None]
        x = self.embed[ids]
        rep = self.H // self.KVH
        mask = torch.ones(T, T, dtype=torch.bool).triu(1)
        for l in self.layers:
            h = rmsnorm(x, l.n1, 1e-5)
            q = l.q(h).view(B, T, self.H, self.D).transpose(1, 2)
            k = l.k(h).view(B, T, self.KVH, self.D).transpose(1, 2)
            v = l.v(h).view(B, T, self.KVH, self.D).transpose(1, 2)
            q, k = rope(q, cos, sin), rope(k, cos, sin)
            k = k.repeat_interleave(rep, dim=1)
            v = v.repeat_interleave(rep, dim=1)
            # eager attention, as transformers' LlamaAttention (torch 1.13 has no SDPA)
            sc = (q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(self.D))
            sc = sc.masked_fill(mask, float("-inf"))
            a = torch.softmax(sc, dim=-1) @ v
            x = x + l.o(a.transpose(1, 2).reshape(B, T, self.H * self.D))
            h = rmsnorm(x, l.n2, 1e-5)
            x = x + l.down(F.silu(l.gate(h)) * l.up(h))
        x = rmsnorm(x, self.norm, 1e-5)
        logits = x[:, prompt - 1:-1] @ self.embed.t()  # tied head, response rows only
        logp = torch.log_softmax(logits, dim=-1).gather(-1, ids[:, prompt:, None]).squeeze(-1)
        return logp.sum(-1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--layers", type=int, default=30)
    ap.add_argument("--seq-len", type=int, default=512)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    m = Llama(a.layers)
    P = sum(p.numel() for p in m.parameters())
    ids = torch.randint(0, m.V, (2, a.seq_len))
    N = ids.numel()
    n_scored = 2 * (a.seq_len - 1)
    with torch.no_grad():
        m(ids)
    tf = []
    for _ in range(a.reps):
        t0 = time.perf_counter()
        with torch.no_grad():
            s = m(ids)
        tf.append(time.perf_counter() - t0)
    m(ids).sum().div(n_scored).backward()  # warm-up of autograd
    tfb = []
    for _ in range(a.reps):
        m.zero_grad(set_to_none=False)
        t0 = time.perf_counter()
        loss = m(ids).sum() / n_scored
        loss.backward()
        tfb.append(time.perf_counter() - t0)
    f, fb = statistics.median(tf), statistics.median(tfb)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print("impl pytorch")
    print("torch_version", torch.__version__)
    print("threads", torch.get_num_threads())
    print("params", P)
    print("tokens", N)
    print("forward_s %.4f" % f)
    print("forward_tok_s %.1f" % (N / f))
    print("train_step_s %.4f" % fb)
    print("train_tok_s %.1f" % (N / fb))
    print("peak_rss_mb %.1f" % rss)


if __name__ == "__main__":
    main()
