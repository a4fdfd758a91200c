#!/usr/bin/env python3
"""Build tensorgrad/data/mnist_sample.npz, the MNIST subset that ships with tensorgrad.

From the full MNIST IDX files it takes, for each digit, 1,000 training images and 200
test images chosen at random with a fixed seed (so every run picks the same images),
shuffles each set, and saves uint8 images (N, 28, 28), uint8 labels, and the indices
of the chosen images in the original files, with ``np.savez_compressed``. It refuses
to leave a file larger than ``--max-bytes`` (3,000,000 by default).

Usage, from the repository root:

    python tools/make_sample.py                      # reads ../shared/data/mnist
    python tools/make_sample.py --source DIR --train-per-class 800
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # use this checkout's tensorgrad, installed or not

from tensorgrad.data import Split, class_balanced_indices, read_idx_split  # noqa: E402

DEFAULT_SOURCE = REPO_ROOT.parent / "shared" / "data" / "mnist"
DEFAULT_OUTPUT = REPO_ROOT / "tensorgrad" / "data" / "mnist_sample.npz"
DEFAULT_SEED = 1998  # the year MNIST was published
DEFAULT_MAX_BYTES = 3_000_000


def build_sample(split: Split, train_per_class: int, test_per_class: int,
                 seed: int) -> dict[str, np.ndarray]:
    """Pick a class-balanced subset of a split; return the arrays to save.

    The test set is drawn with ``seed + 1`` so that it does not mirror the training draw.
    """
    train_index = class_balanced_indices(split.y_train, train_per_class, seed=seed)
    test_index = class_balanced_indices(split.y_test, test_per_class, seed=seed + 1)
    return {
        "x_train": split.x_train[train_index].astype(np.uint8),
        "y_train": split.y_train[train_index].astype(np.uint8),
        "x_test": split.x_test[test_index].astype(np.uint8),
        "y_test": split.y_test[test_index].astype(np.uint8),
        # Where each image came from in the original files, for provenance.
        "train_source_index": train_index.astype(np.uint32),
        "test_source_index": test_index.astype(np.uint32),
        "seed": np.array(seed, dtype=np.int64),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE,
                        help="directory with the four MNIST IDX files (default: %(default)s)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT,
                        help="the .npz to write (default: %(default)s)")
    parser.add_argument("--train-per-class", type=int, default=1000)
    parser.add_argument("--test-per-class", type=int, default=200)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--max-bytes", type=int, default=DEFAULT_MAX_BYTES,
                        help="fail if the file comes out larger (default: %(default)s)")
    args = parser.parse_args(argv)

    split = read_idx_split(args.source)
    arrays = build_sample(split, args.train_per_class, args.test_per_class, args.seed)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.output, **arrays)

    size = args.output.stat().st_size
    if size > args.max_bytes:
        args.output.unlink()
        print(f"make_sample: {args.output} would be {size:,} bytes, over --max-bytes "
              f"{args.max_bytes:,}; removed it. Try a smaller --train-per-class.",
              file=sys.stderr)
        return 1
    train_counts = np.bincount(arrays["y_train"], minlength=10).tolist()
    test_counts = np.bincount(arrays["y_test"], minlength=10).tolist()
    print(f"wrote {args.output}: {size:,} bytes; "
          f"train {len(arrays['y_train'])} images, per class {train_counts}; "
          f"test {len(arrays['y_test'])} images, per class {test_counts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
