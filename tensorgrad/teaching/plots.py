"""The course documents' figures, drawn with matplotlib: training curves, a confusion matrix,
images, predictions with probability bars and the activation functions.

matplotlib is optional (``pip install "tensorgrad[plots]"``): it is imported inside each
function, so ``import tensorgrad`` never needs it. Every function builds a
``matplotlib.figure.Figure`` directly (no pyplot, so no GUI backend and no global figure
state), returns it, and saves it when given ``path`` (the format follows the extension:
``.png``, ``.pdf``, ``.svg``). In a notebook the returned figure displays itself; in a script,
save it::

    from tensorgrad.teaching.plots import plot_history
    plot_history({"loss": losses, "val_loss": val_losses}, path="loss.png")
"""
from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

if TYPE_CHECKING:  # for the annotations only; importing this module must not need matplotlib
    from matplotlib.figure import Figure

__all__ = ["plot_history", "plot_confusion_matrix", "plot_predictions", "plot_activations",
           "plot_images"]

PathLike = str | os.PathLike


def _new_figure(fn: str, figsize: tuple[float, float]) -> Figure:
    """A pyplot-free Figure, or an ImportError telling how to install matplotlib."""
    try:
        from matplotlib.figure import Figure
    except ImportError as error:
        raise ImportError(f"tensorgrad.teaching.plots.{fn} needs matplotlib, which is not installed: "
                          f'pip install "tensorgrad[plots]" (or pip install matplotlib)') from error
    return Figure(figsize=figsize, layout="constrained")


def _finish(figure: Figure, path: PathLike | None) -> Figure:
    """Save the figure if a path is given (Figure.savefig renders with Agg for raster
    formats, so no display is needed) and return it."""
    if path is not None:
        figure.savefig(os.fspath(path))
    return figure


def _as_image(fn: str, image: np.ndarray) -> np.ndarray:
    """One image as something imshow draws: (H, W) or (H, W, 3|4).

    Accepts a flattened square image (784 -> 28x28, as the documents feed the MLP), and a
    channels-first (C, H, W) image as a convolutional model takes it.
    """
    image = np.asarray(image)
    if image.ndim == 1:
        side = math.isqrt(image.size)
        if side * side != image.size:
            raise ValueError(f"{fn}: a flat image must have a square number of pixels, got "
                             f"shape {image.shape}")
        return image.reshape(side, side)
    if image.ndim == 3 and image.shape[0] in (1, 3, 4) and image.shape[-1] not in (1, 3, 4):
        image = np.moveaxis(image, 0, -1)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.ndim == 2 or (image.ndim == 3 and image.shape[-1] in (3, 4)):
        return image
    raise ValueError(f"{fn}: cannot show an image of shape {image.shape}; expected (H, W), "
                     f"(H, W, C), (C, H, W) or a flat square image")


def _bare(axes: Any) -> None:
    """No ticks: the documents' image grids show pixels only."""
    axes.set_xticks([])
    axes.set_yticks([])


def plot_history(history: Mapping[str, Sequence[float]] | Any,
                 path: PathLike | None = None) -> Figure:
    """Accuracy and loss per epoch, train and validation, as document 001 plots them.

    Two panels side by side, "model accuracy" and "model loss", each with a "train" and a
    "val" curve against the epoch (1, 2, ...). Curves whose key is missing are skipped, and
    so is a panel with no curves.

    Args:
        history: a dict of per-epoch lists under ``"loss"``, ``"accuracy"``,
            ``"val_loss"``, ``"val_accuracy"``; an object with such a dict in ``.history``
            (as Keras' ``fit`` returns) works too.
        path: where to save the figure, if anywhere.

    Returns:
        The Figure: one Axes per panel, one Line2D per curve.

    Raises:
        ValueError: none of the four keys is present.
    """
    history = getattr(history, "history", history)
    panels = [(metric, [(key, label) for key, label in ((metric, "train"), (f"val_{metric}", "val"))
                        if key in history])
              for metric in ("accuracy", "loss")]
    panels = [(metric, curves) for metric, curves in panels if curves]
    if not panels:
        raise ValueError(f"plot_history: history has none of the keys 'loss', 'accuracy', "
                         f"'val_loss', 'val_accuracy' (it has {sorted(history)})")
    figure = _new_figure("plot_history", (6 * len(panels), 4))
    from matplotlib.ticker import MaxNLocator  # matplotlib is there: _new_figure checked
    for axes, (metric, curves) in zip(figure.subplots(1, len(panels), squeeze=False)[0], panels):
        for key, label in curves:
            values = np.asarray(history[key], dtype=float)
            # a marker on each epoch: with one epoch (L-BFGS's single step) a line alone draws nothing
            axes.plot(np.arange(1, len(values) + 1), values, marker="o" if len(values) < 30 else None, label=label)
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
        axes.set_title(f"model {metric}")
        axes.set_xlabel("epoch")
        axes.set_ylabel(metric)
        axes.legend(loc="upper left")
    return _finish(figure, path)


