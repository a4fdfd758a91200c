"""Speed of one float32 training step (forward, loss, backward, SGD update): tensorgrad against a
hand-written NumPy backprop (the floor a NumPy framework can reach) and PyTorch on the CPU.

    python benchmarks/speed.py                        # everything (run it on a quiet machine)
    python benchmarks/speed.py --quick                # smoke run, under a minute, noisy numbers
    python benchmarks/speed.py --workloads W1 W3      # only these training-step workloads
    python benchmarks/speed.py --scaling --inference  # only these parts (also --steps, --memory)
    python benchmarks/speed.py --check                # only the correctness check of the baselines
    python benchmarks/speed.py --no-torch --out /tmp  # without PyTorch; results elsewhere

Workloads (mean softmax cross-entropy on integer labels, plain SGD lr 0.01, float32):

    W1  MLP 784-128-10 ReLU, batch 128
    W2  the same at batch 1 (document 004's per-sample SGD)
    W3  MLP 784-512-10 sigmoid, batch 128 (document 001)
    W4  document 003's CNN without dropout, batch 128: conv 1->32 3x3, ReLU, conv 32->64 3x3,
        ReLU, maxpool 2, flatten, dense 9216->128, ReLU, dense 128->10

Implementations, started from the same weights and fed the same batches:

    tensorgrad          nn.Sequential of its layers, F.cross_entropy, optim.SGD, zero_grad/backward/step
    numpy               forward and backward written by hand (NumpyMLP, NumpyCNN below)
    torch               the same nn.Sequential in PyTorch, torch.set_num_threads = NumPy's BLAS threads
    tensorgrad-threads  tensorgrad with tg.set_num_threads = NumPy's BLAS threads (BLAS then on one)
    tensorgrad-unfused  (--unfused) tensorgrad with each layer and its activation as two nodes

Method: each implementation is warmed up, then they run in turn for --repeats rounds, one timed
block of steps each per round, in orders where each one follows each other one equally often
(see _common.balanced_orders: what ran just before a block changes its time), each block after
untimed steps (--settle, SETTLE_SECONDS) that outlast the last block's spinning idle threads. Reported per
workload: the median ms/step of each implementation and the ratios tensorgrad/numpy, torch/numpy,
tensorgrad/torch computed round by round, as median [10th-90th percentile], and for each target
the 90% confidence interval of that median ratio ('(noise)' when it contains the target). Before
timing, a self-check (tiny sizes, every invocation) verifies that one step of the NumPy baseline (and of
PyTorch) gives tensorgrad's updated weights; the CNN's images have blank rows, as MNIST's, so
that pooling windows tie and the baseline must route their gradient as PyTorch does.

Other parts: --scaling (tensorgrad/numpy ratio against batch size and hidden width), --inference
(no_grad forward of the W1 MLP over 10,000 images in batches of 1,000), --memory (peak memory of an
epoch of 60,000 random images with the W1 model, each measurement in a fresh subprocess).

Results: printed tables, and benchmarks/results/speed-<date>.json and speed-latest.json (a --quick
run writes speed-quick-<date>.json only, so it never replaces the latest full results), with the
environment (numpy, BLAS and threads from threadpoolctl, CPU model, python, torch, load average).

Run it on a quiet machine: with other jobs on the cores, a multi-threaded BLAS waits for its
descheduled threads and a step can take tens of times longer; the script warns when the load
average is high. OPENBLAS_NUM_THREADS=1 (PyTorch follows) gives steadier single-thread numbers.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import time
import tracemalloc
from dataclasses import asdict, dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402  (after the path set-up above)
    RESULTS_DIR, environment, format_ratio, format_table, interleave, numpy_blas_threads, run_for,
    save_results, summarise, timed,
)

import tensorgrad as tg  # noqa: E402
import tensorgrad.nn.functional as tgF  # noqa: E402
from tensorgrad import nn as tgnn, optim as tgoptim  # noqa: E402

LR = 0.01
DTYPE = np.float32
CHUNK_BYTES = 4 * 2**20  # patch matrix per chunk of images in NumpyCNN: stays in the CPU cache
OUTPUT_CHUNK_BYTES = 2**20  # and output, gone over more often: in L2 (conv1: 12 images, 0.95 of 48's time)
PAIRS = (("tensorgrad", "numpy"), ("tensorgrad-unfused", "numpy"), ("tensorgrad-threads", "numpy"),
         ("torch", "numpy"), ("tensorgrad", "torch"), ("tensorgrad-threads", "torch"),
         ("tensorgrad-threads", "tensorgrad"))
#: untimed steps before every timed block, for this long: the block is then timed as in a training
#: run, where one implementation runs alone. They outlast OpenBLAS's threads, which spin for
#: ~0.1 s after each multi-threaded product (2**28 cycles) on the cores that the next block's
#: threads need (measured, W4: tensorgrad on 2 threads 0.94 of the NumPy step right after NumPy's
#: blocks, 0.73-0.86 after a pause of 0.12-0.3 s), and they bring the block's own data into cache.
SETTLE_SECONDS = 0.15


# ------------------------------------------------------------------------------ the models
@dataclass(frozen=True)
class MLPSpec:
    """Fully connected layers sizes[0] -> ... -> sizes[-1], the activation between them."""
    sizes: tuple[int, ...] = (784, 128, 10)
    activation: str = "relu"  # or "sigmoid"

    def describe(self) -> str:
        return "MLP " + "-".join(map(str, self.sizes)) + " " + self.activation

    def input_shape(self) -> tuple[int, ...]:
        return (self.sizes[0],)

    @property
    def classes(self) -> int:
        return self.sizes[-1]


@dataclass(frozen=True)
class CNNSpec:
    """Document 003's CNN: conv 3x3 (1 -> c1), ReLU, conv 3x3 (c1 -> c2), ReLU, maxpool 2,
    flatten, dense -> hidden, ReLU, dense -> classes, on (1, image, image) inputs."""
    image: int = 28
    channels: tuple[int, int] = (32, 64)
    hidden: int = 128
    classes: int = 10

    @property
    def pooled(self) -> int:  # side of the pooled feature map: two valid 3x3 convs, then /2
        return (self.image - 4) // 2

    @property
    def flat(self) -> int:
        return self.channels[1] * self.pooled ** 2

    def describe(self) -> str:
        c1, c2 = self.channels
        return f"CNN conv{c1}-conv{c2}-pool-{self.hidden}-{self.classes}"

    def input_shape(self) -> tuple[int, ...]:
        return (1, self.image, self.image)


@dataclass(frozen=True)
class Workload:
    name: str
    model: MLPSpec | CNNSpec
    batch: int
    steps: int    # training steps per timed block
    rounds: int   # interleaved rounds
    target: float | None = None   # tensorgrad/numpy must stay at or below this
    stretch: float | None = None  # and, as a stretch goal, tensorgrad/torch

    def describe(self) -> str:
        return f"{self.name} {self.model.describe()}, batch {self.batch}"


# Steps per timed block: long enough (~50-100 ms) that switching implementations, which leaves
# the next one cold caches and sleeping threads, is a small part of each block.
# Rounds are multiples of 12: whole cycles of the balanced orders (see interleave) for 3 or 4
# implementations (cycles of 6 and 4 rounds), so each follows each other one equally often.
WORKLOADS = {
    "W1": Workload("W1", MLPSpec((784, 128, 10), "relu"), batch=128, steps=100, rounds=36, target=1.15),
    "W2": Workload("W2", MLPSpec((784, 128, 10), "relu"), batch=1, steps=1000, rounds=36, target=2.0),
    "W3": Workload("W3", MLPSpec((784, 512, 10), "sigmoid"), batch=128, steps=50, rounds=36, target=1.10),
    "W4": Workload("W4", CNNSpec(), batch=128, steps=1, rounds=36, target=1.0, stretch=1.0),
}
INFERENCE_TARGET = 1.1


def initial_weights(spec: MLPSpec | CNNSpec, seed: int = 0) -> list[np.ndarray]:
    """The parameters in PyTorch's order and layouts (weight, bias per layer), uniform in
    ±1/√fan_in like PyTorch's default initialisation."""
    rng = np.random.default_rng(seed)
    if isinstance(spec, MLPSpec):
        shapes = [((n_out, n_in), n_in) for n_in, n_out in zip(spec.sizes[:-1], spec.sizes[1:])]
    else:
        c1, c2 = spec.channels
        shapes = [((c1, 1, 3, 3), 9), ((c2, c1, 3, 3), c1 * 9),
                  ((spec.hidden, spec.flat), spec.flat), ((spec.classes, spec.hidden), spec.hidden)]
    weights = []
    for shape, fan_in in shapes:
        bound = 1 / np.sqrt(fan_in)
        weights.append(rng.uniform(-bound, bound, shape).astype(DTYPE))
        weights.append(rng.uniform(-bound, bound, shape[0]).astype(DTYPE))
    return weights


