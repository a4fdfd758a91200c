"""Datasets and batching for tensorgrad, in plain NumPy (no dependency on Tensor).

- ``load_mnist_sample()``: a 12,000-image MNIST subset shipped with the package.
- ``load_mnist()``, ``load_fashion_mnist()``: the full datasets from a directory,
  ``$TENSORGRAD_DATA``, ``~/.cache/tensorgrad``, a system location, or a download.
- ``DataLoader``, ``train_val_split``, ``one_hot``, ``normalize``: batching and
  preprocessing, NumPy arrays in and out.
- ``read_idx``, ``write_idx``: the IDX file format itself.

Example::

    from tensorgrad.data import DataLoader, load_mnist_sample, normalize, one_hot

    x_train, y_train, x_test, y_test = load_mnist_sample()
    loader = DataLoader(normalize(x_train, flatten=True), one_hot(y_train, 10),
                        batch_size=64, shuffle=True, seed=0)
"""

from .datasets import (
    DATA_DIR_ENV,
    SYSTEM_DATA_DIRS,
    DatasetNotFoundError,
    Split,
    dataset_search_dirs,
    load_fashion_mnist,
    load_mnist,
    read_idx_split,
)
from .download import (
    DATASET_SOURCES,
    DatasetSource,
    DownloadError,
    RemoteFile,
    default_cache_dir,
    download_dataset,
)
from .idx import IDXFormatError, read_idx, write_idx
from .loader import DataLoader, normalize, one_hot, train_val_split
from .sample import class_balanced_indices, load_mnist_sample

__all__ = [
    # loading datasets
    "Split",
    "load_mnist",
    "load_fashion_mnist",
    "load_mnist_sample",
    "dataset_search_dirs",
    "DatasetNotFoundError",
    "DATA_DIR_ENV",
    "SYSTEM_DATA_DIRS",
    # downloading
    "download_dataset",
    "default_cache_dir",
    "DATASET_SOURCES",
    "DatasetSource",
    "RemoteFile",
    "DownloadError",
    # IDX files
    "read_idx",
    "write_idx",
    "read_idx_split",
    "IDXFormatError",
    # batching and preprocessing
    "DataLoader",
    "train_val_split",
    "one_hot",
    "normalize",
    "class_balanced_indices",
]
