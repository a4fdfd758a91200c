"""makemore's "backprop ninja" exercise (issue 21): the MLP with a hand-written BatchNorm broken
into atomic steps, `retain_grad()` on every intermediate, the whole backward written by hand in
NumPy, and each of the 25 gradients checked against autograd with tg.compare_grads."""
from __future__ import annotations

import numpy as np

import tensorgrad as tg
import tensorgrad.nn.functional as F


def test_every_intermediate_gradient_of_the_exercise_matches_autograd():
    vocab, block, n_embd, n_hidden, n = 27, 3, 10, 64, 32
    g = tg.Generator().manual_seed(2147483647)
    C = tg.randn((vocab, n_embd), generator=g)
    W1 = tg.randn((n_embd * block, n_hidden), generator=g) * (5 / 3) / (n_embd * block) ** 0.5
    b1 = tg.randn(n_hidden, generator=g) * 0.1
    W2 = tg.randn((n_hidden, vocab), generator=g) * 0.1
    b2 = tg.randn(vocab, generator=g) * 0.1
    bngain = tg.randn((1, n_hidden)) * 0.1 + 1.0
    bnbias = tg.randn((1, n_hidden)) * 0.1
    parameters = [C, W1, b1, W2, b2, bngain, bnbias]
    for p in parameters:
        p.requires_grad = True
    Xb = tg.randint(0, vocab, (n, block), generator=g)
    Yb = tg.randint(0, vocab, (n,), generator=g)

    # forward, "chunkated into smaller steps that are possible to backward one at a time"
    emb = C[Xb]
    embcat = emb.view(emb.shape[0], -1)
    hprebn = embcat @ W1 + b1
    bnmeani = 1 / n * hprebn.sum(0, keepdim=True)
    bndiff = hprebn - bnmeani
    bndiff2 = bndiff ** 2
    bnvar = 1 / (n - 1) * bndiff2.sum(0, keepdim=True)
    bnvar_inv = (bnvar + 1e-5) ** -0.5
    bnraw = bndiff * bnvar_inv
    hpreact = bngain * bnraw + bnbias
    h = tg.tanh(hpreact)
    logits = h @ W2 + b2
    logit_maxes = logits.max(1, keepdim=True).values
    norm_logits = logits - logit_maxes
    counts = norm_logits.exp()
    counts_sum = counts.sum(1, keepdims=True)
    counts_sum_inv = counts_sum ** -1
    probs = counts * counts_sum_inv
    logprobs = probs.log()
    loss = -logprobs[range(n), Yb].mean()
    intermediates = dict(logprobs=logprobs, probs=probs, counts_sum_inv=counts_sum_inv, counts_sum=counts_sum,
                         counts=counts, norm_logits=norm_logits, logit_maxes=logit_maxes, logits=logits, h=h,
                         hpreact=hpreact, bnraw=bnraw, bnvar_inv=bnvar_inv, bnvar=bnvar, bndiff2=bndiff2,
                         bndiff=bndiff, hprebn=hprebn, bnmeani=bnmeani, embcat=embcat, emb=emb)
    for t in intermediates.values():
        t.retain_grad()
    loss.backward()
    assert abs(loss.item() - F.cross_entropy(logits, Yb).item()) < 1e-5

    # the backward by hand, step by step, on the arrays
    a = {name: t.data for name, t in {**intermediates, "C": C, "W1": W1, "W2": W2, "bngain": bngain}.items()}
    yb = Yb.data
    d = {}
    d["logprobs"] = np.zeros_like(a["logprobs"])
    d["logprobs"][range(n), yb] = -1.0 / n
    d["probs"] = (1.0 / a["probs"]) * d["logprobs"]
    d["counts_sum_inv"] = (a["counts"] * d["probs"]).sum(1, keepdims=True)
    d["counts"] = a["counts_sum_inv"] * d["probs"]
    d["counts_sum"] = -a["counts_sum"] ** -2 * d["counts_sum_inv"]
    d["counts"] = d["counts"] + np.ones_like(a["counts"]) * d["counts_sum"]
    d["norm_logits"] = a["counts"] * d["counts"]
    d["logit_maxes"] = (-d["norm_logits"]).sum(1, keepdims=True)
    d["logits"] = d["norm_logits"] + F.one_hot(a["logits"].argmax(1), vocab).data * d["logit_maxes"]
    d["h"] = d["logits"] @ a["W2"].T
    d["W2"] = a["h"].T @ d["logits"]
    d["b2"] = d["logits"].sum(0)
    d["hpreact"] = (1.0 - a["h"] ** 2) * d["h"]
    d["bngain"] = (a["bnraw"] * d["hpreact"]).sum(0, keepdims=True)
    d["bnraw"] = a["bngain"] * d["hpreact"]
    d["bnbias"] = d["hpreact"].sum(0, keepdims=True)
    d["bnvar_inv"] = (a["bndiff"] * d["bnraw"]).sum(0, keepdims=True)
    d["bnvar"] = -0.5 * (a["bnvar"] + 1e-5) ** -1.5 * d["bnvar_inv"]
    d["bndiff2"] = 1.0 / (n - 1) * np.ones_like(a["bndiff2"]) * d["bnvar"]
    d["bndiff"] = a["bnvar_inv"] * d["bnraw"] + 2 * a["bndiff"] * d["bndiff2"]
    d["bnmeani"] = (-d["bndiff"]).sum(0, keepdims=True)
    d["hprebn"] = d["bndiff"] + 1.0 / n * np.ones_like(a["hprebn"]) * d["bnmeani"]
    d["embcat"] = d["hprebn"] @ a["W1"].T
    d["W1"] = a["embcat"].T @ d["hprebn"]
    d["b1"] = d["hprebn"].sum(0)
    d["emb"] = d["embcat"].reshape(a["emb"].shape)
    d["C"] = np.zeros_like(a["C"])
    np.add.at(d["C"], Xb.data, d["emb"])  # a row used several times gets every use's gradient

    autograd = {**intermediates, "C": C, "W1": W1, "b1": b1, "W2": W2, "b2": b2, "bngain": bngain, "bnbias": bnbias}
    report = tg.compare_grads(d, {name: t.grad for name, t in autograd.items()})
    assert report.ok, str(report)
    assert len(report.rows) == 26

    # the mistake the exercise warns about: the BatchNorm mean's gradient forgotten in dhprebn
    wrong = {**d, "hprebn": d["bndiff"]}
    assert tg.compare_grads(wrong, {name: t.grad for name, t in autograd.items()}).mismatches == ["hprebn"]
