"""Every notebook in examples/notebooks/ runs top to bottom on a fresh kernel, as a student would run
it: no cell raises, nothing is written to stderr, its graphs render inline as SVG, and it is stored
without outputs (git holds the notebook as written; the outputs are made by running it)."""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="the notebooks extra: pip install -e '.[notebooks]'")
nbclient = pytest.importorskip("nbclient", reason="the notebooks extra: pip install -e '.[notebooks]'")

FOLDER = Path(__file__).resolve().parents[2] / "examples" / "notebooks"
NOTEBOOKS = sorted(FOLDER.glob("*.ipynb"))
SECONDS = 90  # a notebook's budget on 2 cores (each aims at well under a minute)


def test_there_are_notebooks_and_a_reading_order():
    assert len(NOTEBOOKS) >= 8
    index = (FOLDER / "README.md").read_text(encoding="utf-8")
    for path in NOTEBOOKS:
        assert path.name in index, f"{path.name} is not in examples/notebooks/README.md"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_the_notebook_is_stored_without_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{path.name}: a cell has outputs"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_the_notebook_runs_top_to_bottom(path, tmp_path):
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=SECONDS, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    started = time.perf_counter()
    client.execute(env={**os.environ, "MPLBACKEND": "Agg"})  # a cell that raises fails the test here
    seconds = time.perf_counter() - started
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    stderr = [output.text for output in outputs if output.output_type == "stream" and output.name == "stderr"]
    assert stderr == [], f"{path.name} wrote to stderr: {stderr[:3]}"
    svgs = [output for output in outputs if "image/svg+xml" in output.get("data", {})]
    assert svgs, f"{path.name} shows no graph"
    assert seconds < SECONDS, f"{path.name} took {seconds:.0f} s"
