"""BatchNorm's training step (forward and backward, then a ReLU) three ways, on one core: the one
node BatchNorm1d/2d train with, the same numbers as separate ops (as they trained before it), and
PyTorch.

    python benchmarks/batch_norm.py               # 30 rounds of the three shapes
    python benchmarks/batch_norm.py --rounds 20 --no-torch
    python benchmarks/batch_norm.py --quick       # smoke run: 3 rounds, blocks of one call

Implementations timed, each a forward pass and ``.backward(g)`` with the same g:

    one-node    F.batch_norm(x, running_mean, running_var, w, b, training=True, activation="relu"):
                ops/normalize.py's BatchNorm, the batch norm and the ReLU in one node
    plain       Normalize.apply(x, axes) * w.reshape(1, C, 1, 1) + b.reshape(1, C, 1, 1), .relu(),
                the running statistics moved in NumPy (x.data.mean, x.data.var): the code
                BatchNorm1d/2d trained with before the one node, the plain reference beside it
    torch       torch.nn.functional.batch_norm(..., training=True) then torch.relu (if PyTorch is
                installed; --no-torch leaves it out)

Shapes: the FastCNN recipe's three BatchNorms at batch 128, float32: (128, 16, 28, 28) and
(128, 32, 14, 14) after its convolutions, stored channels-last in memory as a convolution's output
is (and g alike), and (128, 128) after its hidden Linear layer.

Everything runs on one thread, for a like-for-like comparison: tensorgrad with
tg.set_num_threads(1) and NumPy's BLAS held at one thread (the one node's statistics are BLAS
matrix-vector products), PyTorch with torch.set_num_threads(1).

Method: each implementation is warmed up, then ``--rounds`` rounds, in each of which every
implementation times one block of ``--block`` calls (seconds per call), in the balanced orders of
_common.py (each implementation follows each other one equally often: what ran just before a block
changes its time). Reported per shape: the median ms per forward+backward of each, and the
ratios one-node/plain and one-node/torch taken within each round, as median [10th-90th percentile].

Results: a printed table and benchmarks/results/batch_norm-<date>.json (and batch_norm-latest.json;
--quick writes batch_norm-quick-<date>.json only, so a smoke run never replaces the real figures).
tests/benchmarks/test_batch_norm_benchmark.py checks that one-node and plain compute the same.
"""
from __future__ import annotations

import argparse
import contextlib
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    add_run_options, environment, format_ratio, format_table, interleave, save_results, summarise,
)
from baselines.torch_step import import_torch  # noqa: E402

import tensorgrad as tg  # noqa: E402
import tensorgrad.nn.functional as F  # noqa: E402
from tensorgrad.ops.normalize import Normalize  # noqa: E402
from tensorgrad.speed import parallel  # noqa: E402

#: the FastCNN recipe's BatchNorms at batch 128: after conv1, after conv2, after the hidden Linear
SHAPES: tuple[tuple[int, ...], ...] = ((128, 16, 28, 28), (128, 32, 14, 14), (128, 128))
MOMENTUM = 0.1
#: the ratios reported, (numerator, denominator)
PAIRS = (("one-node", "plain"), ("one-node", "torch"))


# ------------------------------------------------------------------------------ the inputs
def channels_last(a: np.ndarray) -> np.ndarray:
    """An (N, C, H, W) array with the channels fastest in memory, as a convolution's output; 2-D as is."""
    return np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2) if a.ndim == 4 else a


@dataclass
class Case:
    """One shape's arrays: the input, the output gradient, the scale and shift."""
    x: np.ndarray
    g: np.ndarray
    weight: np.ndarray
    bias: np.ndarray


def make_case(shape: tuple[int, ...], dtype: Any = np.float32, seed: int = 0) -> Case:
    """Random inputs for ``shape``: a scale near 1 and a small shift, so about half the ReLU passes."""
    rng = np.random.default_rng(seed)
    C = shape[1]
    # x off-centre and wider than 1: the normalization has something to do
    x = channels_last((2.0 * rng.standard_normal(shape) + 0.5).astype(dtype))
    g = channels_last(rng.standard_normal(shape).astype(dtype))
    weight = (1.0 + 0.2 * rng.standard_normal(C)).astype(dtype)
    bias = (0.1 * rng.standard_normal(C)).astype(dtype)
    return Case(x, g, weight, bias)


