"""The API reference builds from the docstrings with mkdocs, warnings as errors, and its pages hold
what they document: the home page (the README), the Tensor, nn.Linear, tg.draw, tg.compare_grads,
and the course notebooks."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mkdocs", reason="the docs extra: pip install -e '.[docs]'")
pytest.importorskip("mkdocstrings", reason="the docs extra: pip install -e '.[docs]'")

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)], cwd=ROOT,
                          capture_output=True, text=True, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    return out


def page(site: Path, path: str) -> str:
    return (site / path / "index.html" if not path.endswith(".html") else site / path).read_text(encoding="utf-8")


def test_the_home_page_is_the_readme(site):
    home = page(site, "index.html")
    assert "How it works" in home and "reverse-mode autograd framework on NumPy" in home


def test_the_tensor_page_documents_the_class_and_its_methods(site):
    text = page(site, "api/tensor")
    assert "tensorgrad.tensor.Tensor" in text and "requires_grad" in text and "backward" in text
    assert "retain_graph" in text  # from Tensor.backward's docstring


def test_nn_linear_is_documented_with_its_formula(site):
    text = page(site, "api/nn")
    assert "tensorgrad.nn.layers.Linear" in text and "in_features" in text and "Initialised as PyTorch does" in text


def test_draw_and_compare_grads_are_documented(site):
    text = page(site, "api/teaching")
    assert "tensorgrad.teaching.draw.draw" in text and "collapse" in text
    assert "tensorgrad.teaching.compare.compare_grads" in text and "activation_sites" in text


def test_the_notebooks_are_pages(site):
    notebooks = sorted((ROOT / "examples" / "notebooks").glob("*.ipynb"))
    assert notebooks
    for notebook in notebooks:
        assert (site / "examples" / "notebooks" / notebook.stem / "index.html").exists(), notebook.name