def plot_confusion_matrix(cm: ArrayLike, class_names: Sequence[str] | None = None,
                          path: PathLike | None = None, normalize: bool = False) -> Figure:
    """A confusion matrix as a heat map with the value written in each cell.

    Rows are true classes and columns predicted ones, as
    :func:`tensorgrad.training.metrics.confusion_matrix` returns them.

    Args:
        cm: square matrix of counts.
        class_names: tick labels; default ``0 .. K-1``.
        path: where to save the figure, if anywhere.
        normalize: divide each row by its sum, so a cell is the fraction of that true class
            predicted as the column's class (a row with no samples stays 0).

    Returns:
        The Figure: the matrix Axes and its colorbar's Axes.
    """
    cm = np.asarray(cm)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"plot_confusion_matrix: cm must be a square matrix, got shape {cm.shape}")
    k = cm.shape[0]
    names = [str(i) for i in range(k)] if class_names is None else [str(n) for n in class_names]
    if len(names) != k:
        raise ValueError(f"plot_confusion_matrix: {len(names)} class_names for a {k}x{k} matrix")
    if normalize:
        totals = cm.sum(axis=1, keepdims=True).astype(float)
        values = np.divide(cm, totals, out=np.zeros(cm.shape), where=totals != 0)
    else:
        values = cm
    size = max(4.0, 0.5 * k + 2)
    figure = _new_figure("plot_confusion_matrix", (size + 1, size))
    axes = figure.subplots()
    image = axes.imshow(values, cmap="Blues", vmin=0, vmax=1 if normalize else None)
    figure.colorbar(image, ax=axes)
    # Dark text on light cells, white on dark ones, so every number stays readable.
    threshold = (values.max() + values.min()) / 2
    for i in range(k):
        for j in range(k):
            text = f"{values[i, j]:.2f}" if normalize else f"{values[i, j]:g}"
            axes.text(j, i, text, ha="center", va="center",
                      color="white" if values[i, j] > threshold else "black")
    axes.set_xticks(range(k), names)
    axes.set_yticks(range(k), names)
    axes.set_xlabel("Predicted label")
    axes.set_ylabel("True label")
    axes.set_title("Confusion matrix" + (" (normalized by true class)" if normalize else ""))
    return _finish(figure, path)


