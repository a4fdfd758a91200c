"""The READMEs' result tables are the committed benchmark results, as update_readme.py writes them."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
import update_readme  # noqa: E402

README = (ROOT / "README.md").read_text(encoding="utf-8")
BENCHMARKS_README = (ROOT / "benchmarks" / "README.md").read_text(encoding="utf-8")


def test_accuracy_table_matches_accuracy_json():
    runs = json.loads((ROOT / "benchmarks/results/accuracy.json").read_text())["runs"]
    table = update_readme.accuracy_table(runs)
    assert "<!-- accuracy-table -->\n" + table + "\n<!-- /accuracy-table -->" in README
    assert table.count("\n") >= len(runs) + 1  # a row for every run
    timed = [run for run in runs.values() if run.get("quiet_seconds_per_epoch") is not None]
    assert table.count("*") == len(runs) - len(timed)  # a figure from a busy machine says so


@pytest.mark.skipif(not (ROOT / "benchmarks/results/speed-latest.json").exists(), reason="no speed run yet")
def test_speed_tables_match_speed_latest_json():
    result = json.loads((ROOT / "benchmarks/results/speed-latest.json").read_text())
    assert "<!-- speed-tables -->\n" + update_readme.speed_tables(result) + "\n<!-- /speed-tables -->" in BENCHMARKS_README
    summary = update_readme.speed_summary(result)
    assert "<!-- speed-summary -->\n" + summary + "\n<!-- /speed-summary -->" in README
    assert summary.count("\n| W") == len(result["workloads"])  # a row per workload


def test_replace_between_rewrites_only_the_marked_part_and_needs_the_markers():
    text = "a\n<!-- t -->\nold\n<!-- /t -->\nb"
    assert update_readme.replace_between(text, "t", "new") == "a\n<!-- t -->\nnew\n<!-- /t -->\nb"
    with pytest.raises(SystemExit, match="no <!-- u -->"):
        update_readme.replace_between(text, "u", "new")
    empty = "<!-- t -->\n<!-- /t -->"  # nothing between the markers yet
    assert update_readme.replace_between(empty, "t", "new") == "<!-- t -->\nnew\n<!-- /t -->"


def test_busy_table_matches_busy_latest_json():
    result = json.loads((ROOT / "benchmarks/results/busy-latest.json").read_text())
    table = update_readme.busy_summary(result)
    assert "<!-- busy-summary -->\n" + table + "\n<!-- /busy-summary -->" in README
    for workload in result["workloads"].values():  # a row per policy, the default marked
        assert table.count("| **auto** (the default) |") == len(result["workloads"])
        for policy in workload["ms_per_step"]["0"]:
            assert f"| {policy} |" in table or policy == "auto"
