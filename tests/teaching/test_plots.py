"""tensorgrad.teaching.plots: each function returns a Figure with the expected axes / lines / bars and
writes a PNG when given a path."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
from matplotlib.colors import to_rgba  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from tensorgrad.teaching import plots  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
REPO = Path(__file__).resolve().parents[2]


def _assert_png(path: Path) -> None:
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 1000


def _rng_images(n: int = 12, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, 28, 28))


def test_plot_history_two_panels_two_curves(tmp_path):
    history = {"loss": [2.2, 1.8, 1.5], "val_loss": [2.0, 1.7, 1.6],
               "accuracy": [0.2, 0.6, 0.7], "val_accuracy": [0.56, 0.73, 0.77]}
    figure = plots.plot_history(history, path=tmp_path / "history.png")
    assert isinstance(figure, Figure)
    accuracy_axes, loss_axes = figure.axes
    assert accuracy_axes.get_title() == "model accuracy" and loss_axes.get_title() == "model loss"
    for axes, key in ((accuracy_axes, "accuracy"), (loss_axes, "loss")):
        train, val = axes.get_lines()
        np.testing.assert_array_equal(train.get_xdata(), [1, 2, 3])  # epochs count from 1
        np.testing.assert_array_equal(train.get_ydata(), history[key])
        np.testing.assert_array_equal(val.get_ydata(), history[f"val_{key}"])
        assert [t.get_text() for t in axes.get_legend().get_texts()] == ["train", "val"]
    _assert_png(tmp_path / "history.png")


def test_plot_history_shows_a_single_epoch():
    figure = plots.plot_history({"loss": [0.6], "val_loss": [0.7]})  # L-BFGS: one step, one point
    for line in figure.axes[0].get_lines():
        assert line.get_marker() == "o"  # a line through one point draws nothing without it


def test_plot_history_skips_missing_keys():
    figure = plots.plot_history({"loss": [1.0, 0.5]})
    assert len(figure.axes) == 1 and len(figure.axes[0].get_lines()) == 1

    class KerasLikeHistory:  # fit() returns an object with the dict in .history
        history = {"loss": [1.0, 0.5], "val_loss": [1.1, 0.7], "accuracy": [0.5, 0.6]}

    figure = plots.plot_history(KerasLikeHistory())
    assert [len(axes.get_lines()) for axes in figure.axes] == [1, 2]
    with pytest.raises(ValueError, match=r"plot_history: history has none of the keys"):
        plots.plot_history({"lr": [0.1]})


@pytest.mark.parametrize("normalize", [False, True])
def test_plot_confusion_matrix(tmp_path, normalize):
    cm = np.array([[5, 1, 0], [2, 3, 0], [0, 0, 0]])
    figure = plots.plot_confusion_matrix(cm, class_names=["a", "b", "c"], normalize=normalize,
                                         path=tmp_path / "cm.png")
    assert len(figure.axes) == 2  # the matrix and its colorbar
    axes = figure.axes[0]
    shown = axes.get_images()[0].get_array()
    expected = cm / np.array([[6], [5], [1]]) if normalize else cm  # an empty row stays 0
    if normalize:
        expected[2] = 0
    np.testing.assert_allclose(shown, expected)
    texts = [t.get_text() for t in axes.texts]
    assert len(texts) == 9 and texts[0] == ("0.83" if normalize else "5")
    assert [t.get_text() for t in axes.get_xticklabels()] == ["a", "b", "c"]
    assert axes.get_xlabel() == "Predicted label" and axes.get_ylabel() == "True label"
    _assert_png(tmp_path / "cm.png")
    with pytest.raises(ValueError, match=r"square matrix, got shape \(2, 3\)"):
        plots.plot_confusion_matrix(np.zeros((2, 3)))


def test_plot_predictions_bars_green_when_right(tmp_path):
    rng = np.random.default_rng(0)
    probabilities = rng.dirichlet(np.ones(10), size=12)
    labels = probabilities.argmax(axis=1)
    labels[1::2] = (labels[1::2] + 1) % 10  # every other prediction is wrong
    images = _rng_images(12).reshape(12, 784)  # flat, as the MLP sees them
    figure = plots.plot_predictions(images, probabilities, labels, path=tmp_path / "pred.png")
    assert len(figure.axes) == 20  # n=10 rows of image + bar chart
    for i in range(10):
        image_axes, bar_axes = figure.axes[2 * i], figure.axes[2 * i + 1]
        assert image_axes.get_images()[0].get_array().shape == (28, 28)
        bars = bar_axes.patches
        assert len(bars) == 10
        np.testing.assert_allclose([bar.get_height() for bar in bars], probabilities[i])
        colour = to_rgba("green" if i % 2 == 0 else "red")  # rows 1, 3, ... are wrong
        assert all(np.allclose(bar.get_facecolor(), colour) for bar in bars)
        assert bar_axes.get_ylim() == (0, 1)
    _assert_png(tmp_path / "pred.png")
    # one-hot labels and a smaller n
    figure = plots.plot_predictions(images, probabilities, np.eye(10)[labels], n=3)
    assert len(figure.axes) == 6


def test_plot_activations_uses_tensorgrad(tmp_path):
    figure = plots.plot_activations(path=tmp_path / "act.png")
    assert [axes.get_title() for axes in figure.axes] == ["sigmoid", "tanh", "relu", "gelu"]
    x = np.linspace(-5, 5, 100)
    lines = [axes.get_lines() for axes in figure.axes]
    assert all(len(axes_lines) == 1 for axes_lines in lines)
    np.testing.assert_allclose(lines[0][0].get_ydata(), 1 / (1 + np.exp(-x)), rtol=1e-12)
    np.testing.assert_allclose(lines[2][0].get_ydata(), np.maximum(x, 0))
    np.testing.assert_array_equal(lines[3][0].get_xdata(), x)
    _assert_png(tmp_path / "act.png")


def test_plot_images_grid(tmp_path):
    images = _rng_images(25)
    figure = plots.plot_images(images, labels=np.arange(25) % 10, path=tmp_path / "img.png")
    assert len(figure.axes) == 20  # rows=5 x cols=4, as in document 001
    assert [axes.get_title() for axes in figure.axes[:3]] == ["0", "1", "2"]
    assert figure.axes[0].get_subplotspec().get_geometry()[:2] == (5, 4)
    _assert_png(tmp_path / "img.png")
    # fewer images than cells; channels-first images
    assert len(plots.plot_images(images[:3, None], rows=2, cols=2).axes) == 3


def test_import_tensorgrad_does_not_import_matplotlib():
    code = ("import sys, tensorgrad, tensorgrad.teaching.plots, tensorgrad.training.metrics, tensorgrad.training.checkpoint;"
            "assert 'matplotlib' not in sys.modules, 'matplotlib was imported'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


def test_missing_matplotlib_says_how_to_install(monkeypatch):
    # None in sys.modules makes "import matplotlib.figure" raise ImportError
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r'plot_activations needs matplotlib.*'
                                          r'pip install "tensorgrad\[plots\]"'):
        plots.plot_activations()
