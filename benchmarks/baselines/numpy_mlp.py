"""An MLP training step with its backward pass written by hand in NumPy: the floor that speed.py
measures tensorgrad against (a NumPy framework cannot do fewer NumPy operations than this).

The model, for a batch x of n samples (n, in) and layers i = 0 .. L-1 with weights W_i (out, in),
as PyTorch stores them, and biases b_i (out,):

    forward     h_0 = x
                z_i = h_i · W_iᵀ + b_i                    (n, out)
                h_{i+1} = act(z_i)                        ReLU or sigmoid; none after the last layer:
                                                          z_{L-1} are the logits
    loss        ℓ = mean over the rows of −log softmax(z_{L-1})[label]
                  = mean of  log Σ_c exp(z_c) − z_label

Backward is the chain rule from the loss down, one layer at a time; dz is d ℓ/d z (same shape as z):

    loss        dz_{L-1} = (softmax(z_{L-1}) − onehot(labels)) / n
                (softmax and cross-entropy differentiated together: no log-softmax, no one-hot matrix)
    weights     dW_i = dz_iᵀ · h_i                        (out, in): a sum over the rows of outer products
    bias        db_i = Σ_rows dz_i                        (out,)
    input       dh_i = dz_i · W_i                         (n, in)
    activation  dz_{i-1} = dh_i ⊙ act'(z_{i-1})           ⊙: elementwise; written from the output
                                                          h_i = act(z_{i-1}), which forward kept:
                ReLU'    = [h_i > 0]
                sigmoid' = h_i · (1 − h_i)
    update      W_i −= lr · dW_i,  b_i −= lr · db_i       (plain SGD)

What makes it fast (and why it is the floor, not the textbook version): every array it writes is
allocated once per batch size and reused (``_buffers_for``), every operation writes into its
buffer with ``out=`` or in place, the activation overwrites z (its derivative is then written from
h), and for a single sample the weight gradient is an outer product instead of a matrix product
with inner dimension 1. None of this changes the arithmetic: the self-check in speed.py verifies
that one step gives tensorgrad's (and PyTorch's) updated weights.
"""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from .specs import DTYPE, LR, MLPSpec


def softmax_cross_entropy_(z: np.ndarray, labels: np.ndarray, rows: np.ndarray) -> np.floating:
    """Mean cross-entropy of logits ``z`` (n, C) at ``labels``; overwrites ``z`` with d loss/d z =
    (softmax(z) − onehot)/n (the fused gradient: no log-softmax, no one-hot matrix). ``rows`` is
    arange(n), kept by the caller so that it is not rebuilt every step."""
    n = len(z)
    # softmax is the same with a constant taken off each row: minus the row's max, exp never
    # sees a value above 0 and cannot overflow
    z -= z.max(axis=1, keepdims=True)
    picked = z[rows, labels]                       # z_label of each row
    np.exp(z, out=z)                               # e^z, in place
    total = z.sum(axis=1, keepdims=True)           # Σ_c e^z_c, (n, 1)
    loss = np.mean(np.log(total[:, 0]) - picked)   # −log softmax(z)_label = log Σ_c e^z_c − z_label
    z *= (1.0 / n) / total                         # softmax(z)/n = e^z/Σ/n, one multiply per element
    z[rows, labels] -= 1.0 / n                     # − onehot/n: only the n label entries change
    return loss


def sgd_update_(params: list[np.ndarray], grads: list[np.ndarray], lr: np.float32) -> None:
    """p −= lr·g for every pair, in place. Through a temporary lr·g, as tensorgrad does, rather
    than scaling the gradient buffer in place (g *= lr; p −= g), which was never faster and at
    times slower: whole NumPy W1 step 0.968 [90% CI 0.960-0.982] of the in-place one, another
    time 0.991 [0.965-1.004]; W3 0.985 [0.955-1.025] and 0.996 [0.971-1.022]."""
    for param, grad in zip(params, grads):
        param -= lr * grad


