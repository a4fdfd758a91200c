"""Find and load the full MNIST and Fashion-MNIST datasets from IDX files on disk.

Both datasets come as four files with the same standard names, raw or gzip-compressed::

    train-images-idx3-ubyte[.gz]  train-labels-idx1-ubyte[.gz]
    t10k-images-idx3-ubyte[.gz]   t10k-labels-idx1-ubyte[.gz]

``load_mnist`` and ``load_fashion_mnist`` look for them in the directories listed by
``dataset_search_dirs`` and, with ``download=True``, fetch them when none has them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .download import default_cache_dir, download_dataset
from .idx import read_idx

__all__ = [
    "DATA_DIR_ENV",
    "DatasetNotFoundError",
    "SYSTEM_DATA_DIRS",
    "Split",
    "dataset_search_dirs",
    "load_fashion_mnist",
    "load_mnist",
    "read_idx_split",
]

# Environment variable naming a directory that holds the datasets (or their subfolders).
DATA_DIR_ENV = "TENSORGRAD_DATA"

# Where operating-system packages install a dataset: Debian's dataset-fashion-mnist.
SYSTEM_DATA_DIRS: dict[str, tuple[Path, ...]] = {
    "mnist": (),
    "fashion-mnist": (Path("/usr/share/datasets/fashion-mnist"),),
}

# The four files, in the order of the Split fields they fill.
STANDARD_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)

_TITLES = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}
# Where a not-found message's advice begins: `tensorgrad train` keeps the part before it (where it
# looked) and gives its own flags (--data-dir, --download) instead of the Python arguments after it.
_REMEDIES_HEADING = "\nTo get the data, either:"
_INSTALL_HINTS = {
    "fashion-mnist": "on Debian or Ubuntu, `apt install dataset-fashion-mnist` "
                     "(installs /usr/share/datasets/fashion-mnist)",
}


class Split(NamedTuple):
    """A dataset's training and test sets: images (N, 28, 28) uint8, labels (N,) int64.

    Unpacks like a tuple: ``x_train, y_train, x_test, y_test = load_mnist()``.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


class DatasetNotFoundError(FileNotFoundError):
    """A dataset's files are in none of the places searched.

    The message lists every directory looked in and how to get the data.
    """


def dataset_search_dirs(name: str, root: str | os.PathLike[str] | None = None) -> list[Path]:
    """List the directories searched for a dataset's four files, in search order.

    The order is: ``root/<name>`` and ``root`` (if ``root`` is given), then
    ``$TENSORGRAD_DATA/<name>`` and ``$TENSORGRAD_DATA`` (if set), then
    ``~/.cache/tensorgrad/<name>``, then system locations (for Fashion-MNIST, Debian's
    ``/usr/share/datasets/fashion-mnist``). The named subfolder comes first so that a
    directory holding both datasets in subfolders is read correctly.

    Args:
        name: ``"mnist"`` or ``"fashion-mnist"``.
        root: an explicit directory to look in first.

    Returns:
        The directories, whether or not they exist.

    Example:
        >>> dataset_search_dirs("mnist", "data")[:2]  # doctest: +SKIP
        [PosixPath('data/mnist'), PosixPath('data')]
    """
    dirs: list[Path] = []
    if root is not None:
        root = Path(root).expanduser()
        dirs += [root / name, root]
    env_dir = os.environ.get(DATA_DIR_ENV)
    if env_dir:
        env_path = Path(env_dir).expanduser()
        dirs += [env_path / name, env_path]
    dirs.append(default_cache_dir(name))
    dirs += SYSTEM_DATA_DIRS.get(name, ())
    return dirs


def load_mnist(root: str | os.PathLike[str] | None = None, *, download: bool = False) -> Split:
    """Load the full MNIST handwritten digits: 60,000 training and 10,000 test images.

    Args:
        root: a directory holding the four IDX files (or a ``mnist/`` subfolder with
            them), searched before the default places (see ``dataset_search_dirs``).
        download: if the files are found nowhere, download them into ``root/mnist``,
            or ``~/.cache/tensorgrad/mnist`` without ``root``.

    Returns:
        A ``Split``: uint8 images of shape (N, 28, 28), int64 labels 0-9.

    Raises:
        DatasetNotFoundError: not found and ``download`` is False; the message lists
            the directories searched.
        DownloadError: ``download`` is True and no mirror delivered the files.
        IDXFormatError: a file is truncated or corrupt.
        ValueError: images and labels of a set differ in number.

    Example:
        >>> x_train, y_train, x_test, y_test = load_mnist(download=True)  # doctest: +SKIP
    """
    return _load_dataset("mnist", "load_mnist", root, download)


def load_fashion_mnist(root: str | os.PathLike[str] | None = None, *,
                       download: bool = False) -> Split:
    """Load the full Fashion-MNIST (Zalando): 60,000 training and 10,000 test images.

    Searched like ``load_mnist``, with the subfolder ``fashion-mnist/``, and last in
    Debian's ``/usr/share/datasets/fashion-mnist`` (``apt install dataset-fashion-mnist``).

    Args:
        root: a directory holding the four IDX files (or a ``fashion-mnist/`` subfolder).
        download: if the files are found nowhere, download them into
            ``root/fashion-mnist``, or ``~/.cache/tensorgrad/fashion-mnist`` without ``root``.

    Returns:
        A ``Split``: uint8 images of shape (N, 28, 28), int64 labels 0-9.

    Raises:
        DatasetNotFoundError: not found and ``download`` is False.
        DownloadError: ``download`` is True and no mirror delivered the files.
        IDXFormatError: a file is truncated or corrupt.
        ValueError: images and labels of a set differ in number.

    Example:
        >>> split = load_fashion_mnist("~/data")  # doctest: +SKIP
    """
    return _load_dataset("fashion-mnist", "load_fashion_mnist", root, download)


