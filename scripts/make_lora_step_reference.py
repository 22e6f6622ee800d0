#!/usr/bin/env python3
"""Generate the reference of one SGD step of `anchor train --use-peft`.

Usage:  /usr/bin/python3 scripts/make_lora_step_reference.py tests/fixtures/lora_step

Plain torch autograd in float64 (no peft, no transformers, no trl). The base
model is tests/fixtures/reference/llama_gqa; the LoRA forward is PEFT's
(scripts/make_lora_reference.py, forward_lora) and the preference losses are
TRL's (scripts/make_loss_reference.py, trl_paired), both imported, not copied.

One optimiser step of `anchor train --adapter adapter_* --optimizer sgd
--learning-rate LR --max-steps 1 --per-device-train-batch-size 4 --beta 0.1
--max-grad-norm 0 --lr-scheduler constant --warmup-steps 0 --lora-dropout 0`
on the 4 pairs of pairs.jsonl (one batch, the whole data set):

  policy log-probs    x_w, x_l = sum over the response tokens of chosen /
                      rejected of log p(token | prompt, earlier response
                      tokens); prompt tokens are not scored; each sequence
                      prompt + response on its own, positions from 0
  reference           r_w, r_l: the same with the adapters off (the base)
  loss                TRL's DPOTrainer loss for apo_zero, apo_down, sigmoid,
                      beta 0.1, averaged over the 4 pairs
  gradient            d loss / d every lora_A and lora_B (base frozen)
  step                plain SGD (no momentum, no weight decay, no clipping,
                      constant lr, no warm-up): p <- p - LR * grad

The initial adapters have lora_B = 0 (PEFT's init) and lora_A drawn from
torch (kaiming_uniform(a=sqrt(5)) as PEFT: U(-1/sqrt(in), 1/sqrt(in)),
fixed seeds, rounded to F32). With B = 0 the policy equals the reference, so
at step 1 the rewards are 0, the losses are 1 (APO) and log 2 (sigmoid), and
d loss / d lora_A = scaling * B^T (...) = 0 exactly: lora_A does not move,
lora_B moves by -LR * d loss / d lora_B.

Writes into OUTDIR:
  pairs.jsonl              4 pre-tokenised pairs (prompt_ids 3-5 ids starting
                           with BOS 1, chosen_ids / rejected_ids 2-6 ids)
  adapter_all/             r=4, alpha=8, all seven projections (all-linear)
  adapter_qv_rslora/       r=2, alpha=4, use_rslora, q_proj and v_proj
                           each: adapter_config.json + adapter_model.safetensors
                           (F32; lora_B all zero)
  expected.safetensors     F64: lr, beta, max_abs_logit; per adapter and loss
                           the loss at step 1, the gradient norm, TRL's
                           logps/logits metrics of step 1, the loss after the
                           step, and every lora_B after the step

tests/fixtures/lora_step/README.md (kept by hand) describes the files and the
tolerances of tests/test_lora_step_torch.c.

Self-checks: safetensors round trips; the packed forward equals each sequence
alone; the reference sums equal make_loss_reference.seq_logps on the base
model; step-1 losses equal 1 / log 2; every lora_A gradient is exactly zero;
sigmoid's gradient is exactly 2x apo_zero's at B = 0 (d loss / d (x_w, x_l) =
(-beta/2, beta/2)/n against (-beta/4, beta/4)/n); autograd against central
finite differences on sampled lora_B elements; the step lowers every loss.
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
import make_lora_reference as mlora  # noqa: E402  (PEFT LoRA forward, adapter folders)
import make_loss_reference as mloss  # noqa: E402  (TRL's objectives)

torch.set_default_dtype(torch.float64)

BASE = "llama_gqa"
PAIRS_SEED = 6060
N_PAIRS = 4
LR = 0.5  # a power of two: anchor's fp32 update 0 - lr * g is then exact
BETA = 0.1  # TRL's default
LOSSES = ["apo_zero", "apo_down", "sigmoid"]

ALL = [m for m, _ in mlora.MODULES]
ADAPTERS = [
    {"dir": "adapter_all", "r": 4, "alpha": 8, "rslora": False, "targets": ALL, "seed": 611},
    {"dir": "adapter_qv_rslora", "r": 2, "alpha": 4, "rslora": True, "targets": ["q_proj", "v_proj"], "seed": 612},
]


def make_pairs(cfg):
    g = torch.Generator().manual_seed(PAIRS_SEED)
    V = cfg["vocab_size"]

    def ids(k):
        return [int(v) for v in torch.randint(3, V, (k,), generator=g).tolist()]

    pairs = []
    for _ in range(N_PAIRS):
        p = [1] + ids(int(torch.randint(3, 6, (1,), generator=g)) - 1)
        c = ids(int(torch.randint(2, 7, (1,), generator=g)))
        r = ids(int(torch.randint(2, 7, (1,), generator=g)))
        assert c != r  # anchor packs a response shared by both sides once
        pairs.append({"prompt_ids": p, "chosen_ids": c, "rejected_ids": r})
    return pairs


def init_adapter(cfg, ad):
    """lora_A: kaiming_uniform(a=sqrt(5)) as PEFT (bound 1/sqrt(in)), F32-exact;
    lora_B: zeros. name -> float64."""
    g = torch.Generator().manual_seed(ad["seed"])
    L = {}
    for n, shape in mlora.adapter_specs(cfg, ad):
        if n.endswith("lora_A.weight"):
            bound = 1.0 / math.sqrt(shape[1])
            u = torch.rand(shape, generator=g, dtype=torch.float32) * 2 - 1
            L[n] = (u * bound).to(torch.float64)
        else:
            L[n] = torch.zeros(shape)
    return L


def pack(pairs):
    """chosen sequences then rejected ones: tokens, positions, offsets, and
    per sequence the response positions (range of t scored: log p(tok[t]))."""
    seqs = [p["prompt_ids"] + p["chosen_ids"] for p in pairs] + [p["prompt_ids"] + p["rejected_ids"] for p in pairs]
    plen = [len(p["prompt_ids"]) for p in pairs] * 2
    tokens = torch.tensor([t for s in seqs for t in s], dtype=torch.int64)
    positions = torch.cat([torch.arange(len(s), dtype=torch.int64) for s in seqs])
    offsets = torch.tensor([0] + torch.cumsum(torch.tensor([len(s) for s in seqs]), 0).tolist(), dtype=torch.int64)
    scored = torch.zeros(tokens.shape[0], dtype=torch.bool)
    for s in range(len(seqs)):
        scored[int(offsets[s]) + plen[s] : int(offsets[s + 1])] = True
    return tokens, positions, offsets, scored


def seq_sums(cfg, P, L, scaling, packed):
    """(per-sequence response log-prob sums [2n], logits [N, V])."""
    tokens, positions, offsets, scored = packed
    logits = mlora.forward_lora(cfg, P, L, scaling, tokens, positions, offsets)
    tl = mlora.token_logp_of(logits, tokens, offsets) * scored
    S = offsets.shape[0] - 1
    sums = torch.stack([tl[int(offsets[s]) : int(offsets[s + 1])].sum() for s in range(S)])
    return sums, logits


def batch_loss(t, sums, ref, lens):
    n = sums.shape[0] // 2
    prm = dict(mloss.DEFAULTS)
    prm["beta"] = BETA
    B = {"xw": sums[:n], "xl": sums[n:], "rw": ref[:n], "rl": ref[n:], "lw": lens[:n], "ll": lens[n:]}
    loss, met, _ = mloss.trl_paired(t, prm, B, (0.0, 0))
    return loss, met


def fd_check(cfg, P, L, scaling, t, ref, lens, packed, grads, seed):
    names = sorted(n for n in L if n.endswith("lora_B.weight"))
    f = lambda M: batch_loss(t, seq_sums(cfg, P, M, scaling, packed)[0], ref, lens)[0].item()  # noqa: E731
    return mlora.fd_worst(L, grads, names, f, 1e-5, 12, seed, 1e-8)


def main():
    if len(sys.argv) != 2:
        print(f"usage: {sys.argv[0]} OUTPUT_DIR", file=sys.stderr)
        sys.exit(2)
    torch.manual_seed(0)
    torch.use_deterministic_algorithms(True)
    root = sys.argv[1]
    os.makedirs(root, exist_ok=True)

    cfg, P = mlora.load_base()

    pairs = make_pairs(cfg)
    with open(os.path.join(root, "pairs.jsonl"), "w") as fh:
        for p in pairs:
            fh.write(json.dumps(p) + "\n")
    packed = pack(pairs)
    tokens, positions, offsets, scored = packed
    lens = torch.tensor([float(len(p["chosen_ids"])) for p in pairs] + [float(len(p["rejected_ids"])) for p in pairs])

    with torch.no_grad():
        ref, base_logits = seq_sums(cfg, P, {}, 1.0, packed)
        # the reference = make_loss_reference's per-sequence log-probs on the base (each sequence alone)
        alone = [mloss.seq_logps(cfg, P, p["prompt_ids"], p["chosen_ids"])[0] for p in pairs] + [
            mloss.seq_logps(cfg, P, p["prompt_ids"], p["rejected_ids"])[0] for p in pairs
        ]
        assert torch.allclose(ref, torch.stack(alone), rtol=0, atol=1e-11)
    max_abs_logit = base_logits.abs().max().item()
    n = N_PAIRS
    # TRL's logits/* metrics: mean logit over the vocabulary, averaged over the scored tokens of each side
    mean_logit = base_logits.mean(dim=-1)
    nc = int(sum(len(p["chosen_ids"]) for p in pairs))
    side_c = scored.clone()
    side_c[int(offsets[n]) :] = False
    side_r = scored & ~side_c
    # token t is predicted from row t - 1
    logits_chosen = mean_logit[:-1][side_c[1:]].mean().item()
    logits_rejected = mean_logit[:-1][side_r[1:]].mean().item()
    assert int(side_c.sum()) == nc

    out = [
        ("lr", torch.tensor([LR]), "F64"),
        ("beta", torch.tensor([BETA]), "F64"),
        ("max_abs_logit", torch.tensor([max_abs_logit]), "F64"),
    ]
    known = {"apo_zero": 1.0, "apo_down": 1.0, "sigmoid": math.log(2.0)}
    for ad in ADAPTERS:
        scaling = mlora.scaling_of(ad)
        L = init_adapter(cfg, ad)
        mlora.write_adapter(os.path.join(root, ad["dir"]), cfg, ad, L)
        names = [nm for nm, _ in mlora.adapter_specs(cfg, ad)]
        bnames = [nm for nm in names if nm.endswith("lora_B.weight")]
        grads_of = {}
        for t in LOSSES:
            leaves = {nm: L[nm].clone().requires_grad_(True) for nm in names}
            sums, _ = seq_sums(cfg, P, leaves, scaling, packed)
            # B = 0: the adapted model is the base, bit for bit in float64
            assert torch.equal(sums.detach(), ref)
            loss, met = batch_loss(t, sums, ref, lens)
            assert abs(loss.item() - known[t]) < 1e-14, (t, loss.item())
            gl = torch.autograd.grad(loss, [leaves[nm] for nm in names])
            G = {nm: gg.detach() for nm, gg in zip(names, gl)}
            for nm in names:
                if nm.endswith("lora_A.weight"):
                    assert torch.count_nonzero(G[nm]) == 0, nm  # B = 0: exactly zero
            assert all(torch.count_nonzero(G[nm]) > 0 for nm in bnames)
            grads_of[t] = G
            fd = fd_check(cfg, P, L, scaling, t, ref, lens, packed, G, ad["seed"] * 10 + LOSSES.index(t))
            assert fd < 1e-6, (ad["dir"], t, fd)
            norm = math.sqrt(sum((G[nm] ** 2).sum().item() for nm in names))
            Bnew = {nm: L[nm] - LR * G[nm] for nm in bnames}
            with torch.no_grad():
                M = dict(L)
                M.update(Bnew)
                after, _ = batch_loss(t, seq_sums(cfg, P, M, scaling, packed)[0], ref, lens)
            assert after.item() < loss.item(), (t, after.item(), loss.item())
            p = f"{ad['dir']}.{t}."
            out.append((p + "loss", loss.detach().reshape(1), "F64"))
            out.append((p + "loss_after", after.reshape(1), "F64"))
            out.append((p + "grad_norm", torch.tensor([norm]), "F64"))
            out.append((p + "logps_chosen", torch.tensor([met["logps_chosen"]]), "F64"))
            out.append((p + "logps_rejected", torch.tensor([met["logps_rejected"]]), "F64"))
            out.append((p + "logits_chosen", torch.tensor([logits_chosen]), "F64"))
            out.append((p + "logits_rejected", torch.tensor([logits_rejected]), "F64"))
            for nm in bnames:
                out.append((p + "B." + nm, Bnew[nm], "F64"))
            bmax = max(Bnew[nm].abs().max().item() for nm in bnames)
            print(
                f"{ad['dir']} {t}: loss {loss.item():.6f} -> {after.item():.6f} after the step, grad_norm {norm:.6g}, "
                f"max|B after| {bmax:.4g}, fd_max_rel_err {fd:.2e}"
            )
        # at B = 0: sigmoid's d loss / d (x_w, x_l) is exactly twice apo_zero's
        for nm in bnames:
            assert torch.allclose(grads_of["sigmoid"][nm], 2 * grads_of["apo_zero"][nm], rtol=1e-12, atol=1e-15), nm
        print(
            f"{ad['dir']}: r={ad['r']} alpha={ad['alpha']} rslora={ad['rslora']} scaling={scaling:.6f} "
            f"{len(names)} tensors ({len(bnames)} lora_B)"
        )

    path = os.path.join(root, "expected.safetensors")
    mr.write_safetensors(path, out)
    back = mr.read_safetensors(path)
    assert set(back) == set(k for k, _, _ in out) and len(back) == len(out)
    for k, v, _ in out:
        assert torch.equal(back[k], v), k
    print(f"pairs: {[(len(p['prompt_ids']), len(p['chosen_ids']), len(p['rejected_ids'])) for p in pairs]}, "
          f"ref logps {[round(x, 4) for x in ref.tolist()]}, max|logit| {max_abs_logit:.4f}")


if __name__ == "__main__":
    main()