class NumpyMLP:
    """Hand-written MLP training step: activations, gradients and masks in preallocated buffers
    (one set per batch size), every op in place (out=), the fused softmax-CE gradient, and for one
    sample an outer product instead of a matmul with inner dimension 1 for the weight gradients.

    W[i], b[i] are layer i's parameters, dW[i], db[i] their gradients after ``backward``."""
    name = "numpy"

    def __init__(self, spec: MLPSpec, weights: list[np.ndarray], lr: float = LR) -> None:
        self.relu = spec.activation == "relu"
        self.lr = DTYPE(lr)  # a float32 scalar: lr·dW stays float32
        self.W = [np.array(w, DTYPE) for w in weights[0::2]]   # (out, in), as PyTorch
        self.b = [np.array(b, DTYPE) for b in weights[1::2]]
        # the gradients, allocated once: backward writes them with out=
        self.dW = [np.empty_like(w) for w in self.W]
        self.db = [np.empty_like(b) for b in self.b]
        self._buffers: dict[int, SimpleNamespace] = {}

    def prepare(self, batches: list) -> list:
        return batches  # takes NumPy arrays as they are

    def _buffers_for(self, n: int) -> SimpleNamespace:
        """The arrays of a step on n samples, allocated at the first step of that batch size and
        reused by every later one: no allocation (nor page faults) inside a step, and the same
        memory, still in cache, every time."""
        if n not in self._buffers:
            widths = [len(b) for b in self.b]
            self._buffers[n] = SimpleNamespace(
                outputs=[np.empty((n, w), DTYPE) for w in widths],         # h_{i+1} = act(z_i); the last: logits
                hidden_grads=[np.empty((n, w), DTYPE) for w in widths[:-1]],  # dh of each hidden layer's output
                # act'(z) of each hidden layer; for ReLU a bool mask (a byte an element, not four)
                act_derivs=[np.empty((n, w), bool if self.relu else DTYPE) for w in widths[:-1]],
                input_grad=np.empty((n, self.W[0].shape[1]), DTYPE),          # d loss/d x, if asked
                rows=np.arange(n))                                            # for softmax_cross_entropy_
        return self._buffers[n]

    def _activate_(self, a: np.ndarray) -> None:
        """a = act(a), in place."""
        if self.relu:
            np.maximum(a, 0, out=a)  # ReLU(a) = max(a, 0)
        else:  # σ(a) = 1/(1 + e^−a): about twice as fast here as ½(1 + tanh(a/2))
            with np.errstate(over="ignore"):  # e^−a = inf gives σ = 0, as it should
                np.negative(a, out=a)
                np.exp(a, out=a)
            a += 1
            np.reciprocal(a, out=a)

    def _activation_grad_(self, dh: np.ndarray, h: np.ndarray, deriv: np.ndarray) -> None:
        """dh *= act'(·), written from the activation's output h (forward overwrote z with it);
        ``deriv`` is the buffer that act' goes into."""
        if self.relu:
            np.greater(h, 0, out=deriv)   # ReLU' = [z > 0] = [h > 0]
        else:
            np.subtract(1, h, out=deriv)  # σ' = h·(1 − h)
            deriv *= h
        np.multiply(dh, deriv, out=dh)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Logits (n, classes), in a buffer that the next forward overwrites."""
        buffers = self._buffers_for(len(x))
        h, last = x, len(self.W) - 1
        for i, (W, b, out) in enumerate(zip(self.W, self.b, buffers.outputs)):
            np.matmul(h, W.T, out=out)   # z = h·Wᵀ (W.T is a view: no copy)
            out += b                     # z += b
            if i < last:
                self._activate_(out)     # h = act(z), over z: backward needs only h
            h = out
        return h

    def backward(self, x: np.ndarray, labels: np.ndarray,
                 input_grad: bool = False) -> tuple[np.floating, np.ndarray | None]:
        """Fill dW, db after ``forward(x)``; return the loss and, if asked, d loss/d x."""
        buffers = self._buffers_for(len(x))
        # the logits, overwritten by their gradient: dz = (softmax(z) − onehot)/n
        dz = buffers.outputs[-1]
        loss = softmax_cross_entropy_(dz, labels, buffers.rows)
        for i in reversed(range(len(self.W))):
            h = buffers.outputs[i - 1] if i else x  # layer i's input
            if len(x) == 1:  # one sample: outer product and copy (matmul over 1 element is slow)
                np.einsum("i,j->ij", dz[0], h[0], out=self.dW[i])  # dW = dz ⊗ h
                np.copyto(self.db[i], dz[0])                        # db = dz
            else:
                np.matmul(dz.T, h, out=self.dW[i])                  # dW = dzᵀ·h
                np.sum(dz, axis=0, out=self.db[i])                  # db = Σ_rows dz
            if i == 0 and not input_grad:
                break  # the input's gradient only when asked (the CNN's head needs it)
            dh = buffers.hidden_grads[i - 1] if i else buffers.input_grad
            np.matmul(dz, self.W[i], out=dh)                        # dh = dz·W
            if i:
                self._activation_grad_(dh, h, buffers.act_derivs[i - 1])  # dz below = dh ⊙ act'
            dz = dh
        return loss, buffers.input_grad if input_grad else None

    def update(self) -> None:
        sgd_update_(self.W + self.b, self.dW + self.db, self.lr)  # W −= lr·dW, b −= lr·db

    def step(self, x: np.ndarray, labels: np.ndarray) -> np.floating:
        self.forward(x)
        loss, _ = self.backward(x, labels)
        self.update()
        return loss

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x)

    def weights(self) -> list[np.ndarray]:
        return [a.copy() for pair in zip(self.W, self.b) for a in pair]
