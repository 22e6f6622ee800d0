#!/usr/bin/env python3
"""Generate reference fixtures for anchor's preference objectives.

Usage:  /usr/bin/python3 scripts/make_loss_reference.py tests/fixtures/loss

Writes, in float64 with plain torch autograd (no transformers, no trl):

  loss_cases.json        every objective of src/train/loss.h on small random
                         batches of sequence log-probs: loss, gradients with
                         respect to the summed policy log-probs, TRL's metrics
  ref_model/             a reference model: tests/fixtures/reference/llama_gqa
                         plus 0.02 * randn, HF folder, F32
  pairs.jsonl            4 pre-tokenised preference pairs
  unpaired.jsonl         4 pre-tokenised labelled rows
  model_grads.safetensors  per objective: the batch loss and its gradient with
                         respect to every policy parameter (policy = llama_gqa)
  model_metrics.json     per objective: loss and metrics of the model batch

The formulas follow TRL (huggingface/trl): DPOTrainer.dpo_loss of v0.28.0
(label smoothing on "sigmoid", bco_pair's RunningMoments, ipo on
length-averaged log-probs), "sigmoid_norm" of v1.5, KTOTrainer.kto_loss,
CPOTrainer.cpo_loss and ORPOTrainer.odds_ratio_loss; see the README next to
the fixtures. Deterministic (fixed seeds).
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

import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_reference as mr  # noqa: E402  (float64 Llama forward, safetensors I/O)

torch.set_default_dtype(torch.float64)

PAIRED = [
    "sigmoid", "apo_zero", "apo_down", "ipo", "hinge", "robust", "exo_pair", "nca_pair", "bco_pair",
    "sppo_hard", "aot", "aot_pair", "discopop", "sigmoid_norm", "sft", "simpo", "cpo", "orpo",
]
UNPAIRED = ["kto", "apo_zero_unpaired"]
REF_FREE = {"sft", "simpo", "cpo", "orpo"}
USES_LS = {"sigmoid", "robust", "exo_pair", "aot", "aot_pair", "cpo", "simpo"}

DEFAULTS = {
    "beta": 0.1,
    "label_smoothing": 0.0,
    "simpo_gamma": 0.5,
    "cpo_alpha": 1.0,
    "discopop_tau": 0.05,
    "desirable_weight": 1.0,
    "undesirable_weight": 1.0,
}

METRICS = [
    "rewards_chosen", "rewards_rejected", "rewards_margins", "rewards_accuracies", "logps_chosen",
    "logps_rejected", "kl", "nll", "log_odds_ratio", "log_odds_chosen", "count_chosen", "count_rejected",
]


# ----------------------------------------------------------------------------
# TRL's objectives on sequence log-probs (torch, float64)
# ----------------------------------------------------------------------------


def ls_logistic(z, eps):
    """-(1-eps) logsigmoid(z) - eps logsigmoid(-z)."""
    return -F.logsigmoid(z) * (1 - eps) - F.logsigmoid(-z) * eps


def log1mexp(x):
    """log(1 - exp(x)) for x < 0, as TRL's ORPO helper."""
    return torch.where(x < -math.log(2.0), torch.log1p(-torch.exp(x)), torch.log(-torch.expm1(x)))


def token_mean_nll(logp_sums, token_counts):
    """TRL's cross-entropy over all (chosen) tokens of the batch."""
    return -logp_sums.sum() / token_counts.sum()


