"""Long fuzzing run: random expression graphs, every gradient checked against finite differences.

    python benchmarks/fuzz.py [--examples 2000] [--seed 0]

Uses the same graph generator as tests/test_hypothesis.py (which runs a small profile in CI) and
writes benchmarks/results/fuzz.json with the number of examples and of mismatches (0 expected).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

import numpy as np  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import tensorgrad as tg  # noqa: E402
from graph_strategies import broadcastable_pair, compose, op_spec  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    counts = {"examples": 0, "mismatches": 0, "ops": 0}
    failures: list[str] = []

    @settings(max_examples=args.examples, deadline=None, database=None, derandomize=False,
              suppress_health_check=list(HealthCheck))
    @given(pair=broadcastable_pair(), specs=st.lists(op_spec, min_size=3, max_size=8), seed=st.integers(0, 2**31))
    def check(pair, specs, seed):
        rng = np.random.default_rng(seed)
        a = tg.tensor(rng.standard_normal(pair[0]), requires_grad=True)
        b = tg.tensor(rng.standard_normal(pair[1]), requires_grad=True)
        result = tg.gradcheck(lambda x, y: compose(specs, x, y), [a, b], atol=1e-6, rtol=1e-4,
                              raise_exception=False)  # count and keep the failures, do not stop at one
        counts["examples"] += 1
        counts["ops"] += 2 * len(specs)
        if not result:
            counts["mismatches"] += 1
            failures.append(f"shapes {pair}, ops {specs}, seed {seed}:\n{result}")

    started = time.perf_counter()
    np.random.seed(args.seed)
    check()
    seconds = time.perf_counter() - started
    report = dict(counts, seconds=round(seconds, 1), failures=failures[:20])
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "fuzz.json").write_text(json.dumps(report, indent=2))
    print(f"{counts['examples']} random graphs (~{counts['ops']} ops), {counts['mismatches']} mismatches, {seconds:.0f} s")
    sys.exit(1 if counts["mismatches"] else 0)


if __name__ == "__main__":
    main()
