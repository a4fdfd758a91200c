"""Time to accuracy: the same recipe trained in tensorgrad and in PyTorch, and the wall time each
takes to reach a test accuracy.

    python benchmarks/time_to_accuracy.py --data-dir ../shared/data/mnist [--recipe fast-mlp] [--target 0.98]

Both sides start from the same weights (the tensorgrad model copied with ``tg.to_torch``), see the
same batches in the same order (one permutation per epoch from ``np.random.default_rng((seed,
epoch))``), and use the same optimizer and per-epoch schedule (the recipe's; Adam or SGD, StepLR or
ExponentialLR). After every epoch each side is evaluated on the test set (not timed); the time to
the target is the training time summed up to the first epoch that reaches it. Writes
benchmarks/results/time_to_accuracy.json.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "time_to_accuracy.json"


def batches(n: int, batch_size: int, seed: int, epoch: int):
    order = np.random.default_rng((seed, epoch)).permutation(n)
    return [order[i:i + batch_size] for i in range(0, n, batch_size)]


def timed_epochs(recipe, n: int, seed: int, model, step, scheduler, test_accuracy) -> list[dict]:
    """The recipe's epochs, the same for both libraries: ``step(index)`` on each batch, the
    scheduler once an epoch; after each, the training time so far and ``test_accuracy()`` (not timed)."""
    trained, per_epoch = 0.0, []
    for epoch in range(recipe.epochs):
        model.train()
        started = time.perf_counter()
        for index in batches(n, recipe.batch_size, seed, epoch):
            step(index)
        if scheduler is not None:
            scheduler.step()
        trained += time.perf_counter() - started
        model.eval()
        per_epoch.append({"epoch": epoch + 1, "seconds": trained, "test_accuracy": test_accuracy()})
    return per_epoch


def train_tensorgrad(recipe, data, seed: int, target: float, threads: int) -> dict:
    import tensorgrad as tg
    import tensorgrad.nn.functional as F
    from tensorgrad.models.recipes import make_optimizer, make_scheduler

    tg.set_num_threads(threads if recipe.images else "auto")  # as `tensorgrad train` does: convolutions on every core
    tg.manual_seed(seed)
    model = recipe.make_model()
    initial = model.state_dict()
    optimizer = make_optimizer(recipe, model, lr=None, name=recipe.optimizer)
    scheduler = make_scheduler(recipe, optimizer)
    def step(index):
        optimizer.zero_grad()
        F.cross_entropy(model(data.x_train[index]), data.y_train[index]).backward()
        optimizer.step()

    def test_accuracy():
        with tg.no_grad():
            return float((model(data.x_test).data.argmax(axis=1) == data.y_test).mean())

    per_epoch = timed_epochs(recipe, len(data.x_train), seed, model, step, scheduler, test_accuracy)
    return {"initial": initial, "epochs": per_epoch, **_reached(per_epoch, target)}


def train_torch(recipe, data, seed: int, target: float, initial: dict, threads: int) -> dict:
    import torch

    import tensorgrad as tg

    torch.set_num_threads(threads)
    model = tg.to_torch(recipe.make_model(fused=False))
    model.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in initial.items()})
    lr = recipe.lr
    optimizer = {"adam": lambda: torch.optim.Adam(model.parameters(), lr=lr),
                 "sgd": lambda: torch.optim.SGD(model.parameters(), lr=lr, **recipe.optimizer_options)}[recipe.optimizer]()
    scheduler = None
    if recipe.scheduler is not None:
        kind, options = recipe.scheduler
        scheduler = {"step": torch.optim.lr_scheduler.StepLR,
                     "exponential": torch.optim.lr_scheduler.ExponentialLR}[kind](optimizer, **options)
    x_train, y_train = torch.from_numpy(data.x_train), torch.from_numpy(data.y_train.astype(np.int64))
    x_test = torch.from_numpy(data.x_test)
    def step(index):
        index = torch.from_numpy(index)
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(x_train[index]), y_train[index]).backward()
        optimizer.step()

    def test_accuracy():
        with torch.no_grad():
            return float((model(x_test).argmax(dim=1).numpy() == data.y_test).mean())

    per_epoch = timed_epochs(recipe, len(data.x_train), seed, model, step, scheduler, test_accuracy)
    return {"epochs": per_epoch, **_reached(per_epoch, target)}


def _reached(per_epoch: list[dict], target: float) -> dict:
    first = next((row for row in per_epoch if row["test_accuracy"] >= target), None)
    return {"seconds_to_target": None if first is None else first["seconds"],
            "epochs_to_target": None if first is None else first["epoch"],
            "final_test_accuracy": per_epoch[-1]["test_accuracy"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", help="the folder with MNIST's IDX files")
    parser.add_argument("--sample", action="store_true", help="the embedded sample instead (a quick check)")
    parser.add_argument("--epochs", type=int, help="override the recipe's epochs")
    parser.add_argument("--recipe", default="fast-mlp")
    parser.add_argument("--target", type=float, default=0.98)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--torch-threads", type=int, default=os.cpu_count() or 1,
                        help="PyTorch's threads, and tensorgrad's for a convolutional recipe (default: every CPU)")
    parser.add_argument("--out", default=str(RESULTS), help=f"the JSON file to write (default {RESULTS})")
    args = parser.parse_args()

    import dataclasses

    from tensorgrad.data import load_mnist, load_mnist_sample
    from tensorgrad.models.recipes import RECIPES, prepare_data
    from tensorgrad.speed.memory import keep_freed_memory

    # malloc keeps freed memory for the next step, as the `tensorgrad` command sets it (process-wide:
    # PyTorch trains with the same allocator settings)
    keep_freed_memory()

    if not args.sample and not args.data_dir:
        parser.error("give --data-dir DIR (MNIST's IDX files) or --sample")
    recipe = RECIPES[args.recipe]
    if args.epochs:
        recipe = dataclasses.replace(recipe, epochs=args.epochs)
    data = prepare_data(recipe, load_mnist_sample() if args.sample else load_mnist(args.data_dir))
    runs = []
    for seed in args.seeds:
        ours = train_tensorgrad(recipe, data, seed, args.target, args.torch_threads)
        theirs = train_torch(recipe, data, seed, args.target, ours.pop("initial"), args.torch_threads)
        runs.append({"seed": seed, "tensorgrad": ours, "pytorch": theirs})
        for name, run in (("tensorgrad", ours), ("pytorch", theirs)):
            reached = (f"{run['seconds_to_target']:.1f} s ({run['epochs_to_target']} epochs)"
                       if run["seconds_to_target"] is not None else "not reached")
            print(f"{args.recipe} seed {seed} {name:10}: to {args.target:.3f}: {reached}; final test accuracy "
                  f"{run['final_test_accuracy']:.4f} after {run['epochs'][-1]['seconds']:.1f} s", flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"recipe": args.recipe, "target": args.target, "runs": runs,
                                   "environment": {"python": platform.python_version(), "cpus": os.cpu_count(),
                                                   "load_before": os.getloadavg()[0],
                                                   "date": time.strftime("%Y-%m-%d")}}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
