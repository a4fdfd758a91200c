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

    tensorgrad          nn.Sequential of its layers, F.cross_entropy, optim.SGD, zero_grad/backward/step;
                        serial, BLAS on NumPy's threads (tg.set_num_threads(1))
    numpy               forward and backward written by hand (baselines/numpy_mlp.py, numpy_cnn.py)
    torch               the same nn.Sequential in PyTorch, torch.set_num_threads = NumPy's BLAS threads
                        (baselines/torch_step.py)
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
from typing import Any, Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402  (after the path set-up above)
    RESULTS_DIR, environment, format_ratio, format_table, interleave, numpy_blas_threads, run_for,
    save_results, summarise, timed,
)
# the baselines: hand-written NumPy steps (the floor) and PyTorch's, and the specs all steps share
from baselines.numpy_cnn import NumpyCNN  # noqa: E402
from baselines.numpy_mlp import NumpyMLP  # noqa: E402
from baselines.specs import DTYPE, LR, CNNSpec, MLPSpec, initial_weights, make_batches  # noqa: E402
from baselines.torch_step import TorchImpl, import_torch  # noqa: E402

import tensorgrad as tg  # noqa: E402
import tensorgrad.nn.functional as tgF  # noqa: E402
from tensorgrad import nn as tgnn, optim as tgoptim  # noqa: E402

PAIRS = (("tensorgrad", "numpy"), ("tensorgrad-unfused", "numpy"), ("tensorgrad-threads", "numpy"),
         ("torch", "numpy"), ("tensorgrad", "torch"), ("tensorgrad-threads", "torch"),
         ("tensorgrad-threads", "tensorgrad"))
#: untimed steps before every timed block, for this long: the block is then timed as in a training
#: run, where one implementation runs alone. They outlast OpenBLAS's threads, which spin for
#: ~0.1 s after each multi-threaded product (2**28 cycles) on the cores that the next block's
#: threads need (measured, W4: tensorgrad on 2 threads 0.94 of the NumPy step right after NumPy's
#: blocks, 0.73-0.86 after a pause of 0.12-0.3 s), and they bring the block's own data into cache.
SETTLE_SECONDS = 0.15


# --------------------------------------------------------------------------- the workloads
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


