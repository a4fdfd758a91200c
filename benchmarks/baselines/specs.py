"""What every implementation's training step is built from: the model specs, the learning rate and
dtype, the starting weights (the same for all of them) and the random batches they are fed.

Shared by the baselines of this package and by benchmarks/speed.py (which builds tensorgrad's and
PyTorch's models from the same specs); it imports nothing of either.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LR = 0.01          # plain SGD: p -= LR·dp
DTYPE = np.float32


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