def make_batches(spec: MLPSpec | CNNSpec, batch: int, count: int, seed: int = 1) -> list[tuple[np.ndarray, np.ndarray]]:
    """``count`` batches of random "pixels" in [0, 1) and integer labels (int64), each contiguous."""
    rng = np.random.default_rng(seed)
    return [(rng.random((batch, *spec.input_shape()), dtype=DTYPE),
             rng.integers(0, spec.classes, batch, dtype=np.int64)) for _ in range(count)]


def batch_pool(batch: int) -> int:
    """How many distinct batches a timed block cycles through (512 samples at batch 1)."""
    return max(4, min(512, 512 // batch))


def build_sequential(nn: Any, spec: MLPSpec | CNNSpec) -> Any:
    """The model as ``nn.Sequential``; ``nn`` is tensorgrad.nn or torch.nn (same names)."""
    if isinstance(spec, CNNSpec):
        c1, c2 = spec.channels
        return nn.Sequential(nn.Conv2d(1, c1, 3), nn.ReLU(), nn.Conv2d(c1, c2, 3), nn.ReLU(),
                             nn.MaxPool2d(2), nn.Flatten(), nn.Linear(spec.flat, spec.hidden), nn.ReLU(),
                             nn.Linear(spec.hidden, spec.classes))
    activation = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid}[spec.activation]
    layers = []
    for n_in, n_out in zip(spec.sizes[:-1], spec.sizes[1:]):
        layers += [nn.Linear(n_in, n_out), activation()]
    return nn.Sequential(*layers[:-1])  # no activation after the last layer: it outputs logits


# ------------------------------------------------------------------ implementation: tensorgrad
class TensorgradImpl:
    """The documented tensorgrad training loop."""
    name = "tensorgrad"
    package, nn, optim, functional = tg, tgnn, tgoptim, tgF  # (profile_step.py swaps in another checkout's)

    def __init__(self, spec: MLPSpec | CNNSpec, weights: list[np.ndarray], lr: float = LR) -> None:
        self.model = build_sequential(self.nn, spec)
        for param, value in zip(self.model.parameters(), weights, strict=True):
            np.copyto(param.data, value)
        self.optimizer = self.optim.SGD(self.model.parameters(), lr=lr)

    def prepare(self, batches: list) -> list:
        return batches  # takes NumPy arrays, as its DataLoader yields them

    def step(self, x: Any, y: Any) -> Any:
        self.optimizer.zero_grad()
        loss = self.functional.cross_entropy(self.model(x), y)
        loss.backward()
        self.optimizer.step()
        return loss

    def predict(self, x: Any) -> np.ndarray:
        with self.package.no_grad():
            return self.model(x).data

    def weights(self) -> list[np.ndarray]:
        return [p.data.copy() for p in self.model.parameters()]


class TensorgradUnfusedImpl(TensorgradImpl):
    """The same, with each layer and its activation as two graph nodes (``fuse_activations =
    False``): what the fused layer+activation nodes are worth."""
    name = "tensorgrad-unfused"

    def __init__(self, spec: MLPSpec | CNNSpec, weights: list[np.ndarray], lr: float = LR) -> None:
        super().__init__(spec, weights, lr)
        self.model.fuse_activations = False


class TensorgradThreadsImpl(TensorgradImpl):
    """The same, on tensorgrad's own threads (``tg.set_num_threads``), as many as NumPy's BLAS
    uses, during its blocks only (BLAS then runs on one thread): the same thread count as the
    NumPy baseline and PyTorch."""
    name = "tensorgrad-threads"

    def __init__(self, spec: MLPSpec | CNNSpec, weights: list[np.ndarray], lr: float = LR) -> None:
        super().__init__(spec, weights, lr)
        self.threads = self.thread_count()

    def session(self) -> contextlib.AbstractContextManager:
        return self.package.parallel.num_threads(self.threads)

    @staticmethod
    def thread_count() -> int:
        """NumPy's BLAS threads (read while tensorgrad runs serially), else the CPUs."""
        return numpy_blas_threads() or os.cpu_count() or 1

    @classmethod
    def available(cls, package: Any) -> bool:
        """Whether ``package`` (tensorgrad, or an older checkout of it) has threads, and there is
        more than one to run."""
        return hasattr(package, "parallel") and cls.thread_count() > 1


# ----------------------------------------------------------------------- implementation: torch
def import_torch(enabled: bool = True) -> Any:
    """PyTorch with as many threads as NumPy's BLAS, or None (not installed, or --no-torch)."""
    if not enabled:
        return None
    # PyTorch runs with its own defaults, as its users run it. (Runs before 2026-12-04 set
    # OMP_WAIT_POLICY=PASSIVE, so that its spinning threads would not slow the next block; each
    # block's untimed lead-in (SETTLE_SECONDS) sees to that now, and PASSIVE had slowed PyTorch's
    # own W1 step: torch/numpy 1.95 with it, 1.46 without, both with a pause between blocks.)
    try:
        import torch
    except ImportError:
        return None
    threads = numpy_blas_threads()
    if threads:
        torch.set_num_threads(threads)
    return torch


class TorchImpl:
    """The same loop in PyTorch (CPU)."""
    name = "torch"

    def __init__(self, spec: MLPSpec | CNNSpec, weights: list[np.ndarray], lr: float = LR) -> None:
        import torch
        self.torch = torch
        self.model = build_sequential(torch.nn, spec)
        with torch.no_grad():
            for param, value in zip(self.model.parameters(), weights, strict=True):
                param.copy_(torch.from_numpy(value))
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=lr)

    def prepare(self, batches: list) -> list:
        return [(self.torch.from_numpy(x), self.torch.from_numpy(y)) for x, y in batches]

    def step(self, x: Any, y: Any) -> Any:
        self.optimizer.zero_grad()
        loss = self.torch.nn.functional.cross_entropy(self.model(x), y)
        loss.backward()
        self.optimizer.step()
        return loss

    def predict(self, x: Any) -> Any:
        with self.torch.no_grad():
            return self.model(x)

    def weights(self) -> list[np.ndarray]:
        return [p.detach().numpy().copy() for p in self.model.parameters()]