def batch_pool(batch: int) -> int:
    """How many distinct batches a timed block cycles through (512 samples at batch 1)."""
    return max(4, min(512, 512 // batch))


# ------------------------------------------------------------- the model of tensorgrad and torch
def build_sequential(nn: Any, spec: MLPSpec | CNNSpec) -> Any:
    """The model as ``nn.Sequential``; ``nn`` is tensorgrad.nn or torch.nn (same names): the one
    place where tensorgrad's model (TensorgradImpl and its variants below) and PyTorch's
    (``implementations``, for baselines.torch_step.TorchImpl) are built."""
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
        if hasattr(self.model, "fuse"):  # as the recipes train (profile_step.py may load an older checkout)
            self.model.fuse()
        for param, value in zip(self.model.parameters(), weights, strict=True):
            np.copyto(param.data, value)
        self.optimizer = self.optim.SGD(self.model.parameters(), lr=lr)

    def prepare(self, batches: list) -> list:
        return batches  # takes NumPy arrays, as its DataLoader yields them

    def session(self) -> contextlib.AbstractContextManager:
        """Serial, BLAS on its own threads, as the NumPy baseline: the threads fixed, not left to
        tensorgrad's "auto" (which is this for an MLP and tensorgrad-threads for a CNN)."""
        parallel = getattr(self.package, "parallel", None)  # (an older checkout may have none)
        return parallel.num_threads(1) if parallel is not None else contextlib.nullcontext()

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
    """The same without ``model.fuse()``: each module its own graph node, as a model runs by
    default (the plain reference beside the fused fast path): what the fused nodes are worth."""
    name = "tensorgrad-unfused"

    def __init__(self, spec: MLPSpec | CNNSpec, weights: list[np.ndarray], lr: float = LR) -> None:
        super().__init__(spec, weights, lr)
        if hasattr(self.model, "fuse"):
            self.model.fuse(False)
        else:  # an older checkout (profile_step.py versus), fused by default
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


# ------------------------------------------------------------------------ the implementations
def numpy_impl(spec: MLPSpec | CNNSpec, weights: list[np.ndarray], lr: float = LR) -> NumpyMLP | NumpyCNN:
    """The hand-written NumPy step for ``spec`` (baselines/numpy_mlp.py or numpy_cnn.py)."""
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
        impls.append(TorchImpl(build_sequential(torch.nn, spec), weights, lr))
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


# ------------------------------------------------------------------------------ GEMM floor
def step_products(spec: MLPSpec | CNNSpec, batch: int) -> list[tuple[int, int, int]]:
    """The matrix products (m, k, n) of one training step written as im2col does it: each layer's
    forward, weight gradient and (but for the first layer, on the data) input gradient."""
    def three(m: int, k: int, n: int, first: bool) -> list[tuple[int, int, int]]:
        return [(m, k, n), (k, m, n)] + ([] if first else [(m, n, k)])
    if isinstance(spec, MLPSpec):
        return [p for i, (a, b) in enumerate(zip(spec.sizes, spec.sizes[1:])) for p in three(batch, a, b, i == 0)]
    (c1, c2), side1 = spec.channels, spec.image - 2
    side2 = side1 - 2
    return (three(batch * side1 ** 2, 9, c1, True) + three(batch * side2 ** 2, 9 * c1, c2, False)
            + three(batch, spec.flat, spec.hidden, False) + three(batch, spec.hidden, spec.classes, False))


def gemm_rate(threads: int | None, size: int = 2048, repeats: int = 5) -> float:
    """This machine's float32 matrix product speed, GFLOP/s: the median of ``repeats`` products of
    two size×size matrices with NumPy's BLAS on ``threads`` threads (None: as it is)."""
    from threadpoolctl import threadpool_limits

    a = np.random.default_rng(0).standard_normal((size, size), dtype=np.float32)
    with threadpool_limits(limits=threads, user_api="blas") if threads else contextlib.nullcontext():
        a @ a
        seconds = [timed(lambda: a @ a) for _ in range(repeats)]
    return 2 * size ** 3 / float(np.median(seconds)) / 1e9


def gemm_floor(spec: MLPSpec | CNNSpec, batch: int, rate: float) -> dict[str, float]:
    """The step's matrix products at ``rate`` GFLOP/s: the time no implementation of the same
    algorithm can beat on this machine (the element-wise work, im2col copies and Python cost
    come on top)."""
    gflop = sum(2 * m * k * n for m, k, n in step_products(spec, batch)) / 1e9
    return {"gflop": gflop, "gemm_gflops": rate, "floor_ms": 1e3 * gflop / rate}


def run_workloads(names: list[str], quick: bool, repeats: int | None, torch: Any,
                  unfused: bool = False, settle: float = SETTLE_SECONDS) -> list[dict[str, Any]]:
    rows = []
    rate = gemm_rate(numpy_blas_threads())  # on the threads every implementation uses
    for name in names:
        workload = WORKLOADS[name]
        steps = max(1, workload.steps // 2) if quick else workload.steps
        rounds = repeats or (3 if quick else workload.rounds)
        print(f"  {workload.describe()}: {rounds} rounds of {steps} step(s) ...", flush=True)
        result = time_steps(workload.model, workload.batch, steps, rounds, torch, warmup=1 if quick else 2,
                            unfused=unfused, settle=settle)
        rows.append({"workload": name, "description": workload.describe(), "batch": workload.batch,
                     "model": asdict(workload.model), "target_tensorgrad_over_numpy": workload.target,
                     "stretch_target_tensorgrad_over_torch": workload.stretch,
                     "gemm_floor": gemm_floor(workload.model, workload.batch, rate), **result})
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
    print_gemm_floor(rows)
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
        print("\nunfused: tensorgrad without model.fuse(), each module its own node (the default)")
        print(format_table(["workload", "ms/step", "unfused/numpy"], [[
            row["description"], f"{row['median']['tensorgrad-unfused']:.3f}",
            format_ratio(row["ratios"]["tensorgrad-unfused/numpy"])] for row in unfused]))
    print(CI_NOTE)


def print_gemm_floor(rows: list[dict[str, Any]]) -> None:
    """Per workload: the step's matrix products at the machine's GEMM speed, and the fraction of
    that floor each implementation reaches (floor / its step time)."""
    rows = [row for row in rows if "gemm_floor" in row]  # (results written before it was measured have none)
    if not rows:
        return
    rate = rows[0]["gemm_floor"]["gemm_gflops"]
    print(f"\nGEMM floor: the step's matrix products (im2col) at {rate:.0f} GFLOP/s (a 2048x2048 float32 "
          "product on the same threads); the fraction of it each step reaches")
    names = [name for name in ("tensorgrad", "tensorgrad-threads", "numpy", "torch") if name in rows[0]["median"]]
    print(format_table(["workload", "GFLOP", "floor ms"] + names, [
        [row["description"], f"{row['gemm_floor']['gflop']:.3g}", f"{row['gemm_floor']['floor_ms']:.3g}"]
        + [f"{row['gemm_floor']['floor_ms'] / row['median'][name]:.2f}" for name in names] for row in rows]))


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
    # malloc keeps freed memory for the next step, as the `tensorgrad` command sets it (process-wide:
    # the NumPy and PyTorch steps run with the same allocator settings)
    tg.memory.keep_freed_memory()
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
