"""The documents' MLP written as ordinary ops gives exactly their hand-derived gradients.

Each test rewrites one document's backward formulas in NumPy (keeping the document's choices)
and compares them with autograd on the same forward pass, in float64, to 1e-10 relative.
"""
from __future__ import annotations

import numpy as np

import tensorgrad as tg

RTOL = 1e-10


def assert_close(autograd_grad, manual_grad, name):
    scale = np.max(np.abs(manual_grad))
    error = np.max(np.abs(autograd_grad - manual_grad)) / scale
    assert error <= RTOL, f"{name}: max relative error {error:.2e} > {RTOL:g}"


def mlp_log_probs(x, W1, b1, W2, b2):
    """784-128-10: ReLU hidden layer, log-softmax output (rows are samples, as in document 000)."""
    h = (x @ W1.T + b1).relu()
    return (h @ W2.T + b2).log_softmax(axis=-1)


def random_mnist_like(rng, n):
    x = rng.random((n, 784))  # pixels already divided by 255
    labels = rng.integers(0, 10, n)
    return x, np.eye(10)[labels]


def test_document_000_full_batch_gradients_with_l2():
    """Document 000 ("RED NEURONAL"): full batch, mean cross-entropy, L2 reg=0.001, its
    init randn/sqrt(fan_in). Its backward (cell 50):
        d_out = f - Y;  d_h = (h > 0) * (d_out @ w2)
        Dw2 = d_out.T @ h / N + reg*w2;  Db2 = d_out.mean(axis=0)
        Dw1 = d_h.T @ X / N + reg*w1;    Db1 = d_h.mean(axis=0)
    These are the gradients of  mean CE + reg/2·(‖w1‖² + ‖w2‖²). (The loss the document prints
    leaves the L2 term out; the gradient it follows includes it.)"""
    rng = np.random.default_rng(0)
    reg, n = 0.001, 64
    X, Y = random_mnist_like(rng, n)
    w1 = rng.standard_normal((128, 784)) / np.sqrt(784)
    w2 = rng.standard_normal((10, 128)) / np.sqrt(128)
    b1, b2 = rng.standard_normal(128) * 0.1, rng.standard_normal(10) * 0.1

    # autograd
    W1, B1, W2, B2 = (tg.tensor(p, requires_grad=True) for p in (w1, b1, w2, b2))
    logp = mlp_log_probs(tg.tensor(X), W1, B1, W2, B2)
    cross_entropy = -(logp * Y).sum(axis=1).mean()
    loss = cross_entropy + 0.5 * reg * ((W1 ** 2).sum() + (W2 ** 2).sum())
    loss.backward()

    # document 000's formulas
    h = np.maximum(0, X @ w1.T + b1)
    z = h @ w2.T + b2
    f = np.exp(z - z.max(axis=1, keepdims=True))
    f /= f.sum(axis=1, keepdims=True)
    d_out = f - Y
    d_h = (h > 0) * (d_out @ w2)
    Dw2 = d_out.T @ h / len(X) + reg * w2
    Db2 = d_out.mean(axis=0)
    Dw1 = d_h.T @ X / len(X) + reg * w1
    Db1 = d_h.mean(axis=0)

    for name, auto, manual in [("w1", W1.grad, Dw1), ("b1", B1.grad, Db1), ("w2", W2.grad, Dw2), ("b2", B2.grad, Db2)]:
        assert auto.dtype == np.float64
        assert_close(auto, manual, name)


def test_document_004_per_sample_gradients_of_the_summed_loss():
    """Document 004: one sample at a time as a column vector, He init, summed cross-entropy
    -Σ y·log(softmax(z2)). Its backward (function `fit`):
        dz2 = y_pred - y;  dW2 = dz2 @ a1.T;  db2 = dz2
        da1 = W2.T @ dz2;  dz1 = da1 * relu'(z1);  dW1 = dz1 @ x.T;  db1 = dz1
    Autograd uses rows (x of shape (1, 784)) and biases of shape (n,), the document columns."""
    rng = np.random.default_rng(1)
    W1 = rng.standard_normal((128, 784)) * np.sqrt(2.0 / 784)
    W2 = rng.standard_normal((10, 128)) * np.sqrt(2.0 / 128)
    b1 = rng.standard_normal((128, 1)) * 0.1
    b2 = rng.standard_normal((10, 1)) * 0.1
    X, Y = random_mnist_like(rng, 5)

    for i in range(len(X)):
        params = [tg.tensor(p, requires_grad=True) for p in (W1, b1.ravel(), W2, b2.ravel())]
        logp = mlp_log_probs(tg.tensor(X[i:i + 1]), *params)
        loss = -(logp * Y[i:i + 1]).sum()
        loss.backward()

        x, y = X[i].reshape(-1, 1), Y[i].reshape(-1, 1)
        z1 = W1 @ x + b1
        a1 = np.maximum(0, z1)
        z2 = W2 @ a1 + b2
        y_pred = np.exp(z2) / np.sum(np.exp(z2))
        dz2 = y_pred - y
        dW2, db2 = dz2 @ a1.T, dz2
        da1 = W2.T @ dz2
        dz1 = da1 * (z1 > 0).astype(float)
        dW1, db1 = dz1 @ x.T, dz1

        for name, auto, manual in [("W1", params[0].grad, dW1), ("b1", params[1].grad, db1.ravel()),
                                   ("W2", params[2].grad, dW2), ("b2", params[3].grad, db2.ravel())]:
            assert_close(auto, manual, f"sample {i} {name}")


def test_document_004_summed_over_samples_equals_sum_of_per_sample_gradients():
    """Summing document 004's per-sample losses over a batch gives the sum of its per-sample
    gradients: the batched expression with .sum() instead of .mean()."""
    rng = np.random.default_rng(2)
    W1 = rng.standard_normal((128, 784)) * np.sqrt(2.0 / 784)
    W2 = rng.standard_normal((10, 128)) * np.sqrt(2.0 / 128)
    X, Y = random_mnist_like(rng, 8)
    params = [tg.tensor(p, requires_grad=True) for p in (W1, np.zeros(128), W2, np.zeros(10))]
    (-(mlp_log_probs(tg.tensor(X), *params) * Y).sum()).backward()

    total = np.zeros_like(W1)
    for i in range(len(X)):
        x, y = X[i].reshape(-1, 1), Y[i].reshape(-1, 1)
        z1 = W1 @ x
        a1 = np.maximum(0, z1)
        z2 = W2 @ a1
        y_pred = np.exp(z2) / np.sum(np.exp(z2))
        total += ((W2.T @ (y_pred - y)) * (z1 > 0)) @ x.T
    assert_close(params[0].grad, total, "W1 summed over the batch")


def test_the_mlp_from_ops_passes_gradcheck():
    rng = np.random.default_rng(3)
    X, Y = random_mnist_like(rng, 4)
    X = X[:, :12]
    params = [tg.tensor(p, requires_grad=True) for p in
              (rng.standard_normal((6, 12)), rng.standard_normal(6), rng.standard_normal((10, 6)), rng.standard_normal(10))]

    def loss(W1, b1, W2, b2):
        h = (tg.tensor(X) @ W1.T + b1).relu()
        return -((h @ W2.T + b2).log_softmax(axis=-1) * Y).sum(axis=1).mean()

    assert tg.gradcheck(loss, params)
