"""The training step in PyTorch on the CPU: the same loop as tensorgrad's, for a reference point
from a framework with compiled kernels.

    optimizer.zero_grad()                           # forget the last step's gradients
    loss = F.cross_entropy(model(x), labels)        # forward: logits, mean softmax cross-entropy
    loss.backward()                                 # autograd: d loss/d every parameter
    optimizer.step()                                # SGD: p −= lr·dp

Nothing of the backward pass is written here: autograd computes the same gradients as the
hand-written NumPy steps (numpy_mlp.py and numpy_cnn.py spell them out). The model is the
``torch.nn.Sequential`` that speed.build_sequential builds from the spec with the same code as
tensorgrad's, so the layers, their parameters' order and their layouts are the same; it starts
from the weights the other implementations start from.

PyTorch runs with as many threads as NumPy's BLAS (the thread count the other implementations
get) and otherwise with its own defaults, as its users run it.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from _common import numpy_blas_threads  # benchmarks/, on the path (speed.py and the tests put it there)

from .specs import LR


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
    """The same loop in PyTorch (CPU), on ``model`` (a torch.nn.Module, see speed.build_sequential)
    whose parameters are set to ``weights`` (PyTorch's order and layouts, as initial_weights)."""
    name = "torch"

    def __init__(self, model: Any, weights: list[np.ndarray], lr: float = LR) -> None:
        import torch
        self.torch = torch
        self.model = model
        with torch.no_grad():
            for param, value in zip(self.model.parameters(), weights, strict=True):
                param.copy_(torch.from_numpy(value))
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=lr)

    def prepare(self, batches: list) -> list:
        # tensors that share the arrays' memory (no copy), made once, outside the timed steps
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
