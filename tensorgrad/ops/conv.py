"""2-D convolution and pooling over (N, C, H, W) images, as PyTorch lays them out.

Notation in the formulas: ``g`` is the gradient arriving from the output, ``x`` the input image,
``w`` the kernel (O, C, kh, kw), ``b`` the bias (O,).

How the convolution is computed (im2col): ``sliding_window_view`` gives every kh×kw window of the
image as a strided view (no copy); one copy lays the windows out as a matrix of "patches" with one
row per output pixel and one column per (kernel row, kernel column, channel); then the whole
convolution is one matrix product ``patches @ w (kh·kw·C, O)``. Backward is two more products:
``∂w = patchesᵀ @ g`` and ``∂patches = g @ wᵀ`` (the latter one kernel offset at a time), and the
patch gradients are added back onto the image (col2im) with one strided add per kernel offset (9
for a 3×3 kernel) -- never a Python loop over output pixels.

Layout: arrays have PyTorch's (N, C, H, W) shape, but a convolution stores its output
channels-last, (N, H, W, C) in memory, and returns it as a transposed view. That is the layout
the patch matrix wants (a window's channels are contiguous), the product writes it directly, and
it flows on: a ReLU keeps its input's layout, max pooling has a path for it, and the next
convolution's patches are then read from contiguous rows. Shapes, values and gradients are the
same whatever the layout; only the speed differs (measured on document 003's conv-ReLU-conv-ReLU-
maxpool stack, batch 128, forward + backward: 294-314 ms with (N, C, H, W) arrays, 203-215 ms
channels-last).

Speed: the batch is processed in chunks of a few images, so the patch matrix (kh·kw times larger
than the image) is a few MB that stays in the CPU cache and is reused from chunk to chunk,
instead of one array of ~85 MB per layer that is paged in afresh at every step. Backward rebuilds
each chunk's patches rather than keeping them from forward, for the same reason. Where the output
is wider than the patches (a first layer: 9 numbers per patch, 32 channels out), the output
bounds the chunk instead, so that the bias, the activation and their gradients also run in cache.
With ``tensorgrad.set_num_threads(n)``, the batch is cut into n shares of whole images, and each
thread goes through its share's chunks with buffers of its own; the weight and bias gradients are
each share's sums, added in batch order.

Pooling loops over the kh·kw kernel offsets (4 for 2×2), each offset being one strided slice of
the image across all windows; nothing loops over windows or pixels.
"""
from __future__ import annotations

from functools import lru_cache, partial
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .. import parallel
from ..autograd import Function
from .nn import _check_floating, fused_activation, fused_name_and_formula

if TYPE_CHECKING:  # for the functions' return annotations only: tensor.py imports the ops
    from ..tensor import Tensor

__all__ = ["MAX_POOL_FUSES_AFTER", "Conv2d", "MaxPool2d", "AvgPool2d", "conv2d", "max_pool2d", "avg_pool2d"]

# Size of a chunk's patch matrix. Measured on the two convs of document 003's CNN (batch 128,
# float32, forward + backward): 2-8 MB chunks are fastest (143 ms); 0.5 MB 160 ms; 16 MB 161 ms;
# one chunk for the whole batch (85 MB of patches for the second conv) 184 ms.
CHUNK_BYTES = 4 * 2**20
# ... and of its output, which is gone over more often (bias, activation, pooling, and in backward
# the activation's slope and the gradient's products), so it should stay in a core's L2 cache.
# It bounds the chunk of a first layer (9 numbers per patch, 32 channels out; the second conv's
# patches are wider and bound its chunk). That conv, 4 MB -> 1 MB of output per chunk, interleaved
# medians of 30: forward 0.93-0.94, backward 0.89-0.94 of the time (0.5 MB: 1.00 and 0.98). It was
# one 11 MB chunk before any bound: forward 7.8-8.0 ms, backward 13.1-13.2 against 7.0-7.3 and
# 12.1-12.5 with the 4 MB bound.
OUTPUT_CHUNK_BYTES = 2**20

#: the activations (by name; None for none) after which ``max_pool`` fuses into a convolution:
#: sigmoid or tanh can round two different maxima to one value (both 1.0), and the tie would then
#: send the gradient elsewhere than max pooling after the activation does
MAX_POOL_FUSES_AFTER = (None, "relu")