# ------------------------------------------------------------------------ implementation: numpy
def softmax_cross_entropy_(z: np.ndarray, labels: np.ndarray, rows: np.ndarray) -> np.floating:
    """Mean cross-entropy of logits ``z`` (n, C) at ``labels``; overwrites ``z`` with d loss/d z =
    (softmax(z) − onehot)/n (the fused gradient: no log-softmax, no one-hot matrix)."""
    n = len(z)
    z -= z.max(axis=1, keepdims=True)  # stable: exp never sees a value above 0
    picked = z[rows, labels]
    np.exp(z, out=z)
    total = z.sum(axis=1, keepdims=True)
    loss = np.mean(np.log(total[:, 0]) - picked)
    z *= (1.0 / n) / total
    z[rows, labels] -= 1.0 / n
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
    sample an outer product instead of a matmul with inner dimension 1 for the weight gradients."""
    name = "numpy"

    def __init__(self, spec: MLPSpec, weights: list[np.ndarray], lr: float = LR) -> None:
        self.relu = spec.activation == "relu"
        self.lr = DTYPE(lr)
        self.W = [np.array(w, DTYPE) for w in weights[0::2]]   # (out, in), as PyTorch
        self.b = [np.array(b, DTYPE) for b in weights[1::2]]
        self.gW = [np.empty_like(w) for w in self.W]
        self.gb = [np.empty_like(b) for b in self.b]
        self._buffers: dict[int, SimpleNamespace] = {}

    def prepare(self, batches: list) -> list:
        return batches

    def _buffers_for(self, n: int) -> SimpleNamespace:
        if n not in self._buffers:
            widths = [len(b) for b in self.b]
            self._buffers[n] = SimpleNamespace(
                out=[np.empty((n, w), DTYPE) for w in widths],              # layer outputs
                grad=[np.empty((n, w), DTYPE) for w in widths[:-1]],        # d loss/d hidden
                deriv=[np.empty((n, w), bool if self.relu else DTYPE) for w in widths[:-1]],
                input_grad=np.empty((n, self.W[0].shape[1]), DTYPE),
                rows=np.arange(n))
        return self._buffers[n]

    def _activate_(self, a: np.ndarray) -> None:
        if self.relu:
            np.maximum(a, 0, out=a)
        else:  # σ(a) = 1/(1 + e^−a): about twice as fast here as ½(1 + tanh(a/2))
            with np.errstate(over="ignore"):  # e^−a = inf gives σ = 0, as it should
                np.negative(a, out=a)
                np.exp(a, out=a)
            a += 1
            np.reciprocal(a, out=a)

    def _activation_grad_(self, d: np.ndarray, h: np.ndarray, deriv: np.ndarray) -> None:
        """d *= activation'(·), written from the activation's output h."""
        if self.relu:
            np.greater(h, 0, out=deriv)
        else:
            np.subtract(1, h, out=deriv)  # σ' = h·(1 − h)
            deriv *= h
        np.multiply(d, deriv, out=d)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Logits (n, classes), in a buffer that the next forward overwrites."""
        buffers = self._buffers_for(len(x))
        h, last = x, len(self.W) - 1
        for i, (W, b, out) in enumerate(zip(self.W, self.b, buffers.out)):
            np.matmul(h, W.T, out=out)
            out += b
            if i < last:
                self._activate_(out)
            h = out
        return h

    def backward(self, x: np.ndarray, labels: np.ndarray,
                 input_grad: bool = False) -> tuple[np.floating, np.ndarray | None]:
        """Fill gW, gb after ``forward(x)``; return the loss and, if asked, d loss/d x."""
        buffers = self._buffers_for(len(x))
        g = buffers.out[-1]
        loss = softmax_cross_entropy_(g, labels, buffers.rows)
        for i in reversed(range(len(self.W))):
            h = buffers.out[i - 1] if i else x
            if len(x) == 1:  # one sample: outer product and copy (matmul over 1 element is slow)
                np.einsum("i,j->ij", g[0], h[0], out=self.gW[i])
                np.copyto(self.gb[i], g[0])
            else:
                np.matmul(g.T, h, out=self.gW[i])
                np.sum(g, axis=0, out=self.gb[i])
            if i == 0 and not input_grad:
                break
            d = buffers.grad[i - 1] if i else buffers.input_grad
            np.matmul(g, self.W[i], out=d)
            if i:
                self._activation_grad_(d, h, buffers.deriv[i - 1])
            g = d
        return loss, buffers.input_grad if input_grad else None

    def update(self) -> None:
        sgd_update_(self.W + self.b, self.gW + self.gb, self.lr)

    def step(self, x: np.ndarray, labels: np.ndarray) -> np.floating:
        self.forward(x)
        loss, _ = self.backward(x, labels)
        self.update()
        return loss

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x)

    def weights(self) -> list[np.ndarray]:
        return [a.copy() for pair in zip(self.W, self.b) for a in pair]


# NumpyCNN keeps images channels-last (N, H, W, C): a 3x3 patch is then 3·3 runs of C contiguous
# numbers and a convolution is one GEMM (pixels, 9·C) @ (9·C, out channels) with no transposes.
def kernel_matrix(weight: np.ndarray) -> np.ndarray:
    """PyTorch's (O, C, kh, kw) kernel as the (kh·kw·C, O) matrix that channels-last patches use."""
    return np.ascontiguousarray(weight.transpose(2, 3, 1, 0).reshape(-1, weight.shape[0]))


def kernel_from_matrix(matrix: np.ndarray, channels: int) -> np.ndarray:
    """Inverse of ``kernel_matrix`` (for 3x3 kernels)."""
    return np.ascontiguousarray(matrix.reshape(3, 3, channels, -1).transpose(3, 2, 0, 1))