def plot_predictions(images: ArrayLike, probabilities: ArrayLike, labels: ArrayLike,
                     path: PathLike | None = None, n: int = 10,
                     cmap: str | None = None) -> Figure:
    """Document 001's grid of predictions: each image beside a bar chart of its probabilities.

    Row ``i`` shows image ``i`` and one bar per class, all green when the most probable
    class is the true label and all red otherwise; the bars' y-axis spans 0 to 1.

    Args:
        images: ``(N, H, W)``, ``(N, C, H, W)``, ``(N, H, W, C)`` or flattened ``(N, 784)``.
        probabilities: ``(N, K)`` class probabilities (e.g. the softmax output).
        labels: true classes, ``(N,)`` indices or ``(N, K)`` one-hot rows.
        path: where to save the figure, if anywhere.
        n: how many of the first images to show.
        cmap: colormap of the images (matplotlib's default, as in the document, if None).

    Returns:
        The Figure: ``2 * n`` Axes, an image and a bar chart (K bars) per row.
    """
    images, probabilities, labels = (np.asarray(images), np.asarray(probabilities),
                                     np.asarray(labels))
    if probabilities.ndim != 2:
        raise ValueError(f"plot_predictions: probabilities must be (N, K), got shape "
                         f"{probabilities.shape}")
    if labels.ndim == 2:
        labels = labels.argmax(axis=1)  # one-hot rows, as to_categorical makes them
    count = min(int(n), len(images), len(probabilities), len(labels))
    if count < 1:
        raise ValueError(f"plot_predictions: nothing to show (n={n}, images {images.shape}, "
                         f"probabilities {probabilities.shape}, labels {labels.shape})")
    k = probabilities.shape[1]
    figure = _new_figure("plot_predictions", (6, max(2.0, 0.8 * count)))
    # Narrow image column, wide bar column: the bars carry the information.
    grid = figure.subplots(count, 2, squeeze=False, width_ratios=(1, 3))
    for i in range(count):
        image_axes, bar_axes = grid[i]
        image_axes.imshow(_as_image("plot_predictions", images[i]), cmap=cmap)
        _bare(image_axes)
        correct = probabilities[i].argmax() == labels[i]
        bar_axes.bar(range(k), probabilities[i], color="green" if correct else "red")
        bar_axes.set_xticks(range(k))
        bar_axes.set_ylim(0, 1)
    return _finish(figure, path)


def plot_activations(path: PathLike | None = None) -> Figure:
    """Document 001's four activation functions on ``[-5, 5]``: sigmoid, tanh, relu, gelu.

    The curves are computed by tensorgrad's own ops (``Tensor.sigmoid()`` etc.), so the
    figure shows exactly what the models use.

    Args:
        path: where to save the figure, if anywhere.

    Returns:
        The Figure: four Axes in a row, one line each, titled by the function's name.
    """
    import tensorgrad as tg  # here, not at the top: tensorgrad's modules import downward

    x = tg.tensor(np.linspace(-5, 5, 100))
    curves = {"sigmoid": x.sigmoid().data, "tanh": x.tanh().data, "relu": x.relu().data,
              "gelu": x.gelu().data}
    figure = _new_figure("plot_activations", (14, 3))
    for axes, (name, y) in zip(figure.subplots(1, 4), curves.items()):
        axes.plot(x.data, y)
        axes.set_title(name)
    return _finish(figure, path)


def plot_images(images: ArrayLike, labels: ArrayLike | None = None,
                path: PathLike | None = None, rows: int = 5, cols: int = 4,
                cmap: str | None = None) -> Figure:
    """A grid of the first ``rows * cols`` images, as document 001 shows the training set.

    Args:
        images: ``(N, H, W)``, ``(N, C, H, W)``, ``(N, H, W, C)`` or flattened ``(N, 784)``.
        labels: optional class of each image (indices or one-hot rows), shown as its title.
        path: where to save the figure, if anywhere.
        rows: rows of the grid.
        cols: columns of the grid.
        cmap: colormap (matplotlib's default, as in the document, if None).

    Returns:
        The Figure: one Axes per image shown (fewer than ``rows * cols`` if there are fewer
        images).
    """
    images = np.asarray(images)
    if labels is not None:
        labels = np.asarray(labels)
        if labels.ndim == 2:
            labels = labels.argmax(axis=1)
    count = min(int(rows) * int(cols), len(images))
    if count < 1:
        raise ValueError(f"plot_images: nothing to show (images {images.shape}, rows={rows}, "
                         f"cols={cols})")
    # The document's 4x4 inches for its 5x4 grid, kept proportional for other grids.
    figure = _new_figure("plot_images", (max(2.0, 1.0 * cols), max(2.0, 0.8 * rows)))
    for i in range(count):
        axes = figure.add_subplot(rows, cols, i + 1)
        axes.imshow(_as_image("plot_images", images[i]), cmap=cmap)
        _bare(axes)
        if labels is not None:
            axes.set_title(str(labels[i]), fontsize=8)
    return _finish(figure, path)