def trl_paired(t, prm, B, state):
    """Batch loss (scalar tensor), metrics dict and new bco state for a paired
    objective. B: dict of tensors xw, xl (policy, summed, requires_grad),
    rw, rl (reference), lw, ll (lengths, float), xp, lp (orpo prompt logp and
    predicted prompt tokens)."""
    beta, eps = prm["beta"], prm["label_smoothing"]
    xw, xl, lw, ll = B["xw"], B["xl"], B["lw"], B["ll"]
    m = {k: 0.0 for k in METRICS}
    n = xw.shape[0]
    m["count_chosen"] = m["count_rejected"] = n
    new_state = state

    def put_rewards(cr, rr, lc, lr):
        cr, rr = cr.detach(), rr.detach()
        m["rewards_chosen"] = cr.mean().item()
        m["rewards_rejected"] = rr.mean().item()
        m["rewards_margins"] = (cr - rr).mean().item()
        m["rewards_accuracies"] = (cr > rr).double().mean().item()
        m["logps_chosen"] = lc.detach().mean().item()
        m["logps_rejected"] = lr.detach().mean().item()

    if t in REF_FREE:
        if t == "sft":
            nll = token_mean_nll(xw, lw)
            m["nll"] = nll.item()
            if B.get("rw") is not None:
                put_rewards(beta * (xw - B["rw"]), beta * (xl - B["rl"]), xw, xl)
            else:
                put_rewards(torch.zeros(n), torch.zeros(n), xw, xl)
            return nll, m, new_state
        if t in ("simpo", "orpo"):
            pw, pl = xw / lw, xl / ll  # average_log_prob=True
        else:
            pw, pl = xw, xl
        if t == "orpo":
            log_odds = (pw - pl) - (log1mexp(pw) - log1mexp(pl))
            ratio = F.logsigmoid(log_odds)
            nll = token_mean_nll(xw + B["xp"], lw + B["lp"])  # full prompt + response
            loss = nll - (beta * ratio).mean()
            m["nll"] = nll.item()
            m["log_odds_ratio"] = ratio.detach().mean().item()
            m["log_odds_chosen"] = log_odds.detach().mean().item()
        else:
            logits = pw - pl
            if t == "simpo":
                logits = logits - prm["simpo_gamma"] / beta
            loss = ls_logistic(beta * logits, eps).mean()
            if prm["cpo_alpha"] != 0:
                nll = token_mean_nll(xw, lw)
                loss = loss + prm["cpo_alpha"] * nll
                m["nll"] = nll.item()
        put_rewards(beta * pw, beta * pl, pw, pl)
        return loss, m, new_state

    rw, rl = B["rw"], B["rl"]
    if t == "ipo":  # TRL 0.28: all_logps / loss_mask.sum(-1), policy and reference alike
        xw, xl, rw, rl = xw / lw, xl / ll, rw / lw, rl / ll
    cw, cl = xw - rw, xl - rl  # chosen / rejected log-ratios
    logits = (xw - xl) - (rw - rl)
    if t == "sigmoid":
        losses = ls_logistic(beta * logits, eps)
    elif t == "robust":
        losses = (-F.logsigmoid(beta * logits) * (1 - eps) + F.logsigmoid(-beta * logits) * eps) / (1 - 2 * eps)
    elif t == "exo_pair":
        e = eps if eps != 0 else 1e-3
        losses = torch.sigmoid(beta * logits) * (F.logsigmoid(beta * logits) - math.log(1 - e)) + torch.sigmoid(
            -beta * logits
        ) * (F.logsigmoid(-beta * logits) - math.log(e))
    elif t == "hinge":
        losses = torch.relu(1 - beta * logits)
    elif t == "ipo":
        losses = (logits - 1 / (2 * beta)) ** 2
    elif t == "bco_pair":
        batch_mean = torch.cat((beta * cw, beta * cl), 0).mean().detach().item()
        mean, count = state
        count += 1  # RunningMoments.update with a single sample
        mean += (batch_mean - mean) / count
        new_state = (mean, count)
        losses = -F.logsigmoid(beta * cw - mean) - F.logsigmoid(-(beta * cl - mean))
    elif t == "sppo_hard":
        losses = (cw - 0.5 / beta) ** 2 + (cl + 0.5 / beta) ** 2
    elif t == "nca_pair":
        a, b = beta * cw, beta * cl
        losses = -F.logsigmoid(a) - 0.5 * F.logsigmoid(-a) - 0.5 * F.logsigmoid(-b)
    elif t == "aot_pair":
        sw, _ = torch.sort(cw, dim=0)
        sl, _ = torch.sort(cl, dim=0)
        losses = ls_logistic(beta * (sw - sl), eps)
    elif t == "aot":
        sp, _ = torch.sort(xw - xl, dim=0)
        sr, _ = torch.sort(rw - rl, dim=0)
        losses = ls_logistic(beta * (sp - sr), eps)
    elif t == "apo_zero":
        losses = (1 - torch.sigmoid(beta * cw)) + torch.sigmoid(beta * cl)
    elif t == "apo_down":
        losses = torch.sigmoid(beta * cw) + (1 - torch.sigmoid(beta * (cw - cl)))
    elif t == "discopop":
        z = beta * logits
        mod = torch.sigmoid(z / prm["discopop_tau"])
        losses = -F.logsigmoid(z) * (1 - mod) + torch.exp(-z) * mod
    elif t == "sigmoid_norm":  # TRL 1.5: scores / completion length, no smoothing
        losses = -F.logsigmoid(beta * (cw / lw - cl / ll))
    else:
        raise ValueError(t)
    put_rewards(beta * cw, beta * cl, xw, xl)
    return losses.mean(), m, new_state