# ------------------------------------------------------------------ the two tensorgrad forwards
def one_node(x: tg.Tensor, weight: tg.Tensor, bias: tg.Tensor, running_mean: np.ndarray,
             running_var: np.ndarray) -> tg.Tensor:
    """relu(batch_norm(x)·w + b) as BatchNorm1d/2d train now: one node (running stats in place)."""
    return F.batch_norm(x, running_mean, running_var, weight, bias, training=True, momentum=MOMENTUM,
                        activation="relu")


def plain_reference(x: tg.Tensor, weight: tg.Tensor, bias: tg.Tensor, running_mean: np.ndarray,
                    running_var: np.ndarray) -> tg.Tensor:
    """The same as separate ops, and the running statistics in NumPy, as _BatchNorm.forward did
    before the one node (commit 96d69f8's parent)."""
    C = x.shape[1]
    axes = (0,) + tuple(range(2, x.ndim))   # every axis but the channels
    shape = (1, C) + (1,) * (x.ndim - 2)
    count = x.data.size // C
    normalized = Normalize.apply(x, axes=axes)
    mean = x.data.mean(axis=axes)
    var = x.data.var(axis=axes)
    running_mean[...] = (1 - MOMENTUM) * running_mean + MOMENTUM * mean
    running_var[...] = (1 - MOMENTUM) * running_var + MOMENTUM * var * count / (count - 1)
    return (normalized * weight.reshape(shape) + bias.reshape(shape)).relu()


TENSORGRAD_FORWARDS: dict[str, Callable[..., tg.Tensor]] = {"one-node": one_node, "plain": plain_reference}


# ---------------------------------------------------------------------------------- the steps
class TensorgradStep:
    """One forward+backward of ``forward`` on the case per call, returning the output. The leaves'
    gradients are forgotten first (as zero_grad does), so every call does the same work; the
    running statistics move at every call, as in training."""

    def __init__(self, forward: Callable[..., tg.Tensor], case: Case) -> None:
        self.forward, self.g = forward, case.g
        self.x = tg.tensor(case.x, requires_grad=True)   # (a copy that keeps the channels-last strides)
        self.weight = tg.tensor(case.weight, requires_grad=True)
        self.bias = tg.tensor(case.bias, requires_grad=True)
        C = case.x.shape[1]
        self.running_mean, self.running_var = np.zeros(C, case.x.dtype), np.ones(C, case.x.dtype)

    def __call__(self) -> tg.Tensor:
        self.x.grad = self.weight.grad = self.bias.grad = None
        y = self.forward(self.x, self.weight, self.bias, self.running_mean, self.running_var)
        y.backward(self.g)
        return y


def torch_step(torch: Any, case: Case) -> Callable[[], Any]:
    """The same in PyTorch: F.batch_norm (training) then torch.relu, backward with the same g."""
    # from_numpy keeps the strides: x and g are channels-last in PyTorch too
    x = torch.from_numpy(case.x.copy(order="K")).requires_grad_(True)
    g = torch.from_numpy(case.g.copy(order="K"))
    weight = torch.from_numpy(case.weight.copy()).requires_grad_(True)
    bias = torch.from_numpy(case.bias.copy()).requires_grad_(True)
    C = case.x.shape[1]
    running_mean, running_var = torch.zeros(C, dtype=x.dtype), torch.ones(C, dtype=x.dtype)

    def step() -> Any:
        x.grad = weight.grad = bias.grad = None
        y = torch.relu(torch.nn.functional.batch_norm(x, running_mean, running_var, weight, bias, training=True,
                                                      momentum=MOMENTUM))
        y.backward(g)
        return y
    return step


