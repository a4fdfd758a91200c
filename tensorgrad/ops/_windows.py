"""Windows over (N, C, H, W) images, shared by convolution and pooling: the output size of a
kernel sliding over an image, padding, which pixels each kernel offset reads, and how many
images the fast ops take at a time.

Pooling and the fast convolution loop over the kh·kw *kernel offsets* (9 for a 3×3 kernel), not
over windows or pixels: offset (i, j) of every window at once is one strided slice of the image,
pixels (oh·sh + i, ow·sw + j) for every output pixel (oh, ow).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterator

import numpy as np

from ..errors import InputError
from ._args import check_pair


@dataclass(frozen=True)
class Window:
    """A kernel sliding over images: its size, stride and padding (each (rows, columns)), and the
    output size it gives, out_h × out_w."""

    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    out_h: int
    out_w: int

    def offsets(self) -> tuple[tuple[slice, slice], ...]:
        """For each kernel offset (i, j), row-major: the (rows, cols) slices of the padded image
        that offset reads across all windows (pixels (oh·sh + i, ow·sw + j))."""
        return _offsets(*self.kernel, *self.stride, self.out_h, self.out_w)

    def unpad(self, padded: np.ndarray, rows_axis: int = 2) -> np.ndarray:
        """The part of a padded image (or of its gradient) that is the image itself."""
        (ph, pw), index = self.padding, [slice(None)] * padded.ndim
        index[rows_axis] = slice(ph, padded.shape[rows_axis] - ph)
        index[rows_axis + 1] = slice(pw, padded.shape[rows_axis + 1] - pw)
        return padded[tuple(index)]


def sliding_window(op: str, x: np.ndarray, kernel: tuple[int, int], stride: Any, padding: Any,
                   detail: str = "") -> Window:
    """Check a 4-D input, a kernel, a stride and a padding against each other; the Window."""
    if x.ndim != 4:
        raise InputError(f"{op}: input must be 4-D (N, C, H, W), got shape {x.shape}{detail}")
    (sh, sw), (ph, pw) = check_pair(op, "stride", stride, 1), check_pair(op, "padding", padding, 0)
    kh, kw = kernel
    h, w = x.shape[2] + 2 * ph, x.shape[3] + 2 * pw
    if kh > h or kw > w:
        raise InputError(f"{op}: kernel {kh}x{kw} is larger than the padded input {h}x{w} "
                         f"(input {x.shape}, padding {(ph, pw)}){detail}")
    return Window((kh, kw), (sh, sw), (ph, pw), (h - kh) // sh + 1, (w - kw) // sw + 1)


def pad(x: np.ndarray, padding: tuple[int, int], value: Any = 0, rows_axis: int = 2) -> np.ndarray:
    """x with padding[0] rows and padding[1] columns of ``value`` on each side (x itself when
    none); rows are axis 2 of (N, C, H, W) images, axis 1 of channels-last (N, H, W, C) ones."""
    ph, pw = padding
    if ph == 0 and pw == 0:
        return x
    widths = [(0, 0)] * x.ndim
    widths[rows_axis], widths[rows_axis + 1] = (ph, ph), (pw, pw)
    return np.pad(x, widths, constant_values=value)


@lru_cache(maxsize=256)
def _offsets(kh: int, kw: int, sh: int, sw: int, oh: int, ow: int) -> tuple[tuple[slice, slice], ...]:
    return tuple((slice(i, i + sh * (oh - 1) + 1, sh), slice(j, j + sw * (ow - 1) + 1, sw))
                 for i in range(kh) for j in range(kw))


def is_channels_last(x: np.ndarray) -> bool:
    """Whether (N, C, H, W) array x is stored channels-last, (N, H, W, C) in memory (as the fast
    Conv2d's output is)."""
    return x.transpose(0, 2, 3, 1).flags.c_contiguous


# ------------------------------------------------------------------------- chunks of images
# The fast convolution and pooling go through the batch a few images at a time, so that what
# they work on stays in the CPU cache between passes (see ops/conv.py).
#
# Size of a chunk's patch matrix. Measured on the two convs of document 003's CNN (batch 128,
# float32, forward + backward): 2-8 MB chunks are fastest (143 ms); 0.5 MB 160 ms; 16 MB 161 ms;
# one chunk for the whole batch (85 MB of patches for the second conv) 184 ms.
CHUNK_BYTES = 4 * 2**20
# ... and of its output, which is gone over more often (bias, activation, pooling, and in backward
# the activation's slope and the gradient's products), so it should stay in a core's L2 cache.
# It bounds the chunk of a first layer (9 numbers per patch, 32 channels out; the second conv's
# patches are wider and bound its chunk). That conv, 4 MB -> 1 MB of output per chunk, interleaved
# medians of 30: forward 0.93-0.94, backward 0.89-0.94 of the time (0.5 MB: 1.00 and 0.98).
OUTPUT_CHUNK_BYTES = 2**20


def chunks(images: range, step: int) -> Iterator[tuple[int, int]]:
    """(first image, image count) of each chunk of at most ``step`` images of ``images`` (a share
    of the batch, see parallel.run_shares), in order."""
    for first in range(images.start, images.stop, step):
        yield first, min(step, images.stop - first)


def images_per_chunk(bytes_per_image: int, output_bytes_per_image: int = 0) -> int:
    """How many images per chunk keep a chunk's working array near CHUNK_BYTES and its output (if
    given) near OUTPUT_CHUNK_BYTES; at least one."""
    images = CHUNK_BYTES // max(bytes_per_image, 1)
    if output_bytes_per_image:
        images = min(images, OUTPUT_CHUNK_BYTES // output_bytes_per_image)
    return max(1, images)