def trl_unpaired(t, prm, B):
    """KTOTrainer: rows with labels; kl from mismatched rows (detached)."""
    beta = prm["beta"]
    x, r, lab = B["xw"], B["rw"], B["label"]
    m = {k: 0.0 for k in METRICS}
    if t == "kto":
        kl = (B["xkl"] - B["rkl"]).mean().detach().clamp(min=0)
    else:
        kl = torch.zeros(())
    ci = torch.nonzero(lab, as_tuple=False).view(-1)
    ri = torch.nonzero(~lab, as_tuple=False).view(-1)
    cr, rr = x.index_select(0, ci) - r.index_select(0, ci), x.index_select(0, ri) - r.index_select(0, ri)
    if t == "kto":
        closs = 1 - torch.sigmoid(beta * (cr - kl))
        rloss = 1 - torch.sigmoid(beta * (kl - rr))
    else:
        closs = 1 - torch.sigmoid(beta * cr)
        rloss = torch.sigmoid(beta * rr)
    losses = torch.cat((prm["desirable_weight"] * closs, prm["undesirable_weight"] * rloss), 0)
    m["kl"] = kl.item()
    m["count_chosen"], m["count_rejected"] = len(ci), len(ri)
    if len(ci):
        m["rewards_chosen"] = (beta * cr).detach().sum().item() / len(ci)
        m["logps_chosen"] = x.index_select(0, ci).detach().sum().item() / len(ci)
    if len(ri):
        m["rewards_rejected"] = (beta * rr).detach().sum().item() / len(ri)
        m["logps_rejected"] = x.index_select(0, ri).detach().sum().item() / len(ri)
    if len(ci) and len(ri):
        m["rewards_margins"] = m["rewards_chosen"] - m["rewards_rejected"]
    return losses.nanmean(), m


# ----------------------------------------------------------------------------
# (a) loss_cases.json
# ----------------------------------------------------------------------------


def f32(t):
    """Round to float32 values (the C API takes floats), keep float64."""
    return t.to(torch.float32).to(torch.float64)


def random_inputs(g, n, unpaired=False):
    lw = torch.randint(1, 33, (n,), generator=g).double()
    ll = torch.randint(1, 33, (n,), generator=g).double()
    # average log-prob per token in (-3, -0.2): realistic, < 0 for orpo
    xw = f32(-lw * (0.2 + 2.8 * torch.rand(n, generator=g)))
    xl = f32(-ll * (0.2 + 2.8 * torch.rand(n, generator=g)))
    rw = f32(xw + 4.0 * torch.randn(n, generator=g))
    rl = f32(xl + 4.0 * torch.randn(n, generator=g))
    lp = torch.randint(0, 9, (n,), generator=g).double()
    xp = f32(-lp * (0.5 + 3.0 * torch.rand(n, generator=g)))
    d = {"xw": xw, "xl": xl, "rw": rw, "rl": rl, "lw": lw, "ll": ll, "xp": xp, "lp": lp}
    if unpaired:
        d["label"] = torch.rand(n, generator=g) < 0.5
        d["label"][0], d["label"][1] = True, False
        d["xkl"] = f32(-lw * (0.5 + 2.5 * torch.rand(n, generator=g)))
        d["rkl"] = f32(d["xkl"] + 3.0 * torch.randn(n, generator=g))
    return d


