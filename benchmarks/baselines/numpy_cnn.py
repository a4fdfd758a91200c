"""Document 003's CNN training step with its backward pass written by hand in NumPy: the floor that
speed.py measures tensorgrad's CNN step against.

The model: conv 3x3 (1 -> c1), ReLU, conv 3x3 (c1 -> c2), ReLU, max pool 2x2, flatten, dense,
ReLU, dense, softmax cross-entropy. Images are kept channels-last, (n, H, W, C): a 3x3 patch is
then 3·3 runs of C contiguous numbers and a convolution is one matrix product with no transposes.

Convolution as a matrix product (im2col). P(x), the patch matrix of x, has one row per output
pixel (n·OH·OW rows) holding the 3x3xC window that pixel reads (9·C columns, ordered kernel row,
kernel column, channel); K = kernel_matrix(weight) is the weight (O, C, 3, 3) laid out as (9·C, O).
Then, for a layer with output z (n·OH·OW, O):

    forward     z = P(x) · K + b
    weights     dK = P(x)ᵀ · dz                          (9·C, O)
    bias        db = Σ_rows dz
    input       dx = col2im(dz · Kᵀ): row r of dz · Kᵀ is the gradient of the window that output
                pixel r read, added back onto the 9 input pixels it came from (overlapping windows
                add up); col2im_ does it one kernel offset at a time (see there)

The whole step, with ⊙ elementwise and [·] a 0/1 mask:

    forward     a1 = ReLU(P(x)·K1 + b1)
                z2 = P(a1)·K2 + b2
                pooled = ReLU(maxpool(z2))               ReLU after the max: they commute
                first  = which pixel of each 2x2 window was its (first) maximum
                logits = the dense head (a NumpyMLP, see numpy_mlp.py) of pooled flattened
    backward    dpooled = the head's backward with its input gradient
                dm  = dpooled ⊙ [pooled > 0]             through the ReLU
                dz2 = dm at each window's first maximum, 0 at its other 3 pixels   (max pool)
                dK2 = P(a1)ᵀ·dz2,  db2 = Σ_rows dz2
                da1 = col2im(dz2·K2ᵀ)
                dz1 = da1 ⊙ [a1 > 0]                     through conv1's ReLU
                dK1 = P(x)ᵀ·dz1,  db1 = Σ_rows dz1       (no gradient for the images)
    update      K −= lr·dK, b −= lr·db for both convs, and the head's SGD step (updating K is
                updating the weight: the same numbers in another layout)

A tie in a pooling window (common on MNIST: blank margins give constant convolution outputs)
sends the gradient to the first maximum in row-major order, as PyTorch does.

What makes it fast, none of it changing the arithmetic (speed.py's self-check compares one step
with tensorgrad's and PyTorch's): the layers go through the batch in chunks of images whose patch
matrix (~CHUNK_BYTES) and output (~OUTPUT_CHUNK_BYTES) stay in the CPU's cache while they are
used, and backward rebuilds each chunk's patches rather than keeping the whole batch's from
forward; the max pool is done on each chunk of conv2's output while it is in cache, so that output
is never stored whole; every buffer is allocated once and written with out=.
"""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .numpy_mlp import NumpyMLP, sgd_update_
from .specs import DTYPE, LR, CNNSpec, MLPSpec

CHUNK_BYTES = 4 * 2**20  # patch matrix per chunk of images in NumpyCNN: stays in the CPU cache
OUTPUT_CHUNK_BYTES = 2**20  # and output, gone over more often: in L2 (conv1: 12 images, 0.95 of 48's time)


def kernel_matrix(weight: np.ndarray) -> np.ndarray:
    """PyTorch's (O, C, kh, kw) kernel as the (kh·kw·C, O) matrix that channels-last patches use."""
    return np.ascontiguousarray(weight.transpose(2, 3, 1, 0).reshape(-1, weight.shape[0]))


def kernel_from_matrix(matrix: np.ndarray, channels: int) -> np.ndarray:
    """Inverse of ``kernel_matrix`` (for 3x3 kernels)."""
    return np.ascontiguousarray(matrix.reshape(3, 3, channels, -1).transpose(3, 2, 0, 1))


