"""Train the documents' MLP written as plain tensor expressions, on generated data.

Ten random "prototype images" of 784 pixels; each sample is a prototype plus noise. The network
is 784-128-10 with ReLU and log-softmax, trained by hand-written gradient descent on the
gradients autograd computes. Run:  python examples/mlp_from_ops.py
"""
import numpy as np

import tensorgrad as tg
from tensorgrad.models import init_mlp, mlp_log_probs, mlp_loss

rng = np.random.default_rng(0)
prototypes = rng.random((10, 784)).astype(np.float32)
labels = rng.integers(0, 10, 2000)
x = np.clip(prototypes[labels] + 0.6 * rng.standard_normal((2000, 784)), 0, 1).astype(np.float32)
y = np.eye(10, dtype=np.float32)[labels]

params = init_mlp(784, 128, 10, scheme="he", seed=0)
learning_rate, batch_size = 0.1, 100
for epoch in range(1, 6):
    order = rng.permutation(len(x))
    for start in range(0, len(x), batch_size):
        batch = order[start:start + batch_size]
        loss = mlp_loss(x[batch], y[batch], params)
        loss.backward()
        with tg.no_grad():
            for p in params:
                p -= learning_rate * p.grad
                p.grad = None
    with tg.no_grad():
        full_loss = mlp_loss(x, y, params).item()
        accuracy = (mlp_log_probs(x, params).argmax(axis=1).data == labels).mean()
    print(f"epoch {epoch}: loss {full_loss:.4f}  accuracy {accuracy:.3f}")