def run_case(name, t, prm, B, state=(0.0, 0)):
    leaves = {k: B[k].clone().requires_grad_(True) for k in ("xw", "xl", "xp")}
    Bg = dict(B)
    Bg.update(leaves)
    if t in UNPAIRED:
        loss, m = trl_unpaired(t, prm, Bg)
        new_state = state
    else:
        loss, m, new_state = trl_paired(t, prm, Bg, state)
    gw, gl, gp = torch.autograd.grad(loss, [leaves["xw"], leaves["xl"], leaves["xp"]], allow_unused=True)
    n = B["xw"].shape[0]
    gw = gw if gw is not None else torch.zeros(n)
    gl = gl if gl is not None else torch.zeros(n)
    gp = gp if gp is not None else torch.zeros(n)
    assert torch.allclose(gp, gp[0].expand(n), rtol=1e-14, atol=0), (name, gp)
    inputs = {
        "chosen_logp": B["xw"].tolist(),
        "chosen_len": [int(v) for v in B["lw"].tolist()],
    }
    if t not in UNPAIRED:
        inputs["rejected_logp"] = B["xl"].tolist()
        inputs["rejected_len"] = [int(v) for v in B["ll"].tolist()]
    if t not in ("simpo", "cpo", "orpo") and B["rw"] is not None:
        inputs["ref_chosen_logp"] = B["rw"].tolist()
        if t not in UNPAIRED:
            inputs["ref_rejected_logp"] = B["rl"].tolist()
    if t == "orpo":
        inputs["prompt_logp"] = B["xp"].tolist()
        inputs["prompt_len"] = [int(v) for v in B["lp"].tolist()]
    if t in UNPAIRED:
        inputs["label"] = [int(v) for v in B["label"].tolist()]
        if t == "kto":
            inputs["kl_logp"] = B["xkl"].tolist()
            inputs["ref_kl_logp"] = B["rkl"].tolist()
    return {
        "name": name,
        "loss_type": t,
        "params": prm,
        "state_in": {"bco_running_mean": state[0], "bco_count": state[1]},
        "state_out": {"bco_running_mean": new_state[0], "bco_count": new_state[1]},
        "n": n,
        "inputs": inputs,
        "expected": {
            "loss": loss.item(),
            "d_chosen": gw.tolist(),
            "d_rejected": gl.tolist(),
            "d_prompt_logp": gp[0].item(),
            "metrics": m,
        },
    }


def make_cases():
    g = torch.Generator().manual_seed(20240817)
    cases = []
    n = 6
    for t in PAIRED + UNPAIRED:
        B = random_inputs(g, n, unpaired=t in UNPAIRED)
        variants = [("base", {})]
        variants.append(("beta0.5", {"beta": 0.5}))
        if t in USES_LS:
            variants.append(("ls0.1", {"label_smoothing": 0.1}))
        if t in ("cpo", "simpo"):
            variants.append(("alpha0", {"cpo_alpha": 0.0}))
        if t in UNPAIRED:
            variants.append(("weights", {"desirable_weight": 1.33, "undesirable_weight": 0.7}))
        for vname, over in variants:
            prm = dict(DEFAULTS)
            prm.update(over)
            cases.append(run_case(f"{t}/{vname}", t, prm, B))
        if t == "bco_pair":  # a running mean carried from earlier batches
            cases.append(run_case(f"{t}/state", t, dict(DEFAULTS), B, state=(0.0625, 3)))
        if t == "kto":  # KL estimate below zero -> clamped to 0
            B2 = dict(B)
            B2["rkl"] = f32(B["xkl"] + 5.0 + torch.rand(n, generator=g))
            cases.append(run_case(f"{t}/kl_clamped", t, dict(DEFAULTS), B2))
        if t == "sft":  # no reference arrays: zero rewards
            B2 = dict(B)
            B2["rw"] = B2["rl"] = None
            c = run_case(f"{t}/no_ref", t, dict(DEFAULTS), B2)
            cases.append(c)
    return cases


# ----------------------------------------------------------------------------
# (b) model-level fixture
# ----------------------------------------------------------------------------