def block(step: Callable[[], Any], calls: int) -> Callable[[], float]:
    """A runner for _common.interleave: ``calls`` back-to-back steps, seconds per step."""
    def run() -> float:
        start = time.perf_counter()
        for _ in range(calls):
            step()
        return (time.perf_counter() - start) / calls
    return run


@contextlib.contextmanager
def one_core(torch: Any) -> Iterator[None]:
    """Everything on one thread for the block: tensorgrad (tg.set_num_threads(1)), NumPy's BLAS
    (else the one node's matrix-vector products would have two cores where PyTorch has one) and
    PyTorch. Restores all three after (the tests run main in their process)."""
    with contextlib.ExitStack() as stack:
        stack.enter_context(parallel.num_threads(1))
        try:
            from threadpoolctl import threadpool_limits
            stack.enter_context(threadpool_limits(limits=1, user_api="blas"))
        except ImportError:  # then BLAS keeps its threads: the environment's numpy_blas_threads says so
            pass
        if torch is not None:
            before = torch.get_num_threads()
            torch.set_num_threads(1)
            stack.callback(torch.set_num_threads, before)
        yield


# ------------------------------------------------------------------------------ measuring
def shape_name(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape))


def measure(shape: tuple[int, ...], rounds: int, calls: int, torch: Any, warmup: int = 2) -> dict[str, Any]:
    """Every implementation on ``shape``, interleaved for ``rounds`` rounds: medians and ratios."""
    case = make_case(shape)
    steps: dict[str, Callable[[], Any]] = {name: TensorgradStep(forward, case)
                                           for name, forward in TENSORGRAD_FORWARDS.items()}
    if torch is not None:
        steps["torch"] = torch_step(torch, case)
    times = interleave({name: block(step, calls) for name, step in steps.items()}, rounds, warmup=warmup)
    result = summarise(times, [pair for pair in PAIRS if pair[1] in steps])
    return {"shape": list(shape), "dtype": str(case.x.dtype), "layout": "channels-last" if len(shape) == 4 else "rows",
            "calls_per_block": calls, "rounds": rounds, "ms_per_call": result["median"],
            "ratios": result["ratios"], "per_round_ms": result["per_round"]}


def print_results(results: dict[str, dict[str, Any]], names: list[str]) -> None:
    """A row per shape: median ms of each implementation, then the per-round ratios."""
    ratio_names = [f"{a}/{b}" for a, b in PAIRS if b in names]
    headers = ["shape"] + [f"{name} ms" for name in names] + [f"{ratio} [p10-p90]" for ratio in ratio_names]
    rows = [[shape] + [f"{result['ms_per_call'][name]:.3f}" for name in names] +
            [format_ratio(result["ratios"].get(ratio)) for ratio in ratio_names]
            for shape, result in results.items()]
    print(format_table(headers, rows))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--block", type=int, default=5, help="calls per timed block (default %(default)s)")
    add_run_options(parser, quick="3 rounds, blocks of one call: a smoke run")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    rounds, calls = (3, 1) if args.quick else (args.rounds, args.block)
    torch = import_torch(not args.no_torch)
    names = list(TENSORGRAD_FORWARDS) + (["torch"] if torch is not None else [])
    with one_core(torch):
        env = environment(torch)   # inside: records the one thread of each
        print(f"numpy {np.__version__}, torch {env['torch']}, {env['cpu_model']}, one thread each, "
              f"load {env['load_average_1_5_15min']}")
        print(f"BatchNorm + ReLU, forward + backward, ms per call (median of {rounds} rounds of {calls} calls); "
              "ratios per round: median [p10-p90]")
        shapes = {shape_name(shape): measure(shape, rounds, calls, torch, warmup=1 if args.quick else 2)
                  for shape in SHAPES}
    print_results(shapes, names)
    results = {"environment": env, "implementations": names, "shapes": shapes}
    paths = save_results(results, "batch_norm-quick" if args.quick else "batch_norm", args.out, latest=not args.quick)
    print("\nwrote " + ", ".join(map(str, paths)))


if __name__ == "__main__":
    main()
