"""Watch backpropagation step by step: which formula produced which gradient.

Prints the trace table, an intermediate gradient kept by name, and writes one SVG frame per
backward step (frame_1.svg, ...): the op being processed is orange, finished ops green. Then
backprop.html: the same frames in one page with a slider and a play button (open it in a
browser; in Jupyter, the player displays inline).
Run:  python examples/trace_backprop.py
"""
import numpy as np

import tensorgrad as tg
from tensorgrad.teaching import play_backprop

rng = np.random.default_rng(1)
x = tg.tensor(rng.random((8, 4)), name="x")
W = tg.tensor(rng.standard_normal((3, 4)), requires_grad=True, name="W")
b = tg.tensor(np.zeros(3), requires_grad=True, name="b")
labels = np.array([0, 1, 2, 0, 1, 2, 0, 1])

logits = x @ W.T + b
logits.name = "logits"
loss = tg.nn.functional.cross_entropy(logits, labels)

with tg.trace(keep="all") as tr:  # "all": every tensor's gradient, to draw on the graph
    loss.backward()
print(tr)
print("d loss / d logits (first row):", tr.grads["logits"][0])  # softmax − one-hot, divided by 8
for step in range(1, len(tr.steps) + 1):
    tg.render(tg.draw(loss, trace=tr, step=step), f"frame_{step}.svg")
print(f"wrote frame_1.svg … frame_{len(tr.steps)}.svg")
print("wrote", play_backprop(loss, tr).save("backprop.html"))