# ------------------------------------------------------------------------------------- helpers
def _pair(value: Any, what: str, op: str, minimum: int) -> tuple[int, int]:
    """An int or a pair of ints as (height, width), at least ``minimum`` each, or a ValueError."""
    pair = (value, value) if isinstance(value, (int, np.integer)) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, (int, np.integer)) for v in pair):
        raise ValueError(f"{op}: {what} must be an int or a pair of ints, got {value!r}")
    if min(pair) < minimum:
        raise ValueError(f"{op}: {what} must be {'positive' if minimum else 'non-negative'}, got {value!r}")
    return int(pair[0]), int(pair[1])


def _lowest(dtype: np.dtype) -> Any:
    """The value below every other of ``dtype``, for max-pooling borders: −inf, or an integer
    type's minimum (−inf cannot be stored in an integer array)."""
    return np.iinfo(dtype).min if dtype.kind in "iu" else False if dtype.kind == "b" else -np.inf


def _geometry(op: str, x: np.ndarray, kernel: tuple[int, int], stride: Any, padding: Any,
              detail: str) -> tuple[tuple[int, int], tuple[int, int], int, int]:
    """Check a 4-D input against a kernel; return (stride, padding, output height, output width)."""
    if x.ndim != 4:
        raise ValueError(f"{op}: input must be 4-D (N, C, H, W), got shape {x.shape}{detail}")
    sh, sw = _pair(stride, "stride", op, 1)
    ph, pw = _pair(padding, "padding", op, 0)
    kh, kw = kernel
    h, w = x.shape[2] + 2 * ph, x.shape[3] + 2 * pw
    if kh > h or kw > w:
        raise ValueError(f"{op}: kernel {kh}x{kw} is larger than the padded input {h}x{w} "
                         f"(input {x.shape}, padding {(ph, pw)}){detail}")
    return (sh, sw), (ph, pw), (h - kh) // sh + 1, (w - kw) // sw + 1


def _pad(x: np.ndarray, ph: int, pw: int, value: float = 0.0, rows_axis: int = 2) -> np.ndarray:
    """x with ``ph`` rows and ``pw`` columns of ``value`` on each side (x itself when none); rows
    are axis 2 of (N, C, H, W) images, axis 1 of channels-last (N, H, W, C) ones."""
    if ph == 0 and pw == 0:
        return x
    widths = [(0, 0)] * x.ndim
    widths[rows_axis], widths[rows_axis + 1] = (ph, ph), (pw, pw)
    return np.pad(x, widths, constant_values=value)


def _kernel_matrix(weight: np.ndarray, dtype: Any) -> np.ndarray:
    """PyTorch's kernel (O, C, kh, kw) as the (kh·kw·C, O) matrix that channels-last patches meet."""
    O = weight.shape[0]
    return np.ascontiguousarray(weight.transpose(2, 3, 1, 0).reshape(-1, O), dtype=dtype)


def _kernel_from_matrix(matrix: np.ndarray, w_shape: tuple[int, ...]) -> np.ndarray:
    """Inverse of _kernel_matrix: (kh·kw·C, O) back to (O, C, kh, kw)."""
    O, C, kh, kw = w_shape
    return np.ascontiguousarray(matrix.reshape(kh, kw, C, O).transpose(3, 2, 0, 1))


def _im2col(xt: np.ndarray, kh: int, kw: int, sh: int, sw: int, OH: int, OW: int,
            out: np.ndarray) -> np.ndarray:
    """Copy the windows of channels-last images xt (n, Hp, Wp, C) into ``out`` (n·OH·OW, kh·kw·C).

    Row (image, oh, ow) holds the window at output pixel (oh, ow), ordered (kernel row, kernel
    column, channel): x[image, oh·sh + i, ow·sw + j, c]. ``sliding_window_view`` gives every window
    as a strided view; this is the one copy.
    """
    n, C = xt.shape[0], xt.shape[3]
    if C == 1:
        # One channel (the images themselves): the windows' rows are only kw numbers long, and
        # one strided copy per kernel offset (whole image rows at a time) is faster (measured
        # 0.6-0.8 ms against 2.2-3.5 ms for a batch of 128 MNIST images; slower from 3 channels).
        patches = out.reshape(n, OH, OW, kh * kw, C)
        for k, (rows, cols) in enumerate(_offsets(kh, kw, sh, sw, OH, OW)):
            patches[:, :, :, k] = xt[:, rows, cols]
        return out
    windows = sliding_window_view(xt, (kh, kw), axis=(1, 2))[:, ::sh, ::sw]  # (n, OH, OW, C, kh, kw)
    np.copyto(out.reshape(n, OH, OW, kh, kw, C), windows.transpose(0, 1, 2, 4, 5, 3))
    return out