def im2col(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    """The 3x3 patches of channels-last images x (m, H, W, C) as rows of ``out``, (m·OH·OW, 9·C),
    each row ordered (kernel row, kernel column, channel); one strided copy, no Python loop."""
    m, h, w, c = x.shape
    patches = out[:m * (h - 2) * (w - 2)]  # a view of the preallocated buffer: no allocation
    if c == 1:  # the images themselves: one strided copy per kernel offset is faster (1.7 against 3.2 ms
        # for 128 MNIST images), as tensorgrad's conv does
        columns = patches.reshape(m, h - 2, w - 2, 9)
        for k in range(9):
            i, j = divmod(k, 3)
            columns[:, :, :, k] = x[:, i:i + h - 2, j:j + w - 2, 0]  # column k: each pixel's offset (i, j)
        return patches
    windows = sliding_window_view(x, (3, 3), axis=(1, 2))           # (m, OH, OW, C, 3, 3), a view
    np.copyto(patches.reshape(m, h - 2, w - 2, 3, 3, c), windows.transpose(0, 1, 2, 4, 5, 3))
    return patches


def col2im_(g: np.ndarray, kernel: np.ndarray, dx: np.ndarray, buffer: np.ndarray) -> None:
    """dx (m, H, W, C) = the input gradient of a 3x3 valid convolution, from its output gradient
    g (m·OH·OW, O) and kernel matrix (9·C, O): for each kernel offset, g @ (that offset's C rows)ᵀ
    into ``buffer`` (m·OH·OW, C), added onto the image slice the offset read; none per pixel.
    One product per offset rather than one for all: a row of that single product interleaves the
    offsets, so its adds run over pieces of C numbers, 1.25-1.4x slower here (as in tensorgrad)."""
    m, h, w, c = dx.shape
    dx.fill(0)
    for k in range(9):
        i, j = divmod(k, 3)
        # what each output pixel's gradient sends to the input pixel at offset (i, j) of its window
        part = np.matmul(g, kernel[k * c:(k + 1) * c].T, out=buffer[:len(g)])
        image_slice = dx[:, i:i + h - 2, j:j + w - 2]  # the input pixels at offset (i, j), a view
        image_slice += part.reshape(image_slice.shape)


def pool_windows(a: np.ndarray) -> np.ndarray:
    """(n, 2p, 2p, C) as (n, p, 2, p, 2, C): axes 2 and 4 run over each 2x2 pooling window."""
    n, h, w, c = a.shape
    return a.reshape(n, h // 2, 2, w // 2, 2, c)


class ConvLayer:
    """A 3x3 valid convolution followed by ReLU, channels-last, processed in chunks of images so
    that the patch matrix of a chunk (~CHUNK_BYTES) is reused from the cache; backward rebuilds
    each chunk's patches instead of keeping them all from forward.

    ``kernel`` (9·C, O) and ``bias`` are the parameters, ``grad_kernel`` and ``grad_bias`` their
    gradients after ``backward``; ``chunk`` is the number of images per chunk."""

    def __init__(self, weight: np.ndarray, bias: np.ndarray, image: int) -> None:
        self.channels_in = weight.shape[1]
        self.kernel = kernel_matrix(weight)                 # (9·C, O)
        self.bias = np.array(bias, DTYPE)
        self.grad_kernel, self.grad_bias = np.empty_like(self.kernel), np.empty_like(self.bias)
        self._partial = np.empty_like(self.kernel)  # one chunk's dK, added onto grad_kernel
        side = image - 2
        # bytes an image of the patch matrix (9·C columns) and of the output (O columns) takes
        patches, output = (side * side * n * self.kernel.itemsize for n in self.kernel.shape)
        self.chunk = max(1, min(CHUNK_BYTES // patches, OUTPUT_CHUNK_BYTES // output))
        # one chunk's patch matrix and col2im_ scratch, allocated once, reused by every chunk
        self._patches = np.empty((self.chunk * side * side, self.kernel.shape[0]), DTYPE)
        self._dx_part = np.empty((self.chunk * side * side, self.channels_in), DTYPE)  # for col2im_
        # Σ g as ones @ g, a matrix-vector product: 0.5-1.2 ms against 2.8-3.3 for np.sum over the axes
        self._ones = np.ones(self.chunk * side * side, DTYPE)

    def _chunks(self, n: int):
        """Slices of ``chunk`` images over a batch of n (the last one may be shorter)."""
        return (slice(s, min(s + self.chunk, n)) for s in range(0, n, self.chunk))

    def _convolve(self, x: np.ndarray, out: np.ndarray) -> np.ndarray:
        """out (m·OH·OW, O) = conv(x) + bias for one chunk x (m, H, W, C)."""
        np.matmul(im2col(x, self._patches), self.kernel, out=out)  # z = P(x)·K
        out += self.bias                                             # z += b
        return out

    def forward(self, x: np.ndarray, out: np.ndarray) -> None:
        """out (n, OH, OW, O) = relu(conv(x) + bias)."""
        for part in self._chunks(len(x)):
            y = self._convolve(x[part], out[part].reshape(-1, len(self.bias)))
            np.maximum(y, 0, out=y)  # ReLU, while the chunk is in cache

    def _backward_chunk(self, x: np.ndarray, g: np.ndarray, dx: np.ndarray | None) -> None:
        """Add one chunk's kernel and bias gradients from g = d loss/d pre-activation (m·OH·OW, O);
        with ``dx``, also fill d loss/d x, masked by ReLU' of x (the ReLU output of the layer below)."""
        patches = im2col(x, self._patches)  # P(x) again: cheaper than keeping the batch's from forward
        self.grad_kernel += np.matmul(patches.T, g, out=self._partial)  # dK += P(x)ᵀ·g
        self.grad_bias += np.matmul(self._ones[:len(g)], g)              # db += Σ_rows g
        if dx is not None:
            col2im_(g, self.kernel, dx, self._dx_part)  # dx = col2im(g·Kᵀ)
            dx *= x > 0  # while this chunk is in cache: dz below = dx ⊙ [x > 0] (x is a ReLU output)

    def _output_gradient(self, g: np.ndarray, part: slice) -> np.ndarray:
        """d loss/d pre-activation of chunk ``part`` as (m·OH·OW, O), from backward's ``g``."""
        return g[part].reshape(-1, len(self.bias))

    def backward(self, x: np.ndarray, g: np.ndarray, dx: np.ndarray | None) -> None:
        """Kernel and bias gradients from g = d loss/d pre-activation (n, OH, OW, O); with ``dx``,
        also d loss/d x (see _backward_chunk)."""
        self.grad_kernel.fill(0)  # the chunks add onto them
        self.grad_bias.fill(0)
        for part in self._chunks(len(x)):
            self._backward_chunk(x[part], self._output_gradient(g, part), None if dx is None else dx[part])

    def params_and_grads(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        return [self.kernel, self.bias], [self.grad_kernel, self.grad_bias]

    def weights(self) -> list[np.ndarray]:
        return [kernel_from_matrix(self.kernel, self.channels_in), self.bias.copy()]


class ConvPoolLayer(ConvLayer):
    """A ConvLayer with a 2x2 max pool fused in, as tensorgrad fuses conv2d+relu+max_pool2d: each
    chunk's convolution is pooled while it is in cache and never stored whole; ReLU comes after
    the max, on a quarter of the values (they commute). Forward keeps the index of each window's
    first maximum, which gets the gradient as in PyTorch. An equality mask (this step's former
    rule) was no faster (W4 tensorgrad/numpy 1.04 twice with it, 1.07-1.09 after) and gives every
    tied maximum the whole gradient: wrong, and ties are common on real images (blank margins give
    constant convolution outputs: 37% of the positive pooled outputs of 128 MNIST images)."""

    OFFSETS = ((0, 0), (0, 1), (1, 0), (1, 1))  # a 2x2 window's pixels, row-major: index 0-3

    def __init__(self, weight: np.ndarray, bias: np.ndarray, image: int) -> None:
        super().__init__(weight, bias, image)
        side, pooled = image - 2, (image - 2) // 2
        # one chunk's convolution output in forward, its gradient in backward: the only place it lives
        self._conv = np.empty((self.chunk, side, side, len(self.bias)), DTYPE)
        self._greater = np.empty((self.chunk, pooled, pooled, len(self.bias)), bool)  # masks, per chunk
        self._index = np.empty((self.chunk, pooled, pooled, len(self.bias)), np.uint8)

    def forward(self, x: np.ndarray, pooled: np.ndarray, first: np.ndarray) -> None:
        """pooled (n, OH/2, OW/2, O) = relu(maxpool(conv(x) + bias)); ``first`` (same shape, uint8)
        the index of each window's first maximum in OFFSETS. Backward reads both."""
        self._pooled, self._first = pooled, first
        for part in self._chunks(len(x)):
            m = part.stop - part.start
            conv = self._conv[:m]
            self._convolve(x[part], conv.reshape(-1, len(self.bias)))  # z = P(x)·K + b, this chunk
            windows, out, index = pool_windows(conv), pooled[part], first[part]
            greater, taken = self._greater[:m], self._index[:m]
            # a running max, where a later pixel takes over only if strictly greater (a tie stays
            # with the first); as k grows, index = max(index, k·[taken over])
            np.copyto(out, windows[:, :, 0, :, 0])
            index.fill(0)
            for k, (i, j) in enumerate(self.OFFSETS[1:], start=1):
                np.greater(windows[:, :, i, :, j], out, out=greater)
                np.multiply(greater, np.uint8(k), out=taken)
                np.maximum(index, taken, out=index)
                np.maximum(out, windows[:, :, i, :, j], out=out)
            np.maximum(out, 0, out=out)  # ReLU, on the pooled values

    def _output_gradient(self, g: np.ndarray, part: slice) -> np.ndarray:
        """The chunk's convolution gradient from g = d loss/d pooled (n, OH/2, OW/2, O): through
        ReLU (0 where the pooled output is 0), then to each window's first maximum."""
        m = part.stop - part.start
        dconv, hit = self._conv[:m], self._greater[:m]
        windows, dpool = pool_windows(dconv), g[part] * (self._pooled[part] > 0)  # dm = g ⊙ [pooled > 0]
        for k, (i, j) in enumerate(self.OFFSETS):
            # pixel k of every window gets dm where it was the first maximum, else 0
            np.equal(self._first[part], k, out=hit)
            np.multiply(dpool, hit, out=windows[:, :, i, :, j])
        return dconv.reshape(-1, len(self.bias))


class NumpyCNN:
    """Hand-written CNN step: a ConvLayer, a ConvPoolLayer (im2col GEMMs, col2im backward, the
    pool fused into the second conv's chunks) and the dense head as a NumpyMLP."""
    name = "numpy"

    def __init__(self, spec: CNNSpec, weights: list[np.ndarray], lr: float = LR) -> None:
        conv1_w, conv1_b, conv2_w, conv2_b, fc1_w, *head = weights
        self.spec, self.lr = spec, DTYPE(lr)
        self.conv1 = ConvLayer(conv1_w, conv1_b, spec.image)
        self.conv2 = ConvPoolLayer(conv2_w, conv2_b, spec.image - 2)
        c2, p = spec.channels[1], spec.pooled
        # fc1 reads PyTorch's (c, h, w) flatten order; here the features are flattened (h, w, c)
        fc1_hwc = fc1_w.reshape(-1, c2, p, p).transpose(0, 2, 3, 1).reshape(fc1_w.shape[0], -1)
        self.head = NumpyMLP(MLPSpec((spec.flat, spec.hidden, spec.classes)), [fc1_hwc, *head], lr)
        self._buffers: dict[int, SimpleNamespace] = {}

    def prepare(self, batches: list) -> list:
        return batches  # takes NumPy arrays as they are

    def _buffers_for(self, n: int) -> SimpleNamespace:
        """The activations of a step on n images, allocated once per batch size (as NumpyMLP's)."""
        if n not in self._buffers:
            (c1, c2), s, p = self.spec.channels, self.spec.image, self.spec.pooled
            self._buffers[n] = SimpleNamespace(
                a1=np.empty((n, s - 2, s - 2, c1), DTYPE),      # conv1's output, ReLU'd
                d1=np.empty((n, s - 2, s - 2, c1), DTYPE),      # its gradient: da1, then dz1
                pooled=np.empty((n, p, p, c2), DTYPE),          # conv2 + pool's output, ReLU'd
                first=np.empty((n, p, p, c2), np.uint8))        # each window's first maximum
        return self._buffers[n]

    def forward(self, x: np.ndarray) -> np.ndarray:
        buffers = self._buffers_for(len(x))
        self.conv1.forward(x.transpose(0, 2, 3, 1), buffers.a1)  # NCHW with C = 1 -> NHWC: a view
        self.conv2.forward(buffers.a1, buffers.pooled, buffers.first)
        return self.head.forward(buffers.pooled.reshape(len(x), -1))  # flatten: a view

    def backward(self, x: np.ndarray, labels: np.ndarray) -> np.floating:
        buffers = self._buffers_for(len(x))
        # the dense head (loss included): its dW, db, and dpooled (flattened)
        loss, dflat = self.head.backward(buffers.pooled.reshape(len(x), -1), labels, input_grad=True)
        # ReLU, pool, conv2: dK2, db2, and dz1 = col2im(dz2·K2ᵀ) ⊙ [a1 > 0] into d1
        self.conv2.backward(buffers.a1, dflat.reshape(buffers.pooled.shape), buffers.d1)  # g: d loss/d pooled
        self.conv1.backward(x.transpose(0, 2, 3, 1), buffers.d1, None)  # dK1, db1; no gradient for the images
        return loss

    def update(self) -> None:
        self.head.update()
        for conv in (self.conv1, self.conv2):
            sgd_update_(*conv.params_and_grads(), self.lr)  # K −= lr·dK, b −= lr·db

    def step(self, x: np.ndarray, labels: np.ndarray) -> np.floating:
        self.forward(x)
        loss = self.backward(x, labels)
        self.update()
        return loss

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x)

    def weights(self) -> list[np.ndarray]:
        """The parameters in PyTorch's order and layouts (the convs' and fc1's undone)."""
        c2, p = self.spec.channels[1], self.spec.pooled
        fc1_hwc, *head = self.head.weights()
        fc1 = fc1_hwc.reshape(-1, p, p, c2).transpose(0, 3, 1, 2).reshape(fc1_hwc.shape[0], -1)
        return self.conv1.weights() + self.conv2.weights() + [np.ascontiguousarray(fc1), *head]