def seq_logps(cfg, P, prompt, resp):
    """(response log-prob sum, prompt tokens 1..P-1 log-prob sum) of one
    sequence prompt+resp, positions from 0, run alone."""
    toks = torch.tensor(prompt + resp, dtype=torch.int64)
    T = toks.numel()
    logits = mr.forward(cfg, P, toks, torch.arange(T, dtype=torch.int64), torch.tensor([0, T]))
    lp = torch.log_softmax(logits, dim=-1)
    tok_lp = lp[torch.arange(T - 1), toks[1:]]  # log p(tok[t] | tok[<t]) for t = 1..T-1
    npr = len(prompt)
    return tok_lp[npr - 1 :].sum(), tok_lp[: npr - 1].sum()


def make_rows(g):
    def ids(k):
        return [int(v) for v in torch.randint(3, 96, (k,), generator=g).tolist()]

    def rlen():
        return int(torch.randint(2, 7, (1,), generator=g))

    pairs, rows = [], []
    for _ in range(4):
        p = [1] + ids(int(torch.randint(3, 6, (1,), generator=g)) - 1)
        pairs.append({"prompt_ids": p, "chosen_ids": ids(rlen()), "rejected_ids": ids(rlen())})
    for i, lab in enumerate([True, False, False, True]):
        p = [1] + ids(int(torch.randint(3, 6, (1,), generator=g)) - 1)
        rows.append({"prompt_ids": p, "completion_ids": ids(rlen()), "label": lab})
    return pairs, rows