def _add_input_gradient(g: np.ndarray, kernel_by_offset: np.ndarray, dxt: np.ndarray,
                        offsets: list[tuple[slice, slice]], buffer: np.ndarray) -> None:
    """col2im: add the input gradient of a convolution onto the channels-last image gradient
    ``dxt`` (n, Hp, Wp, C), from its output gradient ``g`` (n, OH, OW, O) as (n·OH·OW, O) rows.

    Kernel offset k = (i, j) of every window read the strided image slice ``offsets[k]`` (see
    _offsets) through the kernel's (C, O) block w_k, so that slice gets g @ w_kᵀ: one product into
    ``buffer`` (n·OH·OW, C) and one strided add per offset. Not one product ∂patches = g @ wᵀ for
    all offsets at once: a row of ∂patches interleaves the offsets, so each offset's add would
    run over pieces of only C numbers and pay NumPy's cost per piece, where the buffer is added
    over whole image rows (measured on the CNN's second conv, interleaved: 0.72 of the time).
    """
    for k, (rows, cols) in enumerate(offsets):
        part = np.matmul(g, kernel_by_offset[k], out=buffer)  # (n·OH·OW, O) @ (O, C)
        image_slice = dxt[:, rows, cols]                         # (n, OH, OW, C), a view
        image_slice += part.reshape(image_slice.shape)


def _is_channels_last(x: np.ndarray) -> bool:
    """Whether (N, C, H, W) array x is stored channels-last (as Conv2d's output is)."""
    return x.transpose(0, 2, 3, 1).flags.c_contiguous


def _tiles(xt: np.ndarray, kh: int, kw: int, OH: int, OW: int) -> np.ndarray:
    """The windows of non-overlapping kh×kw pooling of channels-last images xt (N, H, W, C), as
    the view (N, OH, kh, OW, kw, C) (rows and columns past the last whole window left out)."""
    return xt[:, :OH * kh, :OW * kw].reshape(xt.shape[0], OH, kh, OW, kw, xt.shape[3])


@lru_cache(maxsize=None)
def _window_pixels(kh: int, kw: int) -> tuple[tuple[int, int], ...]:
    """The (row, column) of each pixel of a kh×kw window, row-major (pixel k = i·kw + j): a tuple
    made once, as np.ndindex costs ~25 µs a call (0.6 ms per forward of the CNN's pooled conv)."""
    return tuple((i, j) for i in range(kh) for j in range(kw))


def _max_of_tiles(tiles: np.ndarray, pooled: np.ndarray, first: np.ndarray) -> None:
    """Max pooling of ``tiles`` (N, OH, kh, OW, kw, C) into ``pooled`` (N, OH, OW, C), and into
    ``first`` the row-major index (i·kw + j) of each window's first maximum: the one PyTorch
    gives the gradient to. A running max over the kernel offsets, where offset k takes a window
    over only if it is strictly greater (a tie stays with the earlier offset); as k only grows,
    first = max(first, k·[taken over]), two passes over small integers instead of a masked copy
    (measured on the CNN's pooling: 0.1 ms against 7 ms for np.copyto(first, k, where=...))."""
    kh, kw = tiles.shape[2], tiles.shape[4]
    np.copyto(pooled, tiles[:, :, 0, :, 0])
    first.fill(0)
    greater = np.empty(pooled.shape, bool)
    taken = np.empty(first.shape, first.dtype)
    for k, (i, j) in enumerate(_window_pixels(kh, kw)):
        if k:
            np.greater(tiles[:, :, i, :, j], pooled, out=greater)
            np.multiply(greater, first.dtype.type(k), out=taken)
            np.maximum(first, taken, out=first)
            np.maximum(pooled, tiles[:, :, i, :, j], out=pooled)


