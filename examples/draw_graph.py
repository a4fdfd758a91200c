"""Draw computation graphs: a small MLP's loss before and after backward, and micrograd's neuron.

Writes mlp_graph.svg (values and derivative rules), mlp_graph_grads.svg (every tensor with its
gradient, intermediate ones included, from a traced backward) and neuron.svg (micrograd's neuron:
"data 0.7071 | grad 0.5" on every node).
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
with tg.trace(keep="all") as tr:                         # keep every gradient, for the drawing
    loss.backward()
print(tg.render(tg.draw(loss, trace=tr), "mlp_graph_grads.svg"))  # now every tensor shows its gradient

# micrograd's neuron, one value per tensor: o = tanh(x1·w1 + x2·w2 + b)
x1, x2 = tg.tensor(2.0, requires_grad=True, name="x1"), tg.tensor(0.0, requires_grad=True, name="x2")
w1, w2 = tg.tensor(-3.0, requires_grad=True, name="w1"), tg.tensor(1.0, requires_grad=True, name="w2")
b = tg.tensor(6.8813735870195432, requires_grad=True, name="b")
o = (x1 * w1 + x2 * w2 + b).tanh()
o.name = "o"
with tg.trace(keep="all") as tr:
    o.backward()
print(tg.render(tg.draw(o, trace=tr), "neuron.svg"))    # do/dx1 = w1·(1 − o²) = -1.5