def model_fixture(root):
    m = next(mm for mm in mr.MODELS if mm["dir"] == "llama_gqa")
    cfg = m["config"]
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "reference", "llama_gqa")
    P = mr.reload_checkpoint(src, m)
    names = [nm for nm, _, _ in mr.param_specs(cfg)]

    g = torch.Generator().manual_seed(777)
    R = {nm: f32(P[nm] + 0.02 * torch.randn(P[nm].shape, generator=g, dtype=torch.float32).double()) for nm in names}
    refdir = os.path.join(root, "ref_model")
    os.makedirs(refdir, exist_ok=True)
    with open(os.path.join(refdir, "config.json"), "w") as fh:
        json.dump(cfg, fh, indent=2, sort_keys=True)
        fh.write("\n")
    mr.write_safetensors(os.path.join(refdir, "model.safetensors"), [(nm, R[nm], "F32") for nm in names])
    back = mr.read_safetensors(os.path.join(refdir, "model.safetensors"))
    for nm in names:
        assert torch.equal(back[nm].double(), R[nm]), nm

    pairs, rows = make_rows(g)
    with open(os.path.join(root, "pairs.jsonl"), "w") as fh:
        for p in pairs:
            fh.write(json.dumps(p) + "\n")
    with open(os.path.join(root, "unpaired.jsonl"), "w") as fh:
        for r in rows:
            fh.write(json.dumps(r) + "\n")

    n = len(rows)
    # KTO's KL rows: prompt i with the completion of row (i-1) mod n
    kl_rows = [(rows[i]["prompt_ids"], rows[(i - 1) % n]["completion_ids"]) for i in range(n)]

    def batch_tensors(Pm):
        """Sequence log-probs of everything under parameters Pm (dict)."""
        out = {}
        cw, cp = zip(*[seq_logps(cfg, Pm, p["prompt_ids"], p["chosen_ids"]) for p in pairs])
        rj = [seq_logps(cfg, Pm, p["prompt_ids"], p["rejected_ids"])[0] for p in pairs]
        out["xw"], out["xp"], out["xl"] = torch.stack(cw), torch.stack(cp), torch.stack(rj)
        out["u"] = torch.stack([seq_logps(cfg, Pm, r["prompt_ids"], r["completion_ids"])[0] for r in rows])
        out["kl"] = torch.stack([seq_logps(cfg, Pm, p, c)[0] for p, c in kl_rows])
        return out

    with torch.no_grad():
        ref = batch_tensors(R)
    lw = torch.tensor([float(len(p["chosen_ids"])) for p in pairs])
    ll = torch.tensor([float(len(p["rejected_ids"])) for p in pairs])
    lp = torch.tensor([float(len(p["prompt_ids"]) - 1) for p in pairs])
    lu = torch.tensor([float(len(r["completion_ids"])) for r in rows])
    label = torch.tensor([bool(r["label"]) for r in rows])

    def objective(t, Pm):
        pol = batch_tensors(Pm)
        prm = dict(DEFAULTS)
        if t in UNPAIRED:
            # the KL estimate is detached: use the unperturbed policy's KL rows
            # so the finite-difference self-check sees the same constant
            B = {"xw": pol["u"], "rw": ref["u"], "label": label, "xkl": pol0["kl"], "rkl": ref["kl"]}
            loss, met = trl_unpaired(t, prm, B)
        else:
            B = {"xw": pol["xw"], "xl": pol["xl"], "rw": ref["xw"], "rl": ref["xl"], "lw": lw, "ll": ll,
                 "xp": pol["xp"], "lp": lp}
            loss, met, _ = trl_paired(t, prm, B, (0.0, 0))
        return loss, met, pol

    tensors, metrics = [], {}
    with torch.no_grad():
        pol0 = batch_tensors(P)
    for key, val in [("policy_chosen", pol0["xw"]), ("policy_rejected", pol0["xl"]),
                     ("policy_chosen_prompt", pol0["xp"]), ("ref_chosen", ref["xw"]), ("ref_rejected", ref["xl"]),
                     ("policy_completion", pol0["u"]), ("ref_completion", ref["u"]), ("policy_kl", pol0["kl"]),
                     ("ref_kl", ref["kl"])]:
        tensors.append(("seq." + key, val, "F32"))
    worst = 0.0
    fd_gen = torch.Generator().manual_seed(4242)
    for t in PAIRED + UNPAIRED:
        leaves = {nm: P[nm].clone().requires_grad_(True) for nm in names}
        loss, met, _ = objective(t, leaves)
        grads = torch.autograd.grad(loss, [leaves[nm] for nm in names])
        G = {nm: gr.detach() for nm, gr in zip(names, grads)}
        tensors.append((f"{t}.loss", loss.detach().reshape(1), "F32"))
        for nm in names:
            tensors.append((f"{t}.grad.{nm}", G[nm], "F32"))
        met["loss"] = loss.item()
        metrics[t] = met
        # self-check: central differences on a few elements
        with torch.no_grad():
            for nm in ("model.layers.1.mlp.down_proj.weight", "lm_head.weight", "model.embed_tokens.weight"):
                if nm == "model.embed_tokens.weight":
                    flat = pairs[0]["chosen_ids"][0] * P[nm].shape[1] + 3
                else:
                    flat = int(torch.randint(0, P[nm].numel(), (1,), generator=fd_gen))
                h = 1e-6
                vals = []
                for sgn in (1, -1):
                    Q = dict(P)
                    w = P[nm].clone()
                    w.view(-1)[flat] += sgn * h
                    Q[nm] = w
                    vals.append(objective(t, Q)[0].item())
                fd = (vals[0] - vals[1]) / (2 * h)
                an = G[nm].view(-1)[flat].item()
                rel = abs(fd - an) / max(abs(fd), abs(an), 1e-7)
                worst = max(worst, rel)
                assert rel < 1e-4, (t, nm, fd, an)
    mr.write_safetensors(os.path.join(root, "model_grads.safetensors"), tensors)
    with open(os.path.join(root, "model_metrics.json"), "w") as fh:
        json.dump({"beta": DEFAULTS["beta"], "params": DEFAULTS, "losses": metrics}, fh, indent=1, sort_keys=True)
        fh.write("\n")
    print(f"model fixture: {len(PAIRED) + len(UNPAIRED)} objectives, fd max rel err {worst:.2e}")
    for t in PAIRED + UNPAIRED:
        print(f"  {t:18s} loss={metrics[t]['loss']:.6f}")


def main():
    if len(sys.argv) != 2:
        print(f"usage: {sys.argv[0]} OUTPUT_DIR", file=sys.stderr)
        sys.exit(2)
    torch.use_deterministic_algorithms(True)
    root = sys.argv[1]
    os.makedirs(root, exist_ok=True)
    cases = make_cases()
    with open(os.path.join(root, "loss_cases.json"), "w") as fh:
        json.dump({"tolerance_note": "float64 torch autograd; inputs are float32-exact", "cases": cases}, fh,
                  indent=1)
        fh.write("\n")
    print(f"loss_cases.json: {len(cases)} cases")
    model_fixture(root)


if __name__ == "__main__":
    main()