def _route_to_first_max(g: np.ndarray, first: np.ndarray, dtiles: np.ndarray) -> None:
    """Max pooling's backward: ``dtiles`` (N, OH, kh, OW, kw, C) = ``g`` (N, OH, OW, C) at each
    window's first maximum (``first``, from _max_of_tiles), 0 at its other pixels."""
    kh, kw = dtiles.shape[2], dtiles.shape[4]
    hit = np.empty(first.shape, bool)
    for k, (i, j) in enumerate(_window_pixels(kh, kw)):
        np.equal(first, k, out=hit)
        np.multiply(g, hit, out=dtiles[:, :, i, :, j])


def _pooled_gradient(shape: tuple[int, ...], dtype: Any, kh: int, kw: int, OH: int, OW: int) -> np.ndarray:
    """An array for the gradient of channels-last images ``shape`` (N, H, W, C) that _route_to_first_max
    fills window by window: zeros where no whole window reaches (rows and columns past the last
    one get no gradient), left unset otherwise."""
    covered = shape[1:3] == (OH * kh, OW * kw)
    return (np.empty if covered else np.zeros)(shape, dtype)


def _index_dtype(count: int) -> np.dtype:
    """The smallest unsigned integer type that numbers ``count`` kernel offsets (uint8 up to 256)."""
    return np.min_scalar_type(max(count - 1, 0))


def _offsets(kh: int, kw: int, sh: int, sw: int, oh: int, ow: int) -> list[tuple[slice, slice]]:
    """For each kernel offset (i, j), row-major: the (rows, cols) slices of the padded image that
    offset covers across all windows, i.e. pixels (oh·sh + i, ow·sw + j)."""
    return [(slice(i, i + sh * (oh - 1) + 1, sh), slice(j, j + sw * (ow - 1) + 1, sw))
            for i in range(kh) for j in range(kw)]


def _pool_geometry(op: str, x: np.ndarray, kernel: tuple[int, int], stride: Any, padding: Any):
    """Pooling's checks on top of _geometry: stride defaults to the kernel, padding ≤ kernel/2."""
    geometry = _geometry(op, x, kernel, kernel if stride is None else stride, padding, "")
    (ph, pw), (kh, kw) = geometry[1], kernel
    if 2 * ph > kh or 2 * pw > kw:
        raise ValueError(f"{op}: padding {(ph, pw)} must be at most half the kernel size {(kh, kw)}")
    return geometry


