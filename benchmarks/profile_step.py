"""Where a training step's time goes: tensorgrad against the hand-written NumPy step of baselines/.

    python benchmarks/profile_step.py phases W3           # µs per phase: zero_grad, model, loss, backward, update
    python benchmarks/profile_step.py overhead            # a tiny 4-4-2 MLP step: pure per-step Python cost
    python benchmarks/profile_step.py ratio W1            # the whole step, tensorgrad/numpy per round
    python benchmarks/profile_step.py ratio W1 --tensorgrad /tmp/old   # the same with another checkout
    python benchmarks/profile_step.py versus /tmp/old W4  # this tensorgrad and /tmp/old's, interleaved
    python benchmarks/profile_step.py ops W1              # tensorgrad's op code alone, without the framework
    python benchmarks/profile_step.py ops tiny            # the same for the tiny step: the framework's own cost
    python benchmarks/profile_step.py layers              # the CNN (W4) layer by layer against the NumPy step's parts
    python benchmarks/profile_step.py instructions        # CPU instructions per tiny step (valgrind): repeatable
    python benchmarks/profile_step.py carryover W1        # a block's time right after each other implementation

``--tensorgrad DIR`` imports tensorgrad from the source tree DIR (e.g. ``git worktree add /tmp/old
REV``), so a change can be compared with an earlier commit on the same machine, one after the
other. ``versus DIR`` runs both versions in one process, interleaved round by round with NumPy:
the machine's speed drifts (the NumPy W1 step took from 0.59 to 1.56 ms within one hour), and
only a comparison within each round cancels that. ``ops`` (MLP workloads) runs the
same step by calling tensorgrad's op classes directly on arrays -- forward, backward, the SGD
formula -- with no Tensor, graph, engine, module or optimizer: it splits the gap to NumPy into
the ops' own code (ops-only/numpy) and the framework around them (tensorgrad/ops-only).
``layers`` times, inside whole steps of the CNN that alternate with the NumPy step's, each node's
forward and backward and the optimizer's step, and the matching parts of the NumPy step; it
prints their medians and the median of each pair's per-step difference. ``carryover`` times
tensorgrad's and NumPy's blocks of steps right after a block of each other implementation
(PyTorch included when installed), all pairs in shuffled order: what ran just before changes a
block's time (a W1 block took 7-11% longer right after PyTorch's), which is why speed.py runs its
implementations in balanced orders. These are profiling aids that print; the targets are
measured by speed.py.

``instructions`` counts the CPU instructions of one step of the tiny 4-4-2 MLP (the per-step
Python cost, nearly all of it) with valgrind's callgrind, for tensorgrad and NumPy (and with
``--tensorgrad DIR`` for that tree). Unlike a timing it repeats to within a few hundred
instructions whatever else the machine does, so it can resolve a change of 1% of the overhead;
it cannot see memory effects, which only a timing shows. Each count is the difference of two runs
(0 and ``--steps`` steps after the same warm-up), with one BLAS thread, a fixed hash seed and,
where ``setarch`` exists, no address randomisation.
"""
from __future__ import annotations

