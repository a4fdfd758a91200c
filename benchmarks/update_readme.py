"""Write the latest benchmark results into README.md and benchmarks/README.md, between their markers.

    python benchmarks/update_readme.py

Reads benchmarks/results/accuracy.json (from accuracy.py) and benchmarks/results/speed-latest.json
(from speed.py) and benchmarks/results/busy-latest.json (from busy.py). README.md gets the accuracy
table (``<!-- accuracy-table -->``), a short speed table (``<!-- speed-summary -->``) and the busy
machine's (``<!-- busy-summary -->``); benchmarks/README.md gets every speed table
(``<!-- speed-tables -->``), printed by speed.py's own functions, so it shows exactly what the
run printed.
"""
from __future__ import annotations

import contextlib
import io
import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import speed  # noqa: E402
from tensorgrad.models.recipes import RECIPES  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
README = ROOT / "README.md"
BENCHMARKS_README = ROOT / "benchmarks" / "README.md"


def accuracy_table(runs: dict) -> str:
    """One row per run; s/epoch from a quiet machine (accuracy.py --time-epochs) where timed, else
    the full run's, marked * (on a machine shared with other jobs)."""
    rows = ["| recipe | dataset | test accuracy | target | document reports | s/epoch |", "|---|---|---|---|---|---|"]
    for dataset in ("mnist", "fashion-mnist"):
        for name, recipe in RECIPES.items():  # in the order the recipes are registered
            run = runs.get(f"{name}/{dataset}")
            if not run:
                continue
            on_val = run["target_metric"] == "val_accuracy"
            accuracy = run["val_accuracy"] if on_val else run["test_accuracy"]
            target = "" if run["target"] is None else f"≥ {run['target']:.3g} {'✓' if run['passed'] else '✗'}"
            document = recipe.reported if dataset == "mnist" else ""
            rows.append(f"| `{name}` | {dataset} | {accuracy:.4f}{' (its 100)' if on_val else ''} | {target} "
                        f"| {document} | {_seconds(run)} |")
    return "\n".join(rows)


def _seconds(run: dict) -> str:
    quiet = run.get("quiet_seconds_per_epoch")
    return f"{quiet:.2f}" if quiet is not None else f"{run['seconds_per_epoch']:.2f}*"


def speed_summary(result: dict) -> str:
    """The README's short table: ms per step and tensorgrad/NumPy with its target, per workload."""
    env = result["environment"]
    rows = ["| workload | tensorgrad | its own threads | NumPy by hand | PyTorch | tensorgrad / NumPy | target "
            "| GEMM floor |", "|---|---|---|---|---|---|---|---|"]
    for row in result["workloads"]:
        median, ratio = row["median"], row["ratios"]["tensorgrad/numpy"]
        torch = f"{median['torch']:.3g} ms" if "torch" in median else "–"
        threads = f"{median['tensorgrad-threads']:.3g} ms" if "tensorgrad-threads" in median else "–"
        target = row["target_tensorgrad_over_numpy"]
        met = "✓" if ratio["median"] <= target else "✗"
        floor = f"{row['gemm_floor']['floor_ms']:.3g} ms" if "gemm_floor" in row else "–"
        rows.append(f"| {row['description']} | {median['tensorgrad']:.3g} ms | {threads} | {median['numpy']:.3g} ms "
                    f"| {torch} | {ratio['median']:.2f} [CI {ratio['ci90_low']:.2f}-{ratio['ci90_high']:.2f}] "
                    f"| ≤ {target:.2f} {met} | {floor} |")
    floor_note = ""
    if result["workloads"] and "gemm_floor" in result["workloads"][0]:
        floor_note = (f" GEMM floor: the step's matrix products (im2col) at this machine's "
                      f"{result['workloads'][0]['gemm_floor']['gemm_gflops']:.0f} GFLOP/s (a 2048×2048 float32 "
                      "product on the same threads); a step reaches floor / its time of it.")
    return (f"One run of `{env['command']}` on {env['date'][:10]}, {env['usable_cpus']} CPUs ({env['cpu_model']}): "
            "median ms per training step, and the median of the per-round ratios with its 90% interval. "
            "tensorgrad runs serially with NumPy's BLAS threads, as the NumPy step does; \"its own threads\" is "
            f"`tg.set_num_threads({env['usable_cpus']})`, what it chooses by itself for a CNN." + floor_note + "\n\n"
            + "\n".join(rows))