def _chunk(per_image: int, output_per_image: int = 0) -> int:
    """How many images per chunk keep a chunk's patch matrix (``per_image`` bytes an image) near
    CHUNK_BYTES and its output (if given) near OUTPUT_CHUNK_BYTES."""
    images = CHUNK_BYTES // max(per_image, 1)
    if output_per_image:
        images = min(images, OUTPUT_CHUNK_BYTES // output_per_image)
    return max(1, images)


# ---------------------------------------------------------------------------------------- ops
class Conv2d(Function):
    """2-D convolution (cross-correlation, as PyTorch): ``Conv2d.apply(x, w[, b], stride=, padding=)``.

    x (N, C, H, W), w (O, C, kh, kw), optional b (O,) -> (N, O, OH, OW) with
    OH = (H + 2·padding − kh) // stride + 1. ``stride`` and ``padding`` are an int or (height, width).
    Without a bias, pass only x and w (``conv2d(x, w)`` does that for ``bias=None``).
    ``activation="relu"`` (or "sigmoid", "tanh") applies it to each chunk of the output while the
    chunk is in the CPU cache, and backward multiplies by its derivative chunk by chunk: one node
    ("conv2d+relu"), the same numbers as conv2d followed by relu, two passes over memory fewer.
    ``max_pool=k`` (after no activation or relu) then max-pools each chunk over k×k windows with
    stride k, in cache too, and returns the pooled output ("conv2d+relu+max_pool2d"): the
    convolution's own output is never stored whole, ReLU runs after the max on a quarter of the
    values (max and ReLU commute), and backward rebuilds each chunk's output gradient from the
    positions of the maxima. Same numbers and gradients as the three ops in a row.

    The output has the (N, O, OH, OW) shape of PyTorch, stored channels-last (see the module's
    docstring); NumPy's arithmetic does not depend on the layout, only its speed does.
    """

    name = "conv2d"
    formula = "∂x = full correlation of g with the flipped kernel,  ∂w = Σ g ⊗ patches,  ∂b = Σ g"

    def forward(self, x, weight, bias=None, stride=1, padding=0, activation=None, max_pool=None):
        detail = f" (input {x.shape}, weight {weight.shape})"
        if weight.ndim != 4:
            raise ValueError(f"conv2d: weight must be 4-D (out_channels, in_channels, kh, kw), got shape {weight.shape}")
        O, C, kh, kw = weight.shape
        if not min(weight.shape):
            raise ValueError(f"conv2d: weight must have at least one output channel, input channel and kernel "
                             f"row and column, got shape {weight.shape}")
        (sh, sw), (ph, pw), OH, OW = _geometry(self.name, x, (kh, kw), stride, padding, detail)
        if x.shape[1] != C:
            raise ValueError(f"conv2d: input has {x.shape[1]} channels but weight expects {C}{detail}")
        if bias is not None and bias.shape != (O,):
            raise ValueError(f"conv2d: bias must have shape ({O},) to match the weight's {O} output channels, "
                             f"got {bias.shape}{detail}")
        dtype = np.result_type(x, weight) if bias is None else np.result_type(x, weight, bias)
        self.activation = fused_activation(self, activation)
        pool = None if max_pool is None else self._pool_geometry(max_pool, OH, OW, detail)
        N, L, K = x.shape[0], OH * OW, kh * kw * C
        xt = _pad(x.transpose(0, 2, 3, 1), ph, pw, rows_axis=1)  # (N, Hp, Wp, C), a view if no padding
        kernel = _kernel_matrix(weight, dtype)                     # (kh·kw·C, O)

        step = _chunk(L * K * dtype.itemsize, L * O * dtype.itemsize)  # images per chunk: patches and output bounded
        if pool is None:
            out = np.empty((N, OH, OW, O), dtype)
        else:  # only the pooled output is kept: the convolution's is one chunk at a time
            (pkh, pkw), PH, PW = pool
            out = np.empty((N, PH, PW, O), dtype)
            first = np.empty((N, PH, PW, O), _index_dtype(pkh * pkw))

        def convolve(images: range) -> None:  # one thread's share of the batch, chunk by chunk
            cols = np.empty((min(step, len(images)) * L, K), dtype)  # one buffer, reused by every chunk
            if pool is not None:
                conv_chunk = np.empty((min(step, len(images)), OH, OW, O), dtype)
            for s in range(images.start, images.stop, step):
                n = min(step, images.stop - s)
                patches = _im2col(xt[s:s + n], kh, kw, sh, sw, OH, OW, cols[:n * L])
                conv = out[s:s + n] if pool is None else conv_chunk[:n]
                y = np.matmul(patches, kernel, out=conv.reshape(n * L, O))  # (n·L, K) @ (K, O)
                if bias is not None:
                    y += bias  # while the chunk is still in cache
                if pool is not None:  # pooled while in cache too; ReLU commutes with max, so it comes after
                    y = out[s:s + n]
                    _max_of_tiles(_tiles(conv, pkh, pkw, PH, PW), y, first[s:s + n])
                if self.activation is not None:
                    self.activation.activate(y, out=y)  # in place, in cache too: no second pass over the output

        parallel.run([partial(convolve, images) for images in parallel.parts(N)])
        # xt is x itself seen channels-last, unless padded; out only for the activation's slope
        self.save(xt, kernel, out if self.activation else None, first if pool else None)
        self.geometry = (x.shape, x.dtype, weight.shape, weight.dtype,
                         bias.dtype if bias is not None else None, (sh, sw), (ph, pw), dtype, (OH, OW), pool, step)
        return out.transpose(0, 3, 1, 2)  # (N, O, OH, OW) (or pooled), channels-last in memory

    def _pool_geometry(self, max_pool, OH, OW, detail):
        """Check ``max_pool`` (a kernel size; stride = kernel, no padding) against the convolution's
        output; name the node; return ((kh, kw), pooled height, pooled width)."""
        pkh, pkw = _pair(max_pool, "max_pool", self.name, 1)
        if (self.activation and self.activation.name) not in MAX_POOL_FUSES_AFTER:
            raise ValueError(f"conv2d: max_pool can be fused after no activation or 'relu' only, "
                             f"not '{self.activation.name}'")
        if pkh > OH or pkw > OW:
            raise ValueError(f"conv2d: max_pool kernel {(pkh, pkw)} is larger than the convolution's "
                             f"output {OH}x{OW}{detail}")
        stages = (self.activation, MaxPool2d) if self.activation else (MaxPool2d,)
        self.name, self.formula = fused_name_and_formula(Conv2d, *stages)
        return (pkh, pkw), OH // pkh, OW // pkw

    def backward(self, g):
        xt, kernel, out, first = self.saved
        (x_shape, x_dtype, w_shape, w_dtype, b_dtype, (sh, sw), (ph, pw), dtype,
         (OH, OW), pool, step) = self.geometry
        need_x, need_w = self.needs_input_grad[:2]
        need_b = len(self.needs_input_grad) > 2 and self.needs_input_grad[2]
        O, C, kh, kw = w_shape
        N = g.shape[0]
        L, K = OH * OW, kh * kw * C
        # g channels-last, (N, ·, O): free when g came from this layout (a ReLU, a pooling)
        gt = np.ascontiguousarray(g.transpose(0, 2, 3, 1), dtype).reshape(N, -1, O)

        # Per chunk of images: ∂w += patchesᵀ @ g (patches rebuilt into the reused buffer) and
        # ∂patches = g @ wᵀ, one kernel offset's columns at a time, each added back onto the image
        # slice that offset read (_add_input_gradient). That is the "full correlation of g with the
        # flipped kernel" of the formula, computed the cheaper way: doing it literally needs im2col
        # of g padded by k−1, a patch matrix O/C times larger than x's (2x for the CNN's second conv).
        if need_x:  # (the first conv of a net, on the data, skips all of this)
            # w_kᵀ (O, C) for each kernel offset k: rows k·C … (k+1)·C of the (kh·kw·C, O) matrix
            kernel_by_offset = np.ascontiguousarray(kernel.reshape(kh * kw, C, O).transpose(0, 2, 1))
            offsets = _offsets(kh, kw, sh, sw, OH, OW)
            dxt = np.empty(xt.shape, dtype)  # zeroed chunk by chunk, in cache, just before its adds

        def backpropagate(images: range) -> tuple[np.ndarray | None, np.ndarray | None]:
            """One thread's share of the batch: fills its images of dxt, returns its ∂w and ∂b."""
            chunk = min(step, len(images))
            grad_kernel = np.zeros((K, O), dtype) if need_w else None
            grad_bias = np.zeros(O, dtype) if need_b else None
            if need_b:  # Σ g as ones @ g: a matrix-vector product, ~5x faster than g.sum(axis=0) here
                ones = np.ones(chunk * L, dtype)
            if need_w:
                cols, part = np.empty((chunk * L, K), dtype), np.empty((K, O), dtype)
            if need_x:
                offset_gradient = np.empty((chunk * L, C), dtype)
            if pool is not None:  # the convolution's output gradient, one chunk at a time
                (pkh, pkw), PH, PW = pool
                dconv = _pooled_gradient((chunk, OH, OW, O), dtype, pkh, pkw, PH, PW)
            for s in range(images.start, images.stop, step):
                n = min(step, images.stop - s)
                gs = gt[s:s + n].reshape(-1, O)
                if self.activation is not None:  # ∂ pre-activation, chunk by chunk while it is in cache
                    gs = self.activation.slope(gs, out[s:s + n].reshape(-1, O))
                if pool is not None:  # then through the max pooling: to each window's first maximum
                    _route_to_first_max(gs.reshape(n, PH, PW, O), first[s:s + n], _tiles(dconv[:n], pkh, pkw, PH, PW))
                    gs = dconv[:n].reshape(n * L, O)
                if need_b:
                    grad_bias += ones[:n * L] @ gs
                if need_w:
                    patches = _im2col(xt[s:s + n], kh, kw, sh, sw, OH, OW, cols[:n * L])
                    grad_kernel += np.matmul(patches.T, gs, out=part)
                if need_x:
                    dxt[s:s + n] = 0
                    _add_input_gradient(gs, kernel_by_offset, dxt[s:s + n], offsets, offset_gradient[:n * L])
            return grad_kernel, grad_bias

        shares = parallel.run([partial(backpropagate, images) for images in parallel.parts(N)])
        grad_kernel, grad_bias = shares[0]
        for more_kernel, more_bias in shares[1:]:  # in batch order: the same sums for the same thread count
            if need_w:
                grad_kernel += more_kernel
            if need_b:
                grad_bias += more_bias

        grad_x = grad_w = grad_b = None
        if need_x:
            grad_x = dxt[:, ph:ph + x_shape[2], pw:pw + x_shape[3]].transpose(0, 3, 1, 2).astype(x_dtype, copy=False)
        if need_w:
            grad_w = _kernel_from_matrix(grad_kernel, w_shape).astype(w_dtype, copy=False)
        if need_b:
            grad_b = grad_bias.astype(b_dtype, copy=False)
        return (grad_x, grad_w, grad_b)[:len(self.needs_input_grad)]


class MaxPool2d(Function):
    """Max over each kernel window: ``MaxPool2d.apply(x, kernel_size=2, stride=None, padding=0)``.

    ``stride`` defaults to ``kernel_size``; padding adds −inf borders (at most half the kernel, as
    PyTorch). The gradient goes to the first maximum of each window only, as PyTorch does.
    """

    name = "max_pool2d"
    formula = "∂x = g routed to the (first) max of each window, 0 elsewhere"

    def forward(self, x, kernel_size=2, stride=None, padding=0):
        kh, kw = _pair(kernel_size, "kernel_size", self.name, 1)
        (sh, sw), (ph, pw), OH, OW = _pool_geometry(self.name, x, (kh, kw), stride, padding)
        if (sh, sw) == (kh, kw) and (ph, pw) == (0, 0) and _is_channels_last(x):
            return self._forward_tiles(x, kh, kw, OH, OW)
        self.tiles = False
        xp = _pad(x, ph, pw, _lowest(x.dtype))
        # windows[k] = kernel offset k of every window, (N, C, OH, OW): one strided copy per offset.
        # Kept for backward, whose compares are then on contiguous arrays (measured: backward 1.6x
        # faster than comparing against strided views of x again, for 2x2 pooling of the CNN).
        offsets = _offsets(kh, kw, sh, sw, OH, OW)
        windows = np.empty((len(offsets),) + x.shape[:2] + (OH, OW), xp.dtype)
        for k, (rows, cols) in enumerate(offsets):
            np.copyto(windows[k], xp[:, :, rows, cols])
        y = windows.max(axis=0)
        self.save(windows, y)
        self.geometry = (x.shape, xp.shape, offsets, sh < kh or sw < kw, (ph, pw))
        return y

    def _forward_tiles(self, x, kh, kw, OH, OW):
        """Windows that tile a channels-last image (a conv's output): the image reshaped to
        (N, OH, kh, OW, kw, C) is every window at once, with the channels innermost. A few images
        at a time, so that the passes over the kernel offsets re-read them from the cache."""
        self.tiles = True
        N, C, H, W = x.shape
        y = np.empty((N, OH, OW, C), x.dtype)
        first = np.empty((N, OH, OW, C), _index_dtype(kh * kw))
        tiles = _tiles(x.transpose(0, 2, 3, 1), kh, kw, OH, OW)
        step = _chunk(H * W * C * x.itemsize)
        for s in range(0, N, step):
            _max_of_tiles(tiles[s:s + step], y[s:s + step], first[s:s + step])
        self.save(first)  # backward needs only where each maximum was, not x
        self.geometry = (x.shape, x.dtype, kh, kw, step)
        return y.transpose(0, 3, 1, 2)  # (N, C, OH, OW), channels-last like x

    def backward(self, g):
        if self.tiles:
            return self._backward_tiles(g)
        windows, y = self.saved
        x_shape, padded_shape, offsets, overlapping, (ph, pw) = self.geometry
        dxp = np.zeros(padded_shape, np.result_type(g, y))
        remaining = g  # per window: its gradient until a maximum has taken it, then 0
        for k, (rows, cols) in enumerate(offsets):  # row-major order: the first max wins ties
            routed = remaining * (windows[k] == y)
            if overlapping:
                dxp[:, :, rows, cols] += routed  # a pixel in several windows gets all their gradients
            else:
                dxp[:, :, rows, cols] = routed
            if k < len(offsets) - 1:
                remaining = remaining - routed
        return (dxp[:, :, ph:ph + x_shape[2], pw:pw + x_shape[3]].astype(y.dtype, copy=False),)

    def _backward_tiles(self, g):
        (first,) = self.saved
        (N, C, H, W), dtype, kh, kw, step = self.geometry
        OH, OW = first.shape[1:3]
        gt = g.transpose(0, 2, 3, 1)  # (N, OH, OW, C): a view when g is channels-last
        dxt = _pooled_gradient((N, H, W, C), dtype, kh, kw, OH, OW)
        dtiles = _tiles(dxt, kh, kw, OH, OW)
        for s in range(0, N, step):
            _route_to_first_max(gt[s:s + step], first[s:s + step], dtiles[s:s + step])
        return (dxt.transpose(0, 3, 1, 2),)


class AvgPool2d(Function):
    """Mean over each kernel window: ``AvgPool2d.apply(x, kernel_size=2, stride=None, padding=0)``.

    ``stride`` defaults to ``kernel_size``; zero padding counts in the mean (PyTorch's default
    count_include_pad=True), so every window divides by kh·kw.
    """

    name = "avg_pool2d"
    formula = "∂x = g/(kh·kw) spread over each window"

    def forward(self, x, kernel_size=2, stride=None, padding=0):
        _check_floating(self.name, "input", x)  # a mean of integers is not one
        kh, kw = _pair(kernel_size, "kernel_size", self.name, 1)
        (sh, sw), (ph, pw), OH, OW = _pool_geometry(self.name, x, (kh, kw), stride, padding)
        xp = _pad(x, ph, pw)
        offsets = _offsets(kh, kw, sh, sw, OH, OW)
        total = xp[:, :, offsets[0][0], offsets[0][1]].copy()
        for rows, cols in offsets[1:]:
            total += xp[:, :, rows, cols]
        total *= np.asarray(1.0 / (kh * kw), total.dtype)
        self.geometry = (x.shape, x.dtype, xp.shape, offsets, (ph, pw), kh * kw)
        return total

    def backward(self, g):
        x_shape, x_dtype, padded_shape, offsets, (ph, pw), count = self.geometry
        share = g * np.asarray(1.0 / count, g.dtype)
        dxp = np.zeros(padded_shape, np.result_type(g, x_dtype))
        for rows, cols in offsets:
            dxp[:, :, rows, cols] += share
        return (dxp[:, :, ph:ph + x_shape[2], pw:pw + x_shape[3]].astype(x_dtype, copy=False),)


# ------------------------------------------------------------------------------ functional API
def conv2d(x: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
           activation: str | None = None, max_pool: Any = None) -> Tensor:
    """2-D convolution of x (N, C, H, W) with weight (O, C, kh, kw) plus an optional bias (O,).

    ``stride`` (default 1) is the step between windows and ``padding`` (default 0) the zeros added
    on each side, each an int or a (rows, columns) pair; the output is (N, O, OH, OW) with
    OH = (H + 2·padding − kh) // stride + 1 (OW alike). ``activation`` ("relu", "sigmoid",
    "tanh") applies that too, fused into the same node, and ``max_pool`` (a kernel size, after no
    activation or relu) then max pooling with stride = kernel: one node "conv2d+relu+max_pool2d",
    the numbers and gradients of the three ops in a row."""
    options = dict(stride=stride, padding=padding, activation=activation, max_pool=max_pool)
    if bias is None:
        return Conv2d.apply(x, weight, **options)
    return Conv2d.apply(x, weight, bias, **options)


def max_pool2d(x: Any, kernel_size: Any = 2, stride: Any = None, padding: Any = 0) -> Tensor:
    """Max over kernel_size windows (default 2x2) of x (N, C, H, W); stride defaults to
    kernel_size; ``padding`` adds −inf borders, at most half the kernel."""
    return MaxPool2d.apply(x, kernel_size=kernel_size, stride=stride, padding=padding)


def avg_pool2d(x: Any, kernel_size: Any = 2, stride: Any = None, padding: Any = 0) -> Tensor:
    """Mean over kernel_size windows (default 2x2) of floating-point x (N, C, H, W); stride
    defaults to kernel_size; ``padding`` adds zeros, at most half the kernel, that count in the mean."""
    return AvgPool2d.apply(x, kernel_size=kernel_size, stride=stride, padding=padding)
