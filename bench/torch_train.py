#!/usr/bin/python3
"""PyTorch peer of bench_train.c: one APO-zero step (TRL's formula) on one
pair of 2 x 512 tokens (128 prompt + 384 response tokens per side) for the
SmolLM2-135M-shaped model of torch_engine.py: forward of both sequences,
loss, backward, clip_grad_norm_(1.0), torch.optim.AdamW — reference
log-probs precomputed once, as TRL's precompute_ref_log_probs."""
import argparse
import resource
import time

import torch
import torch.nn.functional as F

from torch_engine import Llama


def seq_logps(m, ids, prompt):
    # m(ids) sums log p over every token after the first; score the response only
    return m.response_logps(ids, prompt)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--layers", type=int, default=30)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    m = Llama(a.layers)
    P = sum(p.numel() for p in m.parameters())
    prompt, resp = 128, 384
    p_ids = torch.randint(0, m.V, (prompt,))
    ids = torch.stack([torch.cat([p_ids, torch.randint(0, m.V, (resp,))]) for _ in range(2)])
    with torch.no_grad():
        ref = m.response_logps(ids, prompt)
    opt = torch.optim.AdamW(m.parameters(), lr=1e-6, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    beta = 0.1
    times = []
    for s in range(a.steps + 1):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=False)
        lp = m.response_logps(ids, prompt)
        cw, cl = lp[0] - ref[0], lp[1] - ref[1]
        loss = (1 - torch.sigmoid(beta * cw)) + torch.sigmoid(beta * cl)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
        opt.step()
        if s > 0:
            times.append(time.perf_counter() - t0)
    t = sum(times) / len(times)
    N = ids.numel()
    print("impl pytorch")
    print("torch_version", torch.__version__)
    print("params", P)
    print("tokens_per_step", N)
    print("step_s %.4f" % t)
    print("train_tok_s %.1f" % (N / t))
    print("train_gflops %.1f" % (6 * P * N / t / 1e9))
    print("peak_rss_mb %.1f" % (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0))


if __name__ == "__main__":
    main()
