"""Draw the computation graph of a small MLP's loss, before and after backward.

Writes mlp_graph.svg (values and derivative rules) and mlp_graph_grads.svg (with gradients).
Run:  python examples/draw_graph.py
"""
import numpy as np

import tensorgrad as tg

rng = np.random.default_rng(0)
x = tg.tensor(rng.random((4, 3)), name="x")
W1 = tg.tensor(rng.standard_normal((5, 3)), requires_grad=True, name="W1")
b1 = tg.tensor(np.zeros(5), requires_grad=True, name="b1")
W2 = tg.tensor(rng.standard_normal((2, 5)), requires_grad=True, name="W2")
y = np.eye(2)[[0, 1, 1, 0]]

h = (x @ W1.T + b1).relu()
h.name = "h"
loss = -((h @ W2.T).log_softmax(axis=-1) * y).sum(axis=1).mean()
loss.name = "loss"

print(tg.render(tg.draw(loss), "mlp_graph.svg"))        # b1's broadcast is the red dashed edge
loss.backward()
print(tg.render(tg.draw(loss), "mlp_graph_grads.svg"))  # now every leaf shows its gradient