import argparse
import importlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["phases", "overhead", "ratio", "versus", "ops", "layers",
                                         "instructions", "carryover"])
    parser.add_argument("arguments", nargs="*", metavar="[DIR] WORKLOAD",
                        help="W1-W4 (default W1); versus takes the other source tree first; versus and ops "
                             "also take tiny (the 4-4-2 MLP of overhead)")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--tensorgrad", metavar="DIR", help="import tensorgrad from this source tree")
    parser.add_argument("--steps", type=int, default=300, help="instructions: steps counted (default 300)")
    parser.add_argument("--count-child", nargs=2, metavar=("IMPL", "STEPS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    versus = args.what == "versus"
    if (versus and not args.arguments) or len(args.arguments) > (2 if versus else 1):
        parser.error(f"{args.what} takes {'DIR [WORKLOAD]' if versus else '[WORKLOAD]'}")
    args.other = args.arguments.pop(0) if versus else None
    args.workload = args.arguments[0] if args.arguments else "W1"
    known = ("W1", "W2", "W3", "W4") + (("tiny",) if args.what in ("versus", "ops") else ())
    if args.what not in ("overhead", "instructions", "layers") and args.workload not in known:
        parser.error(f"{args.what}: unknown workload {args.workload!r}, expected one of {', '.join(known)}")
    return args


def tiny_workload(speed):
    """A 4-4-2 MLP at batch 2: its arrays are so small that a step's time is nearly all Python."""
    return speed.Workload("tiny", speed.MLPSpec((4, 4, 2)), batch=2, steps=2000, rounds=25)


def import_speed(tensorgrad_dir: str | None):
    """benchmarks/speed.py, with tensorgrad imported from ``tensorgrad_dir`` when given."""
    if tensorgrad_dir:
        sys.path.insert(0, str(Path(tensorgrad_dir).resolve()))
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import speed
    import tensorgrad
    print(f"tensorgrad from {Path(tensorgrad.__file__).parent}")
    if tensorgrad_dir and not tensorgrad.__file__.startswith(str(Path(tensorgrad_dir).resolve())):
        sys.exit(f"could not import tensorgrad from {tensorgrad_dir}")
    return speed


def phases(speed, workload: str, rounds: int) -> None:
    """Mean µs of each phase of the step, per round of 300 steps (NumPy does its loss inside backward)."""
    spec, batch = speed.WORKLOADS[workload].model, speed.WORKLOADS[workload].batch
    steps = 20 if isinstance(spec, speed.CNNSpec) else 300
    weights = speed.initial_weights(spec)
    batches = speed.make_batches(spec, batch, 10)
    tg, npi = speed.TensorgradImpl(spec, weights), speed.numpy_impl(spec, weights)
    loss_fn = speed.tgF.cross_entropy

    def tg_phases(x, y):
        t0 = time.perf_counter()
        tg.optimizer.zero_grad()
        t1 = time.perf_counter()
        z = tg.model(x)
        t2 = time.perf_counter()
        loss = loss_fn(z, y)
        t3 = time.perf_counter()
        loss.backward()
        t4 = time.perf_counter()
        tg.optimizer.step()
        return t1 - t0, t2 - t1, t3 - t2, t4 - t3, time.perf_counter() - t4

    def np_phases(x, y):
        t1 = time.perf_counter()
        npi.forward(x)
        t2 = time.perf_counter()
        npi.backward(x, y)
        t3 = time.perf_counter()
        npi.update()
        return 0.0, t2 - t1, 0.0, t3 - t2, time.perf_counter() - t3

    print(f"{workload}, µs per step: zero_grad / model / loss / backward / update")
    for impl in (tg, npi):
        for x, y in batches:
            impl.step(x, y)
    for _ in range(rounds):
        row = []
        for name, measure in (("tensorgrad", tg_phases), ("numpy", np_phases)):
            total = np.zeros(5)
            for i in range(steps):
                total += measure(*batches[i % len(batches)])
            row.append(f"{name} {(total / steps * 1e6).round().astype(int).tolist()}")
        print("   ".join(row))


# The CNN's layers: (label, tensorgrad's timed pieces, the NumPy step's). A piece is a node's name
# and "forward" or "backward", or "optimizer"; the NumPy step's pieces are its methods. The NumPy
# step masks the first ReLU inside the second conv's backward, so compare those two rows together.
CNN_LAYERS = [
    ("conv1+relu forward", [("conv2d+relu", "forward")], ["conv1.forward"]),
    ("conv2+relu+pool forward", [("conv2d+relu+max_pool2d", "forward")], ["conv2.forward"]),
    ("flatten forward", [("reshape", "forward")], []),
    ("dense layers + loss, both ways", [("linear+relu", "forward"), ("linear", "forward"), ("cross_entropy", "forward"),
                                        ("cross_entropy", "backward"), ("linear", "backward"), ("linear+relu", "backward")],
     ["head.forward", "head.backward"]),
    ("flatten backward", [("reshape", "backward")], []),
    ("conv2+relu+pool backward", [("conv2d+relu+max_pool2d", "backward")], ["conv2.backward"]),
    ("conv1+relu backward", [("conv2d+relu", "backward")], ["conv1.backward"]),
    ("SGD update", [("optimizer", "step")], ["update"]),
]


def layers(speed, rounds: int) -> None:
    """Per-layer ms of the CNN step (W4), tensorgrad's nodes against the NumPy step's parts, timed
    inside whole steps that alternate between the two (see CNN_LAYERS)."""
    workload = speed.WORKLOADS["W4"]
    weights = speed.initial_weights(workload.model)
    batches = speed.make_batches(workload.model, workload.batch, 4)
    tg, npi = speed.TensorgradImpl(workload.model, weights), speed.numpy_impl(workload.model, weights)
    spent: dict[tuple[str, str], float] = {}  # this step's seconds per piece

    def timed(function, key=None):
        """``function``, adding its time to ``spent[key]``; with no key it is an op's forward or
        backward, keyed by its node's name (a fused node's says what it fused) and its own name."""
        def run(*args, **kwargs):
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                piece = key or (args[0].name, function.__name__)
                spent[piece] = spent.get(piece, 0.0) + time.perf_counter() - started
        return run

    originals = {op: (op.forward, op.backward) for op in {type(node) for node in _cnn_nodes(tg, batches[0])}}
    for op, (forward, backward) in originals.items():
        op.forward, op.backward = timed(forward), timed(backward)
    tg.optimizer.step = timed(tg.optimizer.step, ("optimizer", "step"))
    for name in ("conv1.forward", "conv2.forward", "head.forward", "head.backward", "conv1.backward",
                 "conv2.backward", "update"):
        owner = npi
        *path, method = name.split(".")
        for attribute in path:
            owner = getattr(owner, attribute)
        setattr(owner, method, timed(getattr(owner, method), ("numpy", name)))

    rows: dict[str, list[tuple[float, float]]] = {label: [] for label, _, _ in CNN_LAYERS}
    try:
        for i in range(rounds + 2):  # two warm-up steps each
            x, y = batches[i % len(batches)]
            spent.clear()
            npi.step(x, y)
            tg.step(x, y)
            if i >= 2:
                for label, tg_pieces, np_pieces in CNN_LAYERS:
                    rows[label].append((sum(spent.get(piece, 0.0) for piece in tg_pieces),
                                        sum(spent.get(("numpy", piece), 0.0) for piece in np_pieces)))
    finally:
        for op, (forward, backward) in originals.items():
            op.forward, op.backward = forward, backward
    print(f"W4 layer by layer, ms (medians of {rounds} steps each, alternating)")
    print(f"{'layer':32s} {'tensorgrad':>10s} {'numpy':>8s} {'tg - numpy':>10s}")
    for label, pairs in rows.items():
        times = np.array(pairs) * 1e3
        print(f"{label:32s} {np.median(times[:, 0]):10.3f} {np.median(times[:, 1]):8.3f} "
              f"{np.median(times[:, 0] - times[:, 1]):+10.3f}")


def _cnn_nodes(tg, batch) -> list:
    """The op nodes of one CNN training step of ``tg`` (a TensorgradImpl): the engine's own walk of
    the graph from the loss (the nodes whose consumers backward counts)."""
    x, y = batch
    loss = tg.functional.cross_entropy(tg.model(tg.package.tensor(x)), y)
    return list(tg.package.autograd.reverse_topological_order(loss.grad_fn))


def step_ratio(speed, spec, batch: int, steps: int, rounds: int, label: str, other: type | None = None) -> None:
    """Whole steps, tensorgrad (and ``other``, an implementation class) and NumPy interleaved:
    medians and the median per-round ratios."""
    weights = speed.initial_weights(spec)
    batches = speed.make_batches(spec, batch, 10)
    impls = [speed.TensorgradImpl(spec, weights), speed.numpy_impl(spec, weights)]
    pairs = [("tensorgrad", "numpy")]
    if other is not None:
        impls.append(other(spec, weights))
        pairs += [(other.name, "numpy"), ("tensorgrad", other.name)]
    runners = {impl.name: speed.step_block(impl, batches, steps) for impl in impls}
    summary = speed.summarise(speed.interleave(runners, rounds, warmup=2), pairs)
    times = ", ".join(f"{name} {seconds * 1e3:.1f}" for name, seconds in summary["median"].items())
    print(f"{label}: µs per step {times}")
    for pair in pairs:
        print(f"  {'/'.join(pair)} {speed.format_ratio(summary['ratios']['/'.join(pair)])}")


class OpsOnlyMLP:
    """The MLP training step made of tensorgrad's op code alone: each op's forward and backward
    called on arrays, the loss gradient seeded by hand, SGD's p −= lr·g; no Tensor, no graph."""
    name = "ops-only"

    def __init__(self, spec, weights: list[np.ndarray], lr: float = 0.01) -> None:
        from tensorgrad.ops.losses import CrossEntropy
        from tensorgrad.ops.matmul import Linear
        self.linear, self.cross_entropy = Linear, CrossEntropy
        self.params = [np.array(w, np.float32) for w in weights]  # W1, b1, W2, b2, ...
        self.activation, self.lr = spec.activation, lr

    def prepare(self, batches: list) -> list:
        return batches

    def _node(self, op: type, needs: tuple[bool, ...]):
        node = object.__new__(op)
        node.needs_input_grad = needs
        return node

    def step(self, x: np.ndarray, y: np.ndarray):
        layers = list(zip(self.params[0::2], self.params[1::2]))
        nodes, h = [], x
        for i, (weight, bias) in enumerate(layers):
            nodes.append(self._node(self.linear, (i > 0, True, True)))
            h = nodes[-1].forward(h, weight, bias, activation=self.activation if i < len(layers) - 1 else None)
        loss_node = self._node(self.cross_entropy, (True, False))
        loss = loss_node.forward(h, y)
        g = np.empty((), np.float32)
        g.fill(1)
        g, _ = loss_node.backward(g)
        grads = []
        for node in reversed(nodes):
            g, grad_w, grad_b = node.backward(g)
            grads = [grad_w, grad_b] + grads
        for param, grad in zip(self.params, grads):
            param -= self.lr * grad
        return loss

    def weights(self) -> list[np.ndarray]:
        return [p.copy() for p in self.params]


def check_same_step(speed, workload, impl_class: type) -> None:
    """Exit unless one step of ``impl_class`` gives tensorgrad's loss and updated weights (speed.py's
    self-check of its baselines): otherwise the comparison would be void."""
    weights = speed.initial_weights(workload.model)
    impls = [speed.TensorgradImpl(workload.model, weights), impl_class(workload.model, weights)]
    problems = speed.check_one_step(workload.model, workload.batch, None, impls)
    if problems:
        sys.exit(f"{impl_class.name}: one step differs from tensorgrad's:\n  " + "\n  ".join(problems))


def other_checkout(speed, tree: str) -> type:
    """An implementation class for the tensorgrad of source tree ``tree``, imported as the package
    ``tensorgrad_other`` (a copy: tensorgrad's own imports are relative), so both versions can
    run in one process."""
    source = Path(tree).resolve() / "tensorgrad"
    if not (source / "__init__.py").is_file():
        sys.exit(f"no tensorgrad package in {tree}")
    copy = Path(tempfile.mkdtemp(prefix="tensorgrad-versus-")) / "tensorgrad_other"
    shutil.copytree(source, copy)
    sys.path.insert(0, str(copy.parent))
    modules = [importlib.import_module(f"tensorgrad_other{suffix}") for suffix in ("", ".nn", ".optim", ".nn.functional")]
    print(f"other tensorgrad from {source}")
    return type("OtherTensorgradImpl", (speed.TensorgradImpl,), dict(
        name="other", package=modules[0], nn=modules[1], optim=modules[2], functional=modules[3]))


def count_child(speed, impl_name: str, steps: int) -> None:
    """Run in a child under callgrind: the tiny step of ``impl_name``, warmed up, then ``steps``."""
    spec = speed.MLPSpec((4, 4, 2))
    weights = speed.initial_weights(spec)
    impl = (speed.TensorgradImpl if impl_name == "tensorgrad" else speed.numpy_impl)(spec, weights)
    batches = speed.make_batches(spec, 2, 10)
    for i in range(20 + steps):
        impl.step(*batches[i % len(batches)])


def carryover(speed, workload, rounds: int) -> dict[tuple[str, str], float]:
    """Median seconds per step of tensorgrad's and NumPy's blocks right after a block of each other
    implementation; the (predecessor, timed) pairs run in a new shuffled order every round."""
    _, blocks = speed.step_runners(workload.model, workload.batch, workload.steps, speed.import_torch(),
                                   unfused=True)
    for run in blocks.values():
        run()
    pairs = [(before, timed) for timed in ("tensorgrad", "numpy") for before in blocks if before != timed]
    times: dict[tuple[str, str], list[float]] = {pair: [] for pair in pairs}
    rng = np.random.default_rng(0)
    for _ in range(rounds):
        for k in rng.permutation(len(pairs)):
            before, timed = pairs[k]
            blocks[before]()
            times[pairs[k]].append(blocks[timed]())
    medians = {pair: float(np.median(values)) for pair, values in times.items()}
    print(f"{workload.describe()}: ms per step of a block right after another one ({rounds} rounds)")
    for (before, timed), seconds in medians.items():
        print(f"  {timed:<10} after {before:<20} {seconds * 1e3:.3f}")
    return medians


def instructions(tree: str | None, steps: int) -> None:
    """Instructions per tiny step of tensorgrad and NumPy, counted by callgrind (see the docstring)."""
    if shutil.which("valgrind") is None:
        sys.exit("instructions: needs valgrind (Debian: apt-get install valgrind)")
    env = dict(os.environ, PYTHONHASHSEED="0", OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
               MKL_NUM_THREADS="1")
    prefix = ["setarch", "-R"] if shutil.which("setarch") else []
    base = [sys.executable, __file__, "instructions"] + (["--tensorgrad", tree] if tree else [])
    subprocess.run(base + ["--count-child", "tensorgrad", "1"], env=env, check=True,
                   capture_output=True)  # compiles the tree's .pyc files outside the counted runs

    def count(impl: str, n: int) -> int:
        done = subprocess.run(prefix + ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
                              + base + ["--count-child", impl, str(n)],
                              env=env, capture_output=True, text=True, check=True)
        return int(re.search(r"Collected : (\d+)", done.stderr).group(1))

    for impl in ("tensorgrad", "numpy"):
        per_step = (count(impl, steps) - count(impl, 0)) / steps
        print(f"tiny 4-4-2 MLP, batch 2: {impl} {per_step / 1e3:.1f}k instructions per step")


def main() -> None:
    args = parse()
    if args.what == "instructions" and not args.count_child:
        instructions(args.tensorgrad, args.steps)
        return
    speed = import_speed(args.tensorgrad)
    if args.count_child:
        count_child(speed, args.count_child[0], int(args.count_child[1]))
        return
    other = other_checkout(speed, args.other) if args.what == "versus" else None
    if args.what == "phases":
        phases(speed, args.workload, args.rounds or 4)
    elif args.what == "layers":
        layers(speed, args.rounds or 30)
    elif args.what == "carryover":
        carryover(speed, speed.WORKLOADS[args.workload], args.rounds or 20)
    elif args.what == "ops":
        workload = tiny_workload(speed) if args.workload == "tiny" else speed.WORKLOADS[args.workload]
        if isinstance(workload.model, speed.CNNSpec):
            sys.exit("ops: MLP workloads only (W1-W3)")
        check_same_step(speed, workload, OpsOnlyMLP)
        step_ratio(speed, workload.model, workload.batch, workload.steps, args.rounds or 24, workload.describe(),
                   OpsOnlyMLP)
    elif args.what == "overhead" or (args.what == "versus" and args.workload == "tiny"):
        tiny = tiny_workload(speed)
        step_ratio(speed, tiny.model, tiny.batch, tiny.steps, args.rounds or tiny.rounds, tiny.describe(), other)
    else:
        workload = speed.WORKLOADS[args.workload]
        steps = 1 if isinstance(workload.model, speed.CNNSpec) else 100
        step_ratio(speed, workload.model, workload.batch, steps, args.rounds or 15, workload.describe(), other)


if __name__ == "__main__":
    main()