def im2col(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    """The 3x3 patches of channels-last images x (m, H, W, C) as rows of ``out``, (m·OH·OW, 9·C),
    each row ordered (kernel row, kernel column, channel); one strided copy, no Python loop."""
    m, h, w, c = x.shape
    patches = out[:m * (h - 2) * (w - 2)]
    if c == 1:  # the images themselves: one strided copy per kernel offset is faster (1.7 against 3.2 ms
        # for 128 MNIST images), as tensorgrad's conv does
        columns = patches.reshape(m, h - 2, w - 2, 9)
        for k in range(9):
            i, j = divmod(k, 3)
            columns[:, :, :, k] = x[:, i:i + h - 2, j:j + w - 2, 0]
        return patches
    windows = sliding_window_view(x, (3, 3), axis=(1, 2))           # (m, OH, OW, C, 3, 3), a view
    np.copyto(patches.reshape(m, h - 2, w - 2, 3, 3, c), windows.transpose(0, 1, 2, 4, 5, 3))
    return patches


def col2im_(g: np.ndarray, kernel: np.ndarray, dx: np.ndarray, buffer: np.ndarray) -> None:
    """dx (m, H, W, C) = the input gradient of a 3x3 valid convolution, from its output gradient
    g (m·OH·OW, O) and kernel matrix (9·C, O): for each kernel offset, g @ (that offset's C rows)ᵀ
    into ``buffer`` (m·OH·OW, C), added onto the image slice the offset read; none per pixel.
    One product per offset rather than one for all: a row of that single product interleaves the
    offsets, so its adds run over pieces of C numbers, 1.25-1.4x slower here (as in tensorgrad)."""
    m, h, w, c = dx.shape
    dx.fill(0)
    for k in range(9):
        i, j = divmod(k, 3)
        part = np.matmul(g, kernel[k * c:(k + 1) * c].T, out=buffer[:len(g)])
        image_slice = dx[:, i:i + h - 2, j:j + w - 2]
        image_slice += part.reshape(image_slice.shape)


def pool_windows(a: np.ndarray) -> np.ndarray:
    """(n, 2p, 2p, C) as (n, p, 2, p, 2, C): axes 2 and 4 run over each 2x2 pooling window."""
    n, h, w, c = a.shape
    return a.reshape(n, h // 2, 2, w // 2, 2, c)


class ConvLayer:
    """A 3x3 valid convolution followed by ReLU, channels-last, processed in chunks of images so
    that the patch matrix of a chunk (~CHUNK_BYTES) is reused from the cache; backward rebuilds
    each chunk's patches instead of keeping them all from forward."""

    def __init__(self, weight: np.ndarray, bias: np.ndarray, image: int) -> None:
        self.channels_in = weight.shape[1]
        self.kernel = kernel_matrix(weight)                 # (9·C, O)
        self.bias = np.array(bias, DTYPE)
        self.grad_kernel, self.grad_bias = np.empty_like(self.kernel), np.empty_like(self.bias)
        self._partial = np.empty_like(self.kernel)
        side = image - 2
        patches, output = (side * side * n * self.kernel.itemsize for n in self.kernel.shape)  # bytes an image
        self.chunk = max(1, min(CHUNK_BYTES // patches, OUTPUT_CHUNK_BYTES // output))
        self._patches = np.empty((self.chunk * side * side, self.kernel.shape[0]), DTYPE)
        self._dx_part = np.empty((self.chunk * side * side, self.channels_in), DTYPE)  # for col2im_
        # Σ g as ones @ g, a matrix-vector product: 0.5-1.2 ms against 2.8-3.3 for np.sum over the axes
        self._ones = np.ones(self.chunk * side * side, DTYPE)

    def _chunks(self, n: int):
        return (slice(s, min(s + self.chunk, n)) for s in range(0, n, self.chunk))

    def _convolve(self, x: np.ndarray, out: np.ndarray) -> np.ndarray:
        """out (m·OH·OW, O) = conv(x) + bias for one chunk x (m, H, W, C)."""
        np.matmul(im2col(x, self._patches), self.kernel, out=out)
        out += self.bias
        return out

    def forward(self, x: np.ndarray, out: np.ndarray) -> None:
        """out (n, OH, OW, O) = relu(conv(x) + bias)."""
        for part in self._chunks(len(x)):
            y = self._convolve(x[part], out[part].reshape(-1, len(self.bias)))
            np.maximum(y, 0, out=y)

    def _backward_chunk(self, x: np.ndarray, g: np.ndarray, dx: np.ndarray | None) -> None:
        """Add one chunk's kernel and bias gradients from g = d loss/d pre-activation (m·OH·OW, O);
        with ``dx``, also fill d loss/d x, masked by ReLU' of x (the ReLU output of the layer below)."""
        patches = im2col(x, self._patches)
        self.grad_kernel += np.matmul(patches.T, g, out=self._partial)
        self.grad_bias += np.matmul(self._ones[:len(g)], g)
        if dx is not None:
            col2im_(g, self.kernel, dx, self._dx_part)
            dx *= x > 0  # while this chunk is in cache

    def _output_gradient(self, g: np.ndarray, part: slice) -> np.ndarray:
        """d loss/d pre-activation of chunk ``part`` as (m·OH·OW, O), from backward's ``g``."""
        return g[part].reshape(-1, len(self.bias))

    def backward(self, x: np.ndarray, g: np.ndarray, dx: np.ndarray | None) -> None:
        """Kernel and bias gradients from g = d loss/d pre-activation (n, OH, OW, O); with ``dx``,
        also d loss/d x (see _backward_chunk)."""
        self.grad_kernel.fill(0)
        self.grad_bias.fill(0)
        for part in self._chunks(len(x)):
            self._backward_chunk(x[part], self._output_gradient(g, part), None if dx is None else dx[part])

    def params_and_grads(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        return [self.kernel, self.bias], [self.grad_kernel, self.grad_bias]

    def weights(self) -> list[np.ndarray]:
        return [kernel_from_matrix(self.kernel, self.channels_in), self.bias.copy()]


class ConvPoolLayer(ConvLayer):
    """A ConvLayer with a 2x2 max pool fused in, as tensorgrad fuses conv2d+relu+max_pool2d: each
    chunk's convolution is pooled while it is in cache and never stored whole; ReLU comes after
    the max, on a quarter of the values (they commute). Forward keeps the index of each window's
    first maximum, which gets the gradient as in PyTorch. An equality mask (this step's former
    rule) was no faster (W4 tensorgrad/numpy 1.04 twice with it, 1.07-1.09 after) and gives every
    tied maximum the whole gradient: wrong, and ties are common on real images (blank margins give
    constant convolution outputs: 37% of the positive pooled outputs of 128 MNIST images)."""

    OFFSETS = ((0, 0), (0, 1), (1, 0), (1, 1))  # a 2x2 window's pixels, row-major: index 0-3

    def __init__(self, weight: np.ndarray, bias: np.ndarray, image: int) -> None:
        super().__init__(weight, bias, image)
        side, pooled = image - 2, (image - 2) // 2
        self._conv = np.empty((self.chunk, side, side, len(self.bias)), DTYPE)  # one chunk, or its gradient
        self._greater = np.empty((self.chunk, pooled, pooled, len(self.bias)), bool)
        self._index = np.empty((self.chunk, pooled, pooled, len(self.bias)), np.uint8)

    def forward(self, x: np.ndarray, pooled: np.ndarray, first: np.ndarray) -> None:
        """pooled (n, OH/2, OW/2, O) = relu(maxpool(conv(x) + bias)); ``first`` (same shape, uint8)
        the index of each window's first maximum in OFFSETS. Backward reads both."""
        self._pooled, self._first = pooled, first
        for part in self._chunks(len(x)):
            m = part.stop - part.start
            conv = self._conv[:m]
            self._convolve(x[part], conv.reshape(-1, len(self.bias)))
            windows, out, index = pool_windows(conv), pooled[part], first[part]
            greater, taken = self._greater[:m], self._index[:m]
            # a running max, where a later pixel takes over only if strictly greater (a tie stays
            # with the first); as k grows, index = max(index, k·[taken over])
            np.copyto(out, windows[:, :, 0, :, 0])
            index.fill(0)
            for k, (i, j) in enumerate(self.OFFSETS[1:], start=1):
                np.greater(windows[:, :, i, :, j], out, out=greater)
                np.multiply(greater, np.uint8(k), out=taken)
                np.maximum(index, taken, out=index)
                np.maximum(out, windows[:, :, i, :, j], out=out)
            np.maximum(out, 0, out=out)

    def _output_gradient(self, g: np.ndarray, part: slice) -> np.ndarray:
        """The chunk's convolution gradient from g = d loss/d pooled (n, OH/2, OW/2, O): through
        ReLU (0 where the pooled output is 0), then to each window's first maximum."""
        m = part.stop - part.start
        dconv, hit = self._conv[:m], self._greater[:m]
        windows, dpool = pool_windows(dconv), g[part] * (self._pooled[part] > 0)
        for k, (i, j) in enumerate(self.OFFSETS):
            np.equal(self._first[part], k, out=hit)
            np.multiply(dpool, hit, out=windows[:, :, i, :, j])
        return dconv.reshape(-1, len(self.bias))


class NumpyCNN:
    """Hand-written CNN step: a ConvLayer, a ConvPoolLayer (im2col GEMMs, col2im backward, the
    pool fused into the second conv's chunks) and the dense head as a NumpyMLP."""
    name = "numpy"

    def __init__(self, spec: CNNSpec, weights: list[np.ndarray], lr: float = LR) -> None:
        conv1_w, conv1_b, conv2_w, conv2_b, fc1_w, *head = weights
        self.spec, self.lr = spec, DTYPE(lr)
        self.conv1 = ConvLayer(conv1_w, conv1_b, spec.image)
        self.conv2 = ConvPoolLayer(conv2_w, conv2_b, spec.image - 2)
        c2, p = spec.channels[1], spec.pooled
        # fc1 reads PyTorch's (c, h, w) flatten order; here the features are flattened (h, w, c)
        fc1_hwc = fc1_w.reshape(-1, c2, p, p).transpose(0, 2, 3, 1).reshape(fc1_w.shape[0], -1)
        self.head = NumpyMLP(MLPSpec((spec.flat, spec.hidden, spec.classes)), [fc1_hwc, *head], lr)
        self._buffers: dict[int, SimpleNamespace] = {}

    def prepare(self, batches: list) -> list:
        return batches

    def _buffers_for(self, n: int) -> SimpleNamespace:
        if n not in self._buffers:
            (c1, c2), s, p = self.spec.channels, self.spec.image, self.spec.pooled
            self._buffers[n] = SimpleNamespace(
                a1=np.empty((n, s - 2, s - 2, c1), DTYPE), d1=np.empty((n, s - 2, s - 2, c1), DTYPE),
                pooled=np.empty((n, p, p, c2), DTYPE), first=np.empty((n, p, p, c2), np.uint8))
        return self._buffers[n]

    def forward(self, x: np.ndarray) -> np.ndarray:
        buffers = self._buffers_for(len(x))
        self.conv1.forward(x.transpose(0, 2, 3, 1), buffers.a1)  # NCHW with C = 1 -> NHWC: a view
        self.conv2.forward(buffers.a1, buffers.pooled, buffers.first)
        return self.head.forward(buffers.pooled.reshape(len(x), -1))

    def backward(self, x: np.ndarray, labels: np.ndarray) -> np.floating:
        buffers = self._buffers_for(len(x))
        loss, dflat = self.head.backward(buffers.pooled.reshape(len(x), -1), labels, input_grad=True)
        self.conv2.backward(buffers.a1, dflat.reshape(buffers.pooled.shape), buffers.d1)  # g: d loss/d pooled
        self.conv1.backward(x.transpose(0, 2, 3, 1), buffers.d1, None)  # no gradient for the images
        return loss

    def update(self) -> None:
        self.head.update()
        for conv in (self.conv1, self.conv2):
            sgd_update_(*conv.params_and_grads(), self.lr)

    def step(self, x: np.ndarray, labels: np.ndarray) -> np.floating:
        self.forward(x)
        loss = self.backward(x, labels)
        self.update()
        return loss

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x)

    def weights(self) -> list[np.ndarray]:
        c2, p = self.spec.channels[1], self.spec.pooled
        fc1_hwc, *head = self.head.weights()
        fc1 = fc1_hwc.reshape(-1, p, p, c2).transpose(0, 3, 1, 2).reshape(fc1_hwc.shape[0], -1)
        return self.conv1.weights() + self.conv2.weights() + [np.ascontiguousarray(fc1), *head]


def numpy_impl(spec: MLPSpec | CNNSpec, weights: list[np.ndarray], lr: float = LR) -> NumpyMLP | NumpyCNN:
    return NumpyMLP(spec, weights, lr) if isinstance(spec, MLPSpec) else NumpyCNN(spec, weights, lr)


def implementations(spec: MLPSpec | CNNSpec, torch: Any, lr: float = LR, seed: int = 0,
                    unfused: bool = False, threads: bool = True) -> list:
    """tensorgrad, numpy, (with ``unfused``) tensorgrad without fused activations, (with
    ``threads``, on a multi-core machine) tensorgrad on its own threads and (when available)
    torch, all starting from the same weights."""
    weights = initial_weights(spec, seed)
    impls = [TensorgradImpl(spec, weights, lr), numpy_impl(spec, weights, lr)]
    if unfused:
        impls.append(TensorgradUnfusedImpl(spec, weights, lr))
    if threads and TensorgradThreadsImpl.available(TensorgradImpl.package):
        impls.append(TensorgradThreadsImpl(spec, weights, lr))
    if torch is not None:
        impls.append(TorchImpl(spec, weights, lr))
    return impls


# -------------------------------------------------------------------------------- self-check
CHECK_CASES = [  # tiny versions of every code path: relu / sigmoid MLP, one sample, the CNN
    (MLPSpec((30, 16, 10), "relu"), 8),
    (MLPSpec((30, 16, 10), "relu"), 1),
    (MLPSpec((30, 16, 12, 10), "sigmoid"), 8),
    (CNNSpec(image=10, channels=(3, 4), hidden=8, classes=10), 5),
]


def check_one_step(spec: MLPSpec | CNNSpec, batch: int, torch: Any, impls: list | None = None) -> list[str]:
    """One step of every implementation (``impls``, tensorgrad's first; by default all of
    ``implementations``) from the same weights on the same batch; return the disagreements with
    tensorgrad (loss, or updated weights beyond rtol 1e-4, or weight changes beyond 1e-3 of the
    largest change: that catches a wrong gradient the weights alone hide)."""
    impls = impls or implementations(spec, torch, unfused=True)
    before = impls[0].weights()
    (x, y), = make_batches(spec, batch, 1, seed=2)
    if isinstance(spec, CNNSpec):  # 6 blank rows on top, as MNIST's margins: after two 3x3 convs the
        x[:, :, :6] = 0  # first row of pooling windows sees constant outputs, i.e. tied maxima (as in
        # 37% of the positive pooled outputs of the CNN on 128 MNIST images)
    losses = {}
    for impl in impls:
        with session(impl):
            losses[impl.name] = float(impl.step(*impl.prepare([(x, y)])[0]).item())
    reference = impls[0].weights()
    problems = []
    for impl in impls[1:]:
        where = f"{impl.name} vs tensorgrad, {spec.describe()}, batch {batch}"
        if not np.isclose(losses[impl.name], losses["tensorgrad"], rtol=1e-5):
            problems.append(f"{where}: loss {losses[impl.name]} vs {losses['tensorgrad']}")
        for k, (mine, ref, old) in enumerate(zip(impl.weights(), reference, before, strict=True)):
            change, ref_change = mine - old, ref - old
            if not np.allclose(mine, ref, rtol=1e-4, atol=1e-7):
                problems.append(f"{where}: parameter {k} {ref.shape} differs after the step, "
                                f"max |diff| {np.abs(mine - ref).max():.3g}")
            elif not np.allclose(change, ref_change, rtol=1e-3, atol=1e-3 * np.abs(ref_change).max()):
                problems.append(f"{where}: parameter {k} {ref.shape} moved differently, max |diff of "
                                f"change| {np.abs(change - ref_change).max():.3g} "
                                f"(largest change {np.abs(ref_change).max():.3g})")
    return problems


def self_check(torch: Any, full_size: bool = False) -> None:
    """Run check_one_step on the tiny cases (and the real workloads); exit on any disagreement."""
    cases = list(CHECK_CASES)
    if full_size:
        cases += [(w.model, w.batch) for w in WORKLOADS.values()]
    started = time.perf_counter()
    problems = [p for spec, batch in cases for p in check_one_step(spec, batch, torch)]
    if problems:
        sys.exit("self-check FAILED (a benchmark of a wrong baseline is worthless):\n  " + "\n  ".join(problems))
    names = ", ".join(impl.name for impl in implementations(CHECK_CASES[0][0], torch, unfused=True)[1:])
    print(f"self-check: one step of {names} matches tensorgrad on {len(cases)} cases "
          f"({time.perf_counter() - started:.1f} s)")


# ------------------------------------------------------------------------ timing the steps
def session(impl: Any) -> contextlib.AbstractContextManager:
    """The context an implementation's steps run in: its ``session()`` (tensorgrad's threads on),
    or none."""
    return impl.session() if hasattr(impl, "session") else contextlib.nullcontext()


def step_block(impl: Any, batches: list, steps: int, settle: float = 0.0) -> Callable[[], float]:
    """A runner for ``interleave``: untimed steps for ``settle`` seconds, then ``steps`` training
    steps over ``batches``; returns seconds per timed step."""
    data = impl.prepare(batches)
    step, count = impl.step, len(data)

    def run() -> float:
        with session(impl):
            run_for(settle, lambda: step(*data[0]))
            start = time.perf_counter()
            for i in range(steps):
                step(*data[i % count])
            return (time.perf_counter() - start) / steps
    return run


def calibrated_steps(run_one: Callable[[], float], block_seconds: float) -> int:
    """Steps per block so that a block lasts about ``block_seconds`` (from the fastest of three
    single steps: the first one is cold)."""
    seconds = min(run_one() for _ in range(3))
    return max(1, min(10_000, round(block_seconds / max(seconds, 1e-7))))


def step_runners(spec: MLPSpec | CNNSpec, batch: int, steps: int | None, torch: Any, unfused: bool = False,
                 block_seconds: float = 0.1, threads: bool = True,
                 settle: float = 0.0) -> tuple[int, dict[str, Callable[[], float]]]:
    """The steps per block (``steps``, or if None calibrated so that a tensorgrad block lasts about
    ``block_seconds``) and a ``step_block`` runner for each implementation, on the same batches."""
    impls = implementations(spec, torch, unfused=unfused, threads=threads)
    batches = make_batches(spec, batch, batch_pool(batch))
    if steps is None:
        steps = calibrated_steps(step_block(impls[0], batches, 1), block_seconds)
    return steps, {impl.name: step_block(impl, batches, steps, settle) for impl in impls}


def time_steps(spec: MLPSpec | CNNSpec, batch: int, steps: int | None, rounds: int, torch: Any,
               block_seconds: float = 0.1, warmup: int = 2, unfused: bool = False, threads: bool = True,
               settle: float = SETTLE_SECONDS) -> dict[str, Any]:
    """Interleaved timing of the training step of each implementation, after ``warmup`` blocks
    each (``steps=None``: calibrated so a tensorgrad block lasts about ``block_seconds``), each
    block after ``settle`` seconds of untimed steps."""
    steps, runners = step_runners(spec, batch, steps, torch, unfused, block_seconds, threads, settle)
    summary = summarise(interleave(runners, rounds, warmup), PAIRS)
    threads = TensorgradThreadsImpl.thread_count() if "tensorgrad-threads" in runners else None
    return {"steps_per_block": steps, "rounds": rounds, "settle_seconds": settle, "threads": threads, **summary}


def run_workloads(names: list[str], quick: bool, repeats: int | None, torch: Any,
                  unfused: bool = False, settle: float = SETTLE_SECONDS) -> list[dict[str, Any]]:
    rows = []
    for name in names:
        workload = WORKLOADS[name]
        steps = max(1, workload.steps // 2) if quick else workload.steps
        rounds = repeats or (3 if quick else workload.rounds)
        print(f"  {workload.describe()}: {rounds} rounds of {steps} step(s) ...", flush=True)
        result = time_steps(workload.model, workload.batch, steps, rounds, torch, warmup=1 if quick else 2,
                            unfused=unfused, settle=settle)
        rows.append({"workload": name, "description": workload.describe(), "batch": workload.batch,
                     "model": asdict(workload.model), "target_tensorgrad_over_numpy": workload.target,
                     "stretch_target_tensorgrad_over_torch": workload.stretch, **result})
    return rows


def target_text(ratio: dict[str, float] | None, target: float | None) -> str:
    """'<= 1.10 ok' or '<= 1.10 MISSED' by the median ratio, then the 90% confidence interval of
    that median, and '(noise)' where the interval contains the target: this run cannot tell."""
    if ratio is None or target is None:
        return "-"
    text = f"<= {target:.2f} {'ok' if ratio['median'] <= target else 'MISSED'}"
    if "ci90_low" in ratio:  # (results written before the interval was recorded have none)
        low, high = ratio["ci90_low"], ratio["ci90_high"]
        text += f", CI {low:.2f}-{high:.2f}{' (noise)' if low <= target <= high else ''}"
    return text


CI_NOTE = ("  CI: 90% confidence interval of the median ratio, from the rounds (distribution-free); "
           "'(noise)': it contains the target, so this run cannot tell whether the target is met")


def print_stretch_targets(rows: list[dict[str, Any]], name: str, label: str) -> None:
    """The verdict of each workload's stretch target (no slower than PyTorch) for implementation ``name``."""
    for row in rows:
        stretch, ratio = row["stretch_target_tensorgrad_over_torch"], row["ratios"].get(f"{name}/torch")
        if stretch is not None and ratio is not None:
            print(f"  {row['workload']} stretch target, no slower than PyTorch: {label}/torch "
                  f"{target_text(ratio, stretch)}")


def print_workloads(rows: list[dict[str, Any]], quick: bool) -> None:
    table = []
    for row in rows:
        median, ratios = row["median"], row["ratios"]
        table.append([row["description"], f"{median['tensorgrad']:.3f}", f"{median['numpy']:.3f}",
                      f"{median['torch']:.3f}" if "torch" in median else "-",
                      format_ratio(ratios.get("tensorgrad/numpy")),
                      target_text(ratios.get("tensorgrad/numpy"), row["target_tensorgrad_over_numpy"]),
                      format_ratio(ratios.get("torch/numpy")), format_ratio(ratios.get("tensorgrad/torch"))])
    print(f"\nTraining step, ms/step (median){' -- QUICK RUN, NOISY' if quick else ''}; ratios per round: "
          "median [p10-p90]")
    print(format_table(["workload", "tensorgrad", "numpy", "torch", "tg/numpy", "target", "torch/numpy",
                        "tg/torch"], table))
    print_stretch_targets(rows, "tensorgrad", "tg")
    threaded = [row for row in rows if "tensorgrad-threads/numpy" in row["ratios"]]
    if threaded:
        threads = threaded[0].get("threads", "several")
        print(f"\ntensorgrad on its own {threads} threads (tg.set_num_threads({threads}); BLAS then on one), "
              "same steps, same rounds")
        print(format_table(["workload", "ms/step", "threads/numpy", "target", "threads/torch", "threads/tg"], [[
            row["description"], f"{row['median']['tensorgrad-threads']:.3f}",
            format_ratio(row["ratios"]["tensorgrad-threads/numpy"]),
            target_text(row["ratios"]["tensorgrad-threads/numpy"], row["target_tensorgrad_over_numpy"]),
            format_ratio(row["ratios"].get("tensorgrad-threads/torch")),
            format_ratio(row["ratios"].get("tensorgrad-threads/tensorgrad"))] for row in threaded]))
        print_stretch_targets(threaded, "tensorgrad-threads", "threads")
    unfused = [row for row in rows if "tensorgrad-unfused/numpy" in row["ratios"]]
    if unfused:
        print("\nunfused: tensorgrad with each layer and its activation as two nodes (fuse_activations = False)")
        print(format_table(["workload", "ms/step", "unfused/numpy"], [[
            row["description"], f"{row['median']['tensorgrad-unfused']:.3f}",
            format_ratio(row["ratios"]["tensorgrad-unfused/numpy"])] for row in unfused]))
    print(CI_NOTE)


# --------------------------------------------------------------------------------- scaling
def run_scaling(quick: bool, repeats: int | None) -> dict[str, list[dict[str, Any]]]:
    """tensorgrad/numpy for the W1-style MLP step against batch size and against hidden width."""
    batches, widths = ((1, 16, 256), (64, 512, 2048)) if quick else ((1, 4, 16, 64, 256, 1024),
                                                                     (64, 128, 512, 1024, 2048))
    rounds, block = (repeats or 3, 0.02) if quick else (repeats or 16, 0.1)
    points = {"batch": [(MLPSpec((784, 128, 10)), b) for b in batches],
              "hidden": [(MLPSpec((784, h, 10)), 128) for h in widths]}
    results: dict[str, list[dict[str, Any]]] = {}
    for axis, cases in points.items():
        results[axis] = []
        for spec, batch in cases:
            timing = time_steps(spec, batch, None, rounds, torch=None, block_seconds=block,
                                warmup=1 if quick else 2, threads=False, settle=0.0)  # (2 serial ones: no lead-in)
            results[axis].append({"batch": batch, "hidden": spec.sizes[1], **timing})
            print(f"  {axis} sweep: batch {batch}, hidden {spec.sizes[1]}: tg/numpy "
                  f"{format_ratio(timing['ratios']['tensorgrad/numpy'])}", flush=True)
    return results


def print_scaling(results: dict[str, list[dict[str, Any]]], quick: bool) -> None:
    print(f"\nScaling of the MLP step 784-H-10 ReLU{' -- QUICK RUN, NOISY' if quick else ''}")
    for axis, rows in results.items():
        table = [[row[axis], f"{row['median']['tensorgrad']:.3f}", f"{row['median']['numpy']:.3f}",
                  format_ratio(row["ratios"]["tensorgrad/numpy"]), row["steps_per_block"]] for row in rows]
        fixed = "hidden 128" if axis == "batch" else "batch 128"
        print(format_table([f"{axis} ({fixed})", "tg ms/step", "numpy ms/step", "tg/numpy", "steps/block"], table))


# ------------------------------------------------------------------------------- inference
def run_inference(quick: bool, repeats: int | None, torch: Any) -> dict[str, Any]:
    """no_grad forward of the W1 MLP over 10,000 images in batches of 1,000; ms per pass."""
    spec, images, batch = MLPSpec((784, 128, 10)), (2_000 if quick else 10_000), 1_000
    impls = implementations(spec, torch, threads=False)
    batches = make_batches(spec, batch, images // batch)
    outputs = [np.asarray(impl.predict(impl.prepare(batches[:1])[0][0])) for impl in impls]
    for impl, out in zip(impls[1:], outputs[1:]):
        np.testing.assert_allclose(out, outputs[0], rtol=1e-4, atol=1e-5, err_msg=f"{impl.name} forward")

    def runner(impl: Any) -> Callable[[], float]:
        data = [x for x, _ in impl.prepare(batches)]

        def run() -> float:
            run_for(SETTLE_SECONDS, lambda: impl.predict(data[0]))
            return timed(lambda: [impl.predict(x) for x in data])
        return run
    rounds = repeats or (3 if quick else 24)
    summary = summarise(interleave({impl.name: runner(impl) for impl in impls}, rounds, warmup=2), PAIRS)
    return {"images": images, "batch": batch, "rounds": rounds, "target_tensorgrad_over_numpy": INFERENCE_TARGET,
            **summary}


def print_inference(result: dict[str, Any], quick: bool) -> None:
    median, ratios = result["median"], result["ratios"]
    print(f"\nInference (no_grad forward, MLP 784-128-10, {result['images']} images in batches of "
          f"{result['batch']}), ms per pass{' -- QUICK RUN, NOISY' if quick else ''}")
    print(format_table(["tensorgrad", "numpy", "torch", "tg/numpy", "target", "torch/numpy"], [[
        f"{median['tensorgrad']:.2f}", f"{median['numpy']:.2f}",
        f"{median['torch']:.2f}" if "torch" in median else "-",
        format_ratio(ratios["tensorgrad/numpy"]), target_text(ratios["tensorgrad/numpy"], INFERENCE_TARGET),
        format_ratio(ratios.get("torch/numpy"))]]))


# ---------------------------------------------------------------------------------- memory
def memory_child(impl_name: str, method: str, images: int) -> dict[str, Any]:
    """One epoch of the W1 model over ``images`` random images (batch 128) in this process; the
    extra memory it needed: tracemalloc's peak, or the growth of the peak RSS (ru_maxrss)."""
    spec, batch = MLPSpec((784, 128, 10)), 128
    rng = np.random.default_rng(0)
    x = rng.random((images, 784), dtype=DTYPE)
    y = rng.integers(0, 10, images, dtype=np.int64)
    impl = {"tensorgrad": TensorgradImpl, "numpy": NumpyMLP}[impl_name](spec, initial_weights(spec))
    if method == "tracemalloc":
        tracemalloc.start()
    hwm_reset = reset_peak_rss()
    rss_before = proc_status_kib("VmRSS") if hwm_reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    for start in range(0, images, batch):
        impl.step(x[start:start + batch], y[start:start + batch])
    seconds = time.perf_counter() - started
    if method == "tracemalloc":
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    else:
        # the peak RSS since the reset (VmHWM), above the RSS at the start; ru_maxrss is not reset
        # by clear_refs and still holds the setup's peak (the data, made in float64 first)
        peak_now = proc_status_kib("VmHWM") if hwm_reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        peak = max(peak_now - rss_before, 0) * 1024
    return {"impl": impl_name, "method": method, "peak_bytes": peak, "epoch_seconds": seconds,
            "peak_rss_reset": hwm_reset}


def proc_status_kib(field: str) -> int:
    """A memory figure of this process from /proc/self/status, in KiB (e.g. VmRSS, VmHWM)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def reset_peak_rss() -> bool:
    """Reset the peak RSS to the current RSS (Linux >= 4.0: /proc/self/clear_refs "5"), so the
    setup's transient allocations (the data, the imports) cannot hide the epoch's peak."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
        return True
    except OSError:
        return False


def run_memory(quick: bool) -> dict[str, Any]:
    """memory_child for each implementation and method, each in a fresh Python process."""
    images = 6_400 if quick else 60_000
    results: dict[str, Any] = {"images": images, "batch": 128, "model": "MLP 784-128-10 relu"}
    for method in ("tracemalloc", "rss"):
        for impl in ("tensorgrad", "numpy"):
            command = [sys.executable, __file__, "--memory-child", impl, method, str(images)]
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode:
                raise RuntimeError(f"memory measurement {impl} {method} failed:\n{done.stderr}")
            child = json.loads(done.stdout.strip().splitlines()[-1])
            results.setdefault(method, {})[impl] = child["peak_bytes"]
            results.setdefault("peak_rss_reset", child["peak_rss_reset"])
    for method in ("tracemalloc", "rss"):
        peaks = results[method]
        results[f"{method}_ratio"] = peaks["tensorgrad"] / peaks["numpy"] if peaks["numpy"] else None
    return results


def print_memory(result: dict[str, Any], quick: bool) -> None:
    print(f"\nPeak extra memory of one epoch ({result['images']} images, batch 128, {result['model']})"
          f"{' -- QUICK RUN' if quick else ''}")
    mib = 2.0 ** 20
    rows = [[method, f"{result[method]['tensorgrad'] / mib:.2f}", f"{result[method]['numpy'] / mib:.2f}",
             f"{result[method + '_ratio']:.2f}" if result[method + "_ratio"] else "-"]
            for method in ("tracemalloc", "rss")]
    print(format_table(["measure", "tensorgrad MiB", "numpy MiB", "tg/numpy"], rows))


# ------------------------------------------------------------------------------------ main
def busy_machine(env: dict[str, Any]) -> bool:
    """Whether other work was running: a multi-threaded BLAS then waits for descheduled threads
    and steps can get tens of times slower (seen: W1 73 ms/step instead of ~1.5 ms)."""
    load = env["load_average_1_5_15min"]
    return bool(load) and load[0] > max(0.5, 0.25 * (env["usable_cpus"] or 1))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parts = parser.add_argument_group("parts (all by default; --workloads alone means --steps only)")
    parts.add_argument("--steps", action="store_true", help="time the training step of the workloads")
    parts.add_argument("--scaling", action="store_true", help="tensorgrad/numpy vs batch size and width")
    parts.add_argument("--inference", action="store_true", help="no_grad forward of the MLP")
    parts.add_argument("--memory", action="store_true", help="peak memory of one epoch")
    parser.add_argument("--workloads", nargs="+", choices=sorted(WORKLOADS), metavar="W",
                        help="workloads to time: W1 W2 W3 W4 (default all)")
    parser.add_argument("--repeats", type=int, help="interleaved rounds (default 36 for W1-W4, 16 per "
                                                    "scaling point, 24 for inference)")
    parser.add_argument("--quick", action="store_true", help="few rounds and sizes: a smoke run")
    parser.add_argument("--check", action="store_true", help="only check the baselines (tiny and full sizes)")
    parser.add_argument("--no-torch", action="store_true", help="leave PyTorch out")
    parser.add_argument("--settle", type=float, default=SETTLE_SECONDS,
                        help="untimed steps before each timed block of the workloads, seconds (default %(default)s)")
    parser.add_argument("--unfused", action="store_true",
                        help="also time tensorgrad without fused layer+activation nodes")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="results folder (default %(default)s)")
    parser.add_argument("--memory-child", nargs=3, metavar=("IMPL", "METHOD", "IMAGES"),
                        help=argparse.SUPPRESS)  # internal: one measurement of run_memory
    args = parser.parse_args(argv)
    flagged = [p for p in ("steps", "scaling", "inference", "memory") if getattr(args, p)]
    args.parts = flagged or (["steps"] if args.workloads else ["steps", "scaling", "inference", "memory"])
    args.workloads = args.workloads or list(WORKLOADS)
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.memory_child:
        impl, method, images = args.memory_child
        print(json.dumps(memory_child(impl, method, int(images))))
        return
    torch = import_torch(not args.no_torch)
    self_check(torch, full_size=args.check)
    if args.check:
        return
    results: dict[str, Any] = {"quick": args.quick, "parts": args.parts, "lr": LR, "dtype": "float32",
                               "environment": environment(torch)}
    env = results["environment"]
    print(f"numpy {env['numpy']} ({env['numpy_blas_threads']} BLAS threads), torch {env['torch']} "
          f"({env['torch_threads']} threads), {env['cpu_model']}, load {env['load_average_1_5_15min']}")
    if busy_machine(env):
        results["warning"] = "the machine was busy when the run started: timings are unreliable"
        print(f"WARNING: {results['warning']} (load average {env['load_average_1_5_15min'][0]:.1f} "
              f"on {env['usable_cpus']} CPUs)")
    if "steps" in args.parts:
        results["workloads"] = run_workloads(args.workloads, args.quick, args.repeats, torch, args.unfused, args.settle)
        print_workloads(results["workloads"], args.quick)
    if "scaling" in args.parts:
        results["scaling"] = run_scaling(args.quick, args.repeats)
        print_scaling(results["scaling"], args.quick)
    if "inference" in args.parts:
        results["inference"] = run_inference(args.quick, args.repeats, torch)
        print_inference(results["inference"], args.quick)
    if "memory" in args.parts:
        results["memory"] = run_memory(args.quick)
        print_memory(results["memory"], args.quick)
    stem = "speed-quick" if args.quick else "speed"
    paths = save_results(results, stem, args.out, latest=not args.quick)
    print("\nwrote " + ", ".join(str(p) for p in paths))


if __name__ == "__main__":
    main()