def busy_summary(result: dict) -> str:
    """The README's table of busy.py: each thread policy's step, quiet and with busy processes."""
    env = result["environment"]
    lines = [f"With other programs on the CPUs (`{env['command']}`, {env['date'][:10]}, {env['usable_cpus']} CPUs; "
             "each busy process a Python loop keeping a core busy; ms per step, and busy / quiet as the median "
             "of per-round ratios):", ""]
    for workload in result["workloads"].values():
        counts = sorted(workload["ms_per_step"], key=int)
        quiet = counts[0]
        busy_counts = counts[1:]
        lines.append(f"| {workload['workload']} | " + " | ".join(
            [f"{count} busy" for count in counts] + [f"{count} busy / quiet" for count in busy_counts]) + " |")
        lines.append("|---" * (1 + len(counts) + len(busy_counts)) + "|")
        for policy in workload["ms_per_step"][quiet]:
            cells = [f"{workload['ms_per_step'][count][policy]:.3g} ms" for count in counts]
            cells += [f"{workload['slowdown'][count][policy]['median']:.2f}x" for count in busy_counts]
            label = f"**{policy}** (the default)" if policy == "auto" else policy
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines).rstrip()


def speed_tables(result: dict) -> str:
    env = result["environment"]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        quick = result.get("quick", False)
        if "workloads" in result:
            speed.print_workloads(result["workloads"], quick)
        if "inference" in result:
            speed.print_inference(result["inference"], quick)
        if "scaling" in result:
            speed.print_scaling(result["scaling"], quick)
        if "memory" in result:
            speed.print_memory(result["memory"], quick)
    threads = f"{env['numpy_blas_threads']} BLAS threads"
    header = (f"Measured {env['date'][:10]} on {env['cpu_model']} ({env['usable_cpus']} CPUs, {threads}), "
              f"numpy {env['numpy']}, torch {env['torch'] or 'not installed'}, load "
              f"{env['load_average_1_5_15min'][0]:.2f} at the start; command `{env['command']}`.")
    return header + "\n\n```text" + out.getvalue().rstrip() + "\n```"


def replace_between(text: str, tag: str, body: str) -> str:
    pattern = re.compile(rf"(<!-- {tag} -->)\n.*?(<!-- /{tag} -->)", re.S)
    if not pattern.search(text):
        raise SystemExit(f"README.md has no <!-- {tag} --> ... <!-- /{tag} --> markers")
    return pattern.sub(lambda m: m.group(1) + "\n" + body + "\n" + m.group(2), text)


def main() -> None:
    text = README.read_text(encoding="utf-8")
    benchmarks_text = BENCHMARKS_README.read_text(encoding="utf-8")
    accuracy = RESULTS / "accuracy.json"
    if accuracy.exists():
        text = replace_between(text, "accuracy-table", accuracy_table(json.loads(accuracy.read_text())["runs"]))
    latest = RESULTS / "speed-latest.json"
    if latest.exists():
        result = json.loads(latest.read_text())
        text = replace_between(text, "speed-summary", speed_summary(result))
        benchmarks_text = replace_between(benchmarks_text, "speed-tables", speed_tables(result))
    busy = RESULTS / "busy-latest.json"
    if busy.exists():
        text = replace_between(text, "busy-summary", busy_summary(json.loads(busy.read_text())))
    README.write_text(text, encoding="utf-8")
    BENCHMARKS_README.write_text(benchmarks_text, encoding="utf-8")
    print(f"updated {README} and {BENCHMARKS_README}")


if __name__ == "__main__":
    main()