def _load_dataset(name: str, function_name: str, root: str | os.PathLike[str] | None,
                  download: bool) -> Split:
    """Search for the dataset, download it if allowed and needed, and read it."""
    searched: list[str] = []
    for directory in dataset_search_dirs(name, root):
        files, missing = _standard_files_in(directory)
        if not missing:
            return _read_split(files, function_name)
        searched.append(_describe_search(directory, missing))

    if download:
        target = Path(root).expanduser() / name if root is not None else default_cache_dir(name)
        download_dataset(name, target)
        return _read_split([target / f"{stem}.gz" for stem in STANDARD_FILES], function_name)

    raise DatasetNotFoundError(_not_found_message(name, function_name, searched))


def read_idx_split(directory: str | os.PathLike[str]) -> Split:
    """Read the four standard IDX files from exactly one directory, without searching.

    Works for any dataset published in the MNIST layout (MNIST, Fashion-MNIST, KMNIST...).

    Args:
        directory: the directory holding ``train-images-idx3-ubyte[.gz]`` and the
            three other standard files.

    Returns:
        A ``Split`` with the images as stored and int64 labels.

    Raises:
        FileNotFoundError: a file is missing (the message names which).
        IDXFormatError: a file is truncated or corrupt.
        ValueError: images and labels of a set differ in number, or have the wrong
            number of dimensions.

    Example:
        >>> split = read_idx_split("data/kmnist")  # doctest: +SKIP
    """
    directory = Path(directory).expanduser()
    files, missing = _standard_files_in(directory)
    if missing:
        raise FileNotFoundError(f"read_idx_split: {directory}: missing "
                                f"{', '.join(stem + '[.gz]' for stem in missing)}")
    return _read_split(files, "read_idx_split")


def _standard_files_in(directory: Path) -> tuple[list[Path], list[str]]:
    """Return the paths of the standard files present in ``directory`` and the missing names.

    An uncompressed file is preferred to its ``.gz`` when both exist: it loads faster.
    """
    found: list[Path] = []
    missing: list[str] = []
    for stem in STANDARD_FILES:
        candidates = [directory / stem, directory / f"{stem}.gz"]
        present = next((path for path in candidates if path.is_file()), None)
        if present is None:
            missing.append(stem)
        else:
            found.append(present)
    return found, missing


def _read_split(files: list[Path], function_name: str) -> Split:
    """Read the four files (in ``STANDARD_FILES`` order) and check they fit together."""
    train_images, train_labels, test_images, test_labels = (read_idx(path) for path in files)
    pairs = [(train_images, train_labels, files[0], files[1]),
             (test_images, test_labels, files[2], files[3])]
    for images, labels, images_path, labels_path in pairs:
        if images.ndim != 3 or labels.ndim != 1:
            raise ValueError(
                f"{function_name}: expected images of shape (N, rows, cols) and labels of "
                f"shape (N,), got {images.shape} from {images_path} and {labels.shape} "
                f"from {labels_path}")
        if len(images) != len(labels):
            raise ValueError(
                f"{function_name}: {images_path} has {len(images)} images but "
                f"{labels_path} has {len(labels)} labels")
    return Split(train_images, train_labels.astype(np.int64),
                 test_images, test_labels.astype(np.int64))


def _describe_search(directory: Path, missing: list[str]) -> str:
    """One line of the not-found message: a directory and why it did not qualify."""
    if not directory.is_dir():
        return f"{directory} (no such directory)"
    if len(missing) == len(STANDARD_FILES):
        return f"{directory} (none of the files)"
    found_count = len(STANDARD_FILES) - len(missing)
    return f"{directory} (only {found_count} of 4 files; missing {', '.join(missing)})"


def _not_found_message(name: str, function_name: str, searched: list[str]) -> str:
    title = _TITLES.get(name, name)
    if not os.environ.get(DATA_DIR_ENV):
        searched = searched + [f"(${DATA_DIR_ENV} is not set, so nothing was searched there)"]
    ways = [
        f"pass download=True to download it into {default_cache_dir(name)} "
        f"(or into root/{name} when root is given)",
        f"put the four files in a directory and pass it as root=, or set {DATA_DIR_ENV} to it",
    ]
    if name in _INSTALL_HINTS:
        ways.append(_INSTALL_HINTS[name])
    wanted = ", ".join(stem + "[.gz]" for stem in STANDARD_FILES)
    return (
        f"{function_name}: {title} not found. Looked for {wanted} in:\n  "
        + "\n  ".join(searched)
        + _REMEDIES_HEADING + "\n  - " + "\n  - ".join(ways)
        + "\nOr use the small MNIST subset that ships with tensorgrad: "
          "tensorgrad.data.load_mnist_sample()."
    )
