"""2-D convolution over (N, C, H, W) images, the fast way.

Read ``ops/conv_reference.py`` first: the same convolution in ~40 plain lines (im2col, then one
matrix product), which is also the oracle this op is tested against. This file computes the same
numbers and gradients, and departs from the reference only for speed, each time for a measured
reason:

- **Chunks of images.** The patch matrix is kh·kw times larger than the image (~85 MB for the
  CNN's second conv at batch 128). The batch goes through a few images at a time, so each chunk's
  patches (≤ 4 MB) and output (≤ 1 MB) stay in the CPU cache and the buffers are reused from
  chunk to chunk; backward rebuilds each chunk's patches instead of keeping them from forward.
- **Channels-last memory.** Arrays have PyTorch's (N, C, H, W) shape, but the output is stored
  (N, H, W, C) in memory and returned as a transposed view: that is the layout the patch matrix
  wants (a window's channels contiguous), the product writes it directly, a ReLU keeps it, max
  pooling has a path for it, and the next convolution reads its patches from contiguous rows
  (document 003's conv-ReLU-conv-ReLU-maxpool stack, forward + backward: 294-314 ms with
  (N, C, H, W) arrays, 203-215 ms channels-last).
- **col2im one kernel offset at a time** (see ``_add_input_gradient``), each add over whole
  image rows, instead of one product ∂patches = g·W for all offsets at once.
- **Threads.** With ``tensorgrad.set_num_threads(n)``, the batch is cut into n shares of whole
  images; each thread goes through its share's chunks with buffers of its own, and the weight
  and bias gradients are each share's sums, added in batch order.
- **Fusion** (``model.fuse()``): ``activation="relu"`` applies the activation to each chunk of
  the output while it is in cache, and ``max_pool=k`` then max-pools each chunk, so the
  convolution's full-size output is never stored ("conv2d+relu+max_pool2d").

Notation in the formulas: ``g`` is the gradient arriving from the output, ``x`` the input image,
``w`` the kernel (O, C, kh, kw), ``b`` the bias (O,).
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..autograd import Function
from ..errors import InputError
from ..speed import parallel
from ._args import check_pair
from . import _composite
from ._windows import Window, chunks, images_per_chunk, pad, sliding_window
from .elementwise import fused_activation, name_fused_node
from .reduce import column_sums
from .pool import MaxPool2d, index_dtype, max_of_tiles, pooled_gradient, route_to_first_max, tiles_of

__all__ = ["MAX_POOL_FUSES_AFTER", "PATCHES_MAX_CHANNELS", "Conv2d", "im2col"]

#: the activations (by name; None for none) after which ``max_pool`` fuses into a convolution:
#: sigmoid or tanh can round two different maxima to one value (both 1.0), and the tie would then
#: send the gradient elsewhere than max pooling after the activation does
MAX_POOL_FUSES_AFTER = (None, "relu")

#: up to this many input channels, a stride-1 convolution's input gradient is one product of g's
#: patches (see Conv2d._input_gradient_by_patches_applies)
PATCHES_MAX_CHANNELS = 16


class Conv2d(Function):
    """2-D convolution (cross-correlation, as PyTorch): ``Conv2d.apply(x, w[, b], stride=, padding=)``.

    x (N, C, H, W), w (O, C, kh, kw), optional b (O,) -> (N, O, OH, OW) with
    OH = (H + 2·padding − kh) // stride + 1. ``stride`` and ``padding`` are an int or (height, width).
    Without a bias, pass only x and w. ``activation`` ("relu", "sigmoid", "tanh") and ``max_pool``
    (a kernel size, after no activation or relu) fuse those ops into the node (see the module's
    docstring): the same numbers and gradients as the ops in a row.

    The output has the (N, O, OH, OW) shape of PyTorch, stored channels-last; NumPy's arithmetic
    does not depend on the layout, only its speed does.
    """

    name = "conv2d"
    formula = "∂x = full correlation of g with the flipped kernel,  ∂w = Σ g ⊗ patches,  ∂b = Σ g"

    def forward(self, x, weight, bias=None, stride=1, padding=0, activation=None, max_pool=None):
        parallel.convolution_ahead()  # under set_num_threads("auto"), threads on from the first convolution
        detail = f" (input {x.shape}, weight {weight.shape})"
        if weight.ndim != 4:
            raise InputError(f"conv2d: weight must be 4-D (out_channels, in_channels, kh, kw), got shape {weight.shape}")
        O, C, kh, kw = weight.shape
        if not min(weight.shape):
            raise InputError(f"conv2d: weight must have at least one output channel, input channel and kernel "
                             f"row and column, got shape {weight.shape}")
        self.window = window = sliding_window(self.name, x, (kh, kw), stride, padding, detail)
        if x.shape[1] != C:
            raise InputError(f"conv2d: input has {x.shape[1]} channels but weight expects {C}{detail}")
        if bias is not None and bias.shape != (O,):
            raise InputError(f"conv2d: bias must have shape ({O},) to match the weight's {O} output channels, "
                             f"got {bias.shape}{detail}")
        self.dtype = dtype = np.result_type(x, weight) if bias is None else np.result_type(x, weight, bias)
        self.activation = fused_activation(self, activation)
        self.pool = None if max_pool is None else self._check_pool(max_pool, detail)
        self.x_shape = x.shape
        N, OH, OW = x.shape[0], window.out_h, window.out_w
        L, K = OH * OW, kh * kw * C  # output pixels per image, numbers per patch
        xt = pad(x.transpose(0, 2, 3, 1), window.padding, rows_axis=1)  # (N, Hp, Wp, C), a view if no padding
        kernel = _kernel_matrix(weight, dtype)                            # (kh·kw·C, O)
        self.chunk = images_per_chunk(L * K * dtype.itemsize, L * O * dtype.itemsize)

        if self.pool is None:
            out = np.empty((N, OH, OW, O), dtype)
            first = None
        else:  # only the pooled output is kept: the convolution's is one chunk at a time
            PH, PW = self.pool_out
            out = np.empty((N, PH, PW, O), dtype)
            first = np.empty((N, PH, PW, O), index_dtype(self.pool))

        def start_thread():  # buffers of one thread, reused by every chunk it convolves
            step = min(self.chunk, N)
            cols = np.empty((step * L, K), dtype)
            conv_chunk = np.empty((step, OH, OW, O), dtype) if self.pool else None

            def convolve(images: range) -> None:  # a share of the batch, chunk by chunk
                for s, n in chunks(images, step):
                    patches = self._im2col(xt[s:s + n], cols[:n * L])
                    conv = out[s:s + n] if self.pool is None else conv_chunk[:n]
                    y = np.matmul(patches, kernel, out=conv.reshape(n * L, O))  # (n·L, K) @ (K, O)
                    if bias is not None:
                        y += bias  # while the chunk is still in cache
                    if self.pool is not None:  # pooled in cache too; ReLU commutes with max, so it comes after
                        y = out[s:s + n]
                        max_of_tiles(tiles_of(conv, self.pool, *self.pool_out), y, first[s:s + n])
                    if self.activation is not None:
                        self.activation.activate(y, out=y)  # in place, in cache too
            return convolve

        parallel.run_shares(N, start_thread)
        # xt is x itself seen channels-last, unless padded; out only for the activation's slope
        self.save(xt, kernel, out if self.activation else None, first)
        return out.transpose(0, 3, 1, 2)  # (N, O, OH, OW) (or pooled), channels-last in memory

    def composite(self, x, weight, bias=None):  # for gradients of gradients (see _composite.py)
        y = _composite.conv2d(x, weight, bias, self.window)
        if self.pool is not None:
            OH, OW = self.window.out_h, self.window.out_w
            y = _composite.max_pool2d(y, Window(self.pool, self.pool, (0, 0), OH // self.pool[0], OW // self.pool[1]))
        return y if self.activation is None else self.activation.apply(y)

    def _check_pool(self, max_pool, detail):
        """Check ``max_pool`` (a kernel size; stride = kernel, no padding) against the convolution's
        output, name the node, and keep the pooled output's size in ``self.pool_out``."""
        pkh, pkw = check_pair(self.name, "max_pool", max_pool, 1)
        if (self.activation and self.activation.name) not in MAX_POOL_FUSES_AFTER:
            raise InputError(f"conv2d: max_pool can be fused after no activation or 'relu' only, "
                             f"not '{self.activation.name}'")
        OH, OW = self.window.out_h, self.window.out_w
        if pkh > OH or pkw > OW:
            raise InputError(f"conv2d: max_pool kernel {(pkh, pkw)} is larger than the convolution's "
                             f"output {OH}x{OW}{detail}")
        name_fused_node(self, Conv2d, *((self.activation,) if self.activation else ()), MaxPool2d)
        self.pool_out = (OH // pkh, OW // pkw)
        return pkh, pkw

    def _im2col(self, xt: np.ndarray, out: np.ndarray) -> np.ndarray:
        """The patches of channels-last images xt (n, Hp, Wp, C) for this convolution (see im2col)."""
        return im2col(xt, self.window, out)

    def backward(self, g):
        xt, kernel, out, first = self.saved
        need_x, need_w = self.needs_input_grad[:2]
        need_b = len(self.needs_input_grad) > 2 and self.needs_input_grad[2]
        K, O = kernel.shape
        N, OH, OW, C = g.shape[0], self.window.out_h, self.window.out_w, self.x_shape[1]
        L, dtype = OH * OW, self.dtype
        # g channels-last, (N, ·, O): free when g came from this layout (a ReLU, a pooling)
        gt = np.ascontiguousarray(g.transpose(0, 2, 3, 1), dtype).reshape(N, -1, O)

        # Per chunk of images: ∂w += patchesᵀ @ g (patches rebuilt into the reused buffer) and
        # ∂patches = g @ wᵀ, one kernel offset's columns at a time, each added back onto the image
        # slice that offset read (_add_input_gradient). That is the "full correlation of g with the
        # flipped kernel" of the formula, computed the cheaper way: doing it literally needs im2col
        # of g padded by k−1, a patch matrix O/C times larger than x's (2x for the CNN's second conv).
        # For few input channels (C ≤ PATCHES_MAX_CHANNELS) with stride 1, those products of C
        # columns are slow, and the literal formula is faster: see _input_gradient_by_patches.
        by_patches = need_x and self._input_gradient_by_patches_applies(C)
        step = min(self.chunk, N)
        if by_patches:
            (kh, kw), (ph, pw) = self.window.kernel, self.window.padding
            H, W = self.x_shape[2:]
            # g padded by k − 1 − padding: windows of it over the flipped kernel give ∂x (H, W)
            g_window = Window((kh, kw), (1, 1), (kh - 1 - ph, kw - 1 - pw), H, W)
            # the kernel turned half a turn, as a (kh·kw·O, C) matrix: row (i, j, o) is w[o, :, kh−1−i, kw−1−j]
            flipped = np.ascontiguousarray(kernel.reshape(kh, kw, C, O)[::-1, ::-1].transpose(0, 1, 3, 2).reshape(-1, C))
            step = min(step, images_per_chunk(H * W * kh * kw * O * dtype.itemsize))
            grad_x_rows = np.empty((N * H * W, C), dtype)  # ∂x channels-last, written chunk by chunk
        elif need_x:  # (the first conv of a net, on the data, skips all of this)
            # w_kᵀ (O, C) for each kernel offset k: rows k·C … (k+1)·C of the (kh·kw·C, O) matrix
            kernel_by_offset = np.ascontiguousarray(kernel.reshape(-1, C, O).transpose(0, 2, 1))
            grad_xt = np.empty(xt.shape, dtype)  # zeroed chunk by chunk, in cache, just before its adds

        def start_thread():  # buffers of one thread, reused by every chunk it goes through
            if need_w:
                cols, part = np.empty((step * L, K), dtype), np.empty((K, O), dtype)
            if by_patches:
                padded_g = pad(np.zeros((step, OH, OW, O), dtype), g_window.padding, rows_axis=1)
                g_patches = np.empty((step * H * W, kh * kw * O), dtype)
            elif need_x:
                offset_gradient = np.empty((step * L, C), dtype)
            if self.pool is not None:  # the convolution's output gradient, one chunk at a time
                grad_conv = pooled_gradient((step, OH, OW, O), dtype, self.pool, self.pool_out)

            def backpropagate(images: range) -> tuple[np.ndarray | None, np.ndarray | None]:
                """A share of the batch: fills its images of grad_xt, returns its ∂w and ∂b."""
                grad_kernel = np.zeros((K, O), dtype) if need_w else None
                grad_bias = np.zeros(O, dtype) if need_b else None
                for s, n in chunks(images, step):
                    gs = gt[s:s + n].reshape(-1, O)
                    if self.activation is not None:  # ∂ pre-activation, chunk by chunk while it is in cache
                        gs = self.activation.slope(gs, out[s:s + n].reshape(-1, O))
                    if self.pool is not None:  # then through the max pooling: to each window's first maximum
                        route_to_first_max(gs.reshape(n, *self.pool_out, O), first[s:s + n],
                                           tiles_of(grad_conv[:n], self.pool, *self.pool_out))
                        gs = grad_conv[:n].reshape(n * L, O)
                    if need_b:
                        grad_bias += column_sums(gs)
                    if need_w:
                        patches = self._im2col(xt[s:s + n], cols[:n * L])
                        grad_kernel += np.matmul(patches.T, gs, out=part)
                    if by_patches:  # g into the middle of its zero-bordered buffer, then its windows
                        padded_g[:n, g_window.padding[0]:g_window.padding[0] + OH,
                                 g_window.padding[1]:g_window.padding[1] + OW] = gs.reshape(n, OH, OW, O)
                        patches = im2col(padded_g[:n], g_window, g_patches[:n * H * W])
                        np.matmul(patches, flipped, out=grad_x_rows[s * H * W:(s + n) * H * W])
                    elif need_x:
                        grad_xt[s:s + n] = 0
                        self._add_input_gradient(gs, kernel_by_offset, grad_xt[s:s + n], offset_gradient[:n * L])
                return grad_kernel, grad_bias
            return backpropagate

        shares = parallel.run_shares(N, start_thread)
        grad_kernel, grad_bias = shares[0]
        for more_kernel, more_bias in shares[1:]:  # in batch order: the same sums whatever the thread count
            if need_w:
                grad_kernel += more_kernel
            if need_b:
                grad_bias += more_bias

        if by_patches:
            grad_x = grad_x_rows.reshape(N, H, W, C).transpose(0, 3, 1, 2)
        else:
            grad_x = self.window.unpad(grad_xt, rows_axis=1).transpose(0, 3, 1, 2) if need_x else None
        grad_w = _kernel_from_matrix(grad_kernel, (O, C, *self.window.kernel)) if need_w else None
        return (grad_x, grad_w, grad_bias)[:len(self.needs_input_grad)]

    def _input_gradient_by_patches_applies(self, C: int) -> bool:
        """Whether backward computes ∂x as the formula says, the full correlation of g with the
        flipped kernel: the windows of g (padded by k − 1 − padding) as one patch matrix, times
        the flipped kernel (kh·kw·O, C), one product per chunk. That copies kh·kw·O numbers per
        pixel where the products by kernel offset (_add_input_gradient) add kh·kw·C, but those
        products have only C columns, and below ~16 BLAS runs them slowly. For stride 1 and
        padding < the kernel (fast-cnn's and the small ResNet's 3x3 convolutions). Measured, one
        thread, batch 128, ms for ∂x by offsets / by patches: 16 -> 32 channels at 14x14 6.7 / 5.4;
        32 -> 64 at 24x24 (document 003's) 43 / 77."""
        (kh, kw), (ph, pw) = self.window.kernel, self.window.padding
        return C <= PATCHES_MAX_CHANNELS and self.window.stride == (1, 1) and ph < kh and pw < kw

    def _add_input_gradient(self, g: np.ndarray, kernel_by_offset: np.ndarray, grad_xt: np.ndarray,
                            buffer: np.ndarray) -> None:
        """col2im: add the input gradient of a convolution onto the channels-last image gradient
        ``grad_xt`` (n, Hp, Wp, C), from its output gradient ``g`` (n, OH, OW, O) as (n·OH·OW, O) rows.

        Kernel offset k = (i, j) of every window read the strided image slice ``offsets[k]``
        through the kernel's (C, O) block w_k, so that slice gets g @ w_kᵀ: one product into
        ``buffer`` (n·OH·OW, C) and one strided add per offset. Not one product ∂patches = g @ wᵀ
        for all offsets at once: a row of ∂patches interleaves the offsets, so each offset's add
        would run over pieces of only C numbers and pay NumPy's cost per piece, where the buffer
        is added over whole image rows (measured on the CNN's second conv: 0.72 of the time).
        """
        for k, (rows, cols) in enumerate(self.window.offsets()):
            part = np.matmul(g, kernel_by_offset[k], out=buffer)  # (n·OH·OW, O) @ (O, C)
            image_slice = grad_xt[:, rows, cols]                    # (n, OH, OW, C), a view
            image_slice += part.reshape(image_slice.shape)


def im2col(xt: np.ndarray, window: Window, out: np.ndarray) -> np.ndarray:
    """Copy the windows of channels-last images xt (n, Hp, Wp, C) into ``out`` (n·OH·OW, kh·kw·C).

    Row (image, oh, ow) holds the window at output pixel (oh, ow), ordered (kernel row, kernel
    column, channel): x[image, oh·sh + i, ow·sw + j, c]. ``sliding_window_view`` gives every
    window as a strided view; this is the one copy.
    """
    (kh, kw), (sh, sw) = window.kernel, window.stride
    n, C, OH, OW = xt.shape[0], xt.shape[3], window.out_h, window.out_w
    if C == 1:
        # One channel (the images themselves): the windows' rows are only kw numbers long, and
        # one strided copy per kernel offset (whole image rows at a time) is faster (measured
        # 0.6-0.8 ms against 2.2-3.5 ms for a batch of 128 MNIST images; slower from 3 channels).
        patches = out.reshape(n, OH, OW, kh * kw, C)
        for k, (rows, cols) in enumerate(window.offsets()):
            patches[:, :, :, k] = xt[:, rows, cols]
        return out
    windows = sliding_window_view(xt, (kh, kw), axis=(1, 2))[:, ::sh, ::sw]  # (n, OH, OW, C, kh, kw)
    np.copyto(out.reshape(n, OH, OW, kh, kw, C), windows.transpose(0, 1, 2, 4, 5, 3))
    return out


def _kernel_matrix(weight: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """PyTorch's kernel (O, C, kh, kw) as the (kh·kw·C, O) matrix that channels-last patches meet."""
    return np.ascontiguousarray(weight.transpose(2, 3, 1, 0).reshape(-1, weight.shape[0]), dtype=dtype)


def _kernel_from_matrix(matrix: np.ndarray, w_shape: tuple[int, ...]) -> np.ndarray:
    """Inverse of _kernel_matrix: (kh·kw·C, O) back to (O, C, kh, kw)."""
    O, C, kh, kw = w_shape
    return np.ascontiguousarray(matrix.reshape(kh, kw, C, O).transpose(3, 2, 0, 1))
