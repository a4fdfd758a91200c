"""Find the mistake in a hand-derived gradient with one call: tg.compare_grads.

The hand-written backward below forgets to divide the first layer's gradient by the batch size
(document 002's mistake); compare_grads finds the factor and names it.
Run:  python examples/find_the_mistake.py
"""
import numpy as np

import tensorgrad as tg

rng = np.random.default_rng(0)
batch = 32
X = rng.random((batch, 20))
Y = np.eye(3)[rng.integers(0, 3, batch)]
W1, W2 = rng.standard_normal((8, 20)) * 0.3, rng.standard_normal((3, 8)) * 0.3

# the student's backward
h = np.maximum(0, X @ W1.T)
z = h @ W2.T
p = np.exp(z - z.max(1, keepdims=True))
p /= p.sum(1, keepdims=True)
dz = p - Y
manual = {"W2": dz.T @ h / batch,
          "W1": ((dz @ W2) * (h > 0)).T @ X}       # <- the / batch is missing here

# the same model as tensorgrad expressions
t1, t2 = tg.tensor(W1, requires_grad=True), tg.tensor(W2, requires_grad=True)
logp = ((tg.tensor(X) @ t1.T).relu() @ t2.T).log_softmax(axis=-1)
loss = -(logp * Y).sum(axis=1).mean()
loss.backward()

print(tg.compare_grads(manual, {"W1": t1, "W2": t2}))
