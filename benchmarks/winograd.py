"""Winograd's minimal filtering F(2×2, 3×3) for 3×3 convolutions, written with NumPy, and timed
against the im2col convolution that tensorgrad's ``ops/conv.py`` uses. An experiment, measured
and kept here (not in tensorgrad): on document 003's CNN it is slower.

    python benchmarks/winograd.py            # im2col and Winograd, forward and backward, 4 layer widths
    python benchmarks/winograd.py --check    # only the check against PyTorch's conv2d (float64)

Measured on the 2-core VM (2026-12-06, one BLAS thread, ms for a batch; ratio Winograd / im2col):

    N128 26x26 C32  -> O64   im2col fwd 25.1 bwd 62.0 | Winograd fwd 38.6 bwd 72.3 | 1.54 1.16
    N64  18x18 C64  -> O64   im2col fwd 10.4 bwd 26.3 | Winograd fwd 11.5 bwd 26.4 | 1.10 1.00
    N64  18x18 C128 -> O128  im2col fwd 33.9 bwd 76.1 | Winograd fwd 32.0 bwd 63.3 | 0.95 0.83
    N32  18x18 C256 -> O256  im2col fwd 69.7 bwd 122  | Winograd fwd 41.2 bwd 76.1 | 0.59 0.62

Why: the products shrink 2.25x, but each transform is a dozen or more NumPy passes over the
tiles (an add or subtract each, many over strided views with runs of only C numbers), at 1.5-4
billion numbers a second against BLAS's ~140 GFLOP/s. Per tile of the CNN's second convolution
the transforms cost ~0.7 µs and save ~0.6 µs of products; they pay off from ~128 channels in and
out, wider than any layer of the course documents (and than fast-cnn's 16 and 32).

Every 2×2 block of a 3×3 convolution's output is computed from the 4×4 block of input under it
(the blocks, *tiles*, overlap by 2 pixels). Directly that is 4 · 9 = 36 multiplications per pair
of channels; Winograd's algorithm does it with 16 (Lavin & Gray, "Fast Algorithms for
Convolutional Neural Networks", 2015). For one tile d (4×4) and one kernel w (3×3):

    y = Aᵀ [ (G w Gᵀ) ⊙ (Bᵀ d B) ] A            (2×2)

Bᵀ d B transforms the tile, G w Gᵀ the kernel, both 4×4; the ⊙ is element by element; Aᵀ · A
turns the 16 products back into 4 output pixels. Summed over input channels, each of the 16
positions ξ of the ⊙ is a matrix product of the transformed tiles and kernels:

    V[ξ] (tiles × C)  =  the 16 numbers of Bᵀ d B, for every tile and input channel
    U[ξ] (C × O)      =  the 16 numbers of G w Gᵀ, for every pair of channels
    M[ξ] = V[ξ] @ U[ξ]                          16 products: 2.25× fewer multiply-adds than im2col's one

The backward pass is the transpose of each of these linear steps, in reverse order:

    ∂M = A ∂y Aᵀ                                (each tile's 2×2 output gradient, as a 4×4)
    ∂U[ξ] = V[ξ]ᵀ @ ∂M[ξ],   ∂V[ξ] = ∂M[ξ] @ U[ξ]ᵀ
    ∂w = Gᵀ ∂U G,            ∂d = B ∂V Bᵀ       (added onto the input pixels; tiles overlap)

So the weight gradient and the input gradient get the same 2.25× saving. Bᵀ and Aᵀ hold only 0
and ±1: their transforms are additions and subtractions of whole slices of the batch (``mix``),
never a loop over pixels. The numbers differ from im2col's in the last bits (float32: ~1e-6
relative), as PyTorch's own Winograd and FFT convolutions do.

tests/benchmarks/test_winograd.py checks the forward and both gradients against PyTorch.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

#: input transform Bᵀ (tile rows -> transformed rows; the same for columns)
BT = np.array([[1, 0, -1, 0],
               [0, 1, 1, 0],
               [0, -1, 1, 0],
               [0, 1, 0, -1]])
#: kernel transform G (3 kernel rows -> 4)
G = np.array([[1.0, 0.0, 0.0],
              [0.5, 0.5, 0.5],
              [0.5, -0.5, 0.5],
              [0.0, 0.0, 1.0]])
#: output transform Aᵀ (4 transformed rows -> 2 output rows)
AT = np.array([[1, 1, 1, 0],
               [0, 1, -1, -1]])

def mix(matrix: np.ndarray, inputs, outputs, accumulate: bool = False) -> None:
    """``outputs[i] = Σ_j matrix[i, j] · inputs[j]`` (``+=`` with ``accumulate``), for a matrix of
    0 and ±1: each term one NumPy add or subtract over a whole array (strided views allowed)."""
    for row, out in zip(matrix, outputs):
        terms = [(sign, x) for sign, x in zip(row, inputs) if sign]
        if not accumulate and len(terms) == 1:
            (sign, x), = terms
            np.copyto(out, x) if sign > 0 else np.negative(x, out=out)
            continue
        if not accumulate:  # the first two terms in one pass: out = ±x ± y
            (sign_x, x), (sign_y, y), terms = terms[0], terms[1], terms[2:]
            if sign_x < 0 and sign_y < 0:
                terms = [(-1, y)] + terms
                np.negative(x, out=out)
            elif sign_x > 0:
                (np.add if sign_y > 0 else np.subtract)(x, y, out=out)
            else:
                np.subtract(y, x, out=out)
        for sign, x in terms:
            (np.add if sign > 0 else np.subtract)(out, x, out=out)


def kernel_transform(weight: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """U = G w Gᵀ for every pair of channels: (O, C, 3, 3) -> (16, C, O), position ξ = 4·row + column."""
    O, C = weight.shape[:2]
    return np.einsum("ai,ocij,bj->abco", G, weight, G).reshape(16, C, O).astype(dtype)


def kernel_gradient(grad_u: np.ndarray, weight_shape: tuple[int, ...]) -> np.ndarray:
    """∂w = Gᵀ ∂U G: (16, C, O) -> (O, C, 3, 3)."""
    O, C = weight_shape[:2]
    return np.einsum("ai,abco,bj->ocij", G, grad_u.reshape(4, 4, C, O), G).astype(grad_u.dtype)


class Tiles:
    """The buffers of one thread for chunks of up to ``images`` channels-last images whose
    convolution has ``tile_rows × tile_cols`` output tiles, C input and O output channels.
    Each method works on the first ``n`` images' worth of them."""

    def __init__(self, images: int, tile_rows: int, tile_cols: int, C: int, O: int, dtype: np.dtype) -> None:
        self.tile_rows, self.tile_cols = tile_rows, tile_cols
        per_image = tile_rows * tile_cols
        self.transformed_input = np.empty((16, images * per_image, C), dtype)    # V, then ∂V
        self.products = np.empty((16, images * per_image, O), dtype)             # M, then ∂M
        self.row_stage = np.empty((4, images, tile_rows, 2 * tile_cols + 2, C), dtype)
        self.half = np.empty(8 * images * per_image * O, dtype)                  # output's half-transform

    def transform_input(self, x: np.ndarray) -> np.ndarray:
        """V = Bᵀ d B for every tile d of the padded images x (n, 2·rows + 2, 2·cols + 2, C):
        (16, n·tiles, C). Rows first (whole image rows), then the columns of each result."""
        n, (th, tw) = x.shape[0], (self.tile_rows, self.tile_cols)
        rows = self.row_stage[:, :n]
        v = self.transformed_input[:, :n * th * tw].reshape(16, n, th, tw, -1)
        mix(BT, [x[:, r:r + 2 * th:2] for r in range(4)], rows)  # tile row r of every tile
        for a in range(4):
            mix(BT, [rows[a][:, :, c:c + 2 * tw:2] for c in range(4)], v[4 * a:4 * a + 4])
        return self.transformed_input[:, :n * th * tw]

    def transform_output(self, m: np.ndarray, outputs: list[np.ndarray]) -> None:
        """y = Aᵀ M A for every tile: M (16, n·tiles, O) into ``outputs``, the four (n, rows, cols, O)
        arrays of the tiles' output pixels (0, 0), (0, 1), (1, 0), (1, 1) (views are fine)."""
        n, th, tw, O = outputs[0].shape
        m = m.reshape(4, 4, n, th, tw, O)
        half = self.half[:8 * n * th * tw * O].reshape(2, 4, n, th, tw, O)
        for c in range(4):
            mix(AT, m[:, c], half[:, c])            # half[a, c] = Σ_r Aᵀ[a, r] M[r, c]
        for a in range(2):
            mix(AT, half[a], outputs[2 * a:2 * a + 2])  # y[a, b] = Σ_c half[a, c] Aᵀ[b, c]

    def transform_output_gradient(self, grads: list[np.ndarray]) -> np.ndarray:
        """∂M = A ∂y Aᵀ: the four (n, rows, cols, O) gradients of the tiles' output pixels (as in
        ``transform_output``) -> (16, n·tiles, O)."""
        n, th, tw, O = grads[0].shape
        A = AT.T
        half = self.half[:8 * n * th * tw * O].reshape(4, 2, n, th, tw, O)
        dm = self.products[:, :n * th * tw].reshape(4, 4, n, th, tw, O)
        for b in range(2):
            mix(A, grads[b::2], half[:, b])          # half[r, b] = Σ_a A[r, a] ∂y[a, b]
        for r in range(4):
            mix(A, half[r], dm[r])                   # ∂M[r, c] = Σ_b A[c, b] half[r, b]
        return self.products[:, :n * th * tw]

    def add_input_gradient(self, dv: np.ndarray, grad_x: np.ndarray) -> None:
        """grad_x (n, 2·rows + 2, 2·cols + 2, C) += B ∂V Bᵀ of every tile, each onto the pixels
        its tile read: ∂V (16, n·tiles, C). Columns first, then rows (``transform_input`` backwards)."""
        n, (th, tw), B = grad_x.shape[0], (self.tile_rows, self.tile_cols), BT.T
        dv = dv.reshape(4, 4, n, th, tw, -1)
        rows = self.row_stage[:, :n]
        rows[...] = 0
        for a in range(4):
            mix(B, dv[a], [rows[a][:, :, c:c + 2 * tw:2] for c in range(4)], accumulate=True)
        mix(B, rows, [grad_x[:, r:r + 2 * th:2] for r in range(4)], accumulate=True)


# ----------------------------------------------------------------------------- the timing
def winograd_convolution(x: np.ndarray, weight: np.ndarray, images_per_chunk: int) -> tuple:
    """Forward and backward of a stride-1 3×3 convolution of channels-last x (N, H, W, C) by
    Winograd, chunk by chunk: functions ``forward()`` -> y (N, H−2, W−2, O) and ``backward(g)`` ->
    (∂x, ∂w), for timing and checking."""
    N, H, W, C = x.shape
    O, dtype = weight.shape[0], x.dtype
    rows, cols = (H - 2) // 2, (W - 2) // 2
    tiles = Tiles(images_per_chunk, rows, cols, C, O, dtype)
    u = kernel_transform(weight, dtype)
    u_t = np.ascontiguousarray(u.transpose(0, 2, 1))

    def pixels(a: np.ndarray) -> list[np.ndarray]:  # the four output pixels of every tile, as views
        a6 = a.reshape(a.shape[0], rows, 2, cols, 2, -1)
        return [a6[:, :, i, :, j] for i in range(2) for j in range(2)]

    def forward() -> np.ndarray:
        y = np.empty((N, 2 * rows, 2 * cols, O), dtype)
        for s in range(0, N, images_per_chunk):
            v = tiles.transform_input(x[s:s + images_per_chunk])
            m = np.matmul(v, u, out=tiles.products[:, :v.shape[1]])
            tiles.transform_output(m, pixels(y[s:s + images_per_chunk]))
        return y

    def backward(g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        grad_x, grad_u = np.zeros_like(x), np.zeros((16, C, O), dtype)
        for s in range(0, N, images_per_chunk):
            dm = tiles.transform_output_gradient(pixels(g[s:s + images_per_chunk]))
            v = tiles.transform_input(x[s:s + images_per_chunk])
            grad_u += np.matmul(v.transpose(0, 2, 1), dm)
            tiles.add_input_gradient(np.matmul(dm, u_t, out=v), grad_x[s:s + images_per_chunk])
        return grad_x, kernel_gradient(grad_u, weight.shape)

    return forward, backward


def im2col_convolution(x: np.ndarray, weight: np.ndarray, images_per_chunk: int) -> tuple:
    """The same two functions the way ops/conv.py computes them (its chunks of images, patches
    rebuilt in backward, the input gradient one kernel offset at a time)."""
    N, H, W, C = x.shape
    O, dtype, OH, OW = weight.shape[0], x.dtype, H - 2, W - 2
    L, K = OH * OW, 9 * C
    kernel = np.ascontiguousarray(weight.transpose(2, 3, 1, 0).reshape(K, O))
    by_offset = np.ascontiguousarray(kernel.reshape(9, C, O).transpose(0, 2, 1))
    cols = np.empty((images_per_chunk * L, K), dtype)
    offsets = [(slice(i, i + OH), slice(j, j + OW)) for i in range(3) for j in range(3)]

    def patches(s: int, n: int) -> np.ndarray:
        windows = sliding_window_view(x[s:s + n], (3, 3), axis=(1, 2))
        np.copyto(cols[:n * L].reshape(n, OH, OW, 3, 3, C), windows.transpose(0, 1, 2, 4, 5, 3))
        return cols[:n * L]

    def forward() -> np.ndarray:
        y = np.empty((N, OH, OW, O), dtype)
        for s in range(0, N, images_per_chunk):
            n = min(images_per_chunk, N - s)
            np.matmul(patches(s, n), kernel, out=y[s:s + n].reshape(n * L, O))
        return y

    def backward(g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        grad_x, grad_kernel = np.zeros_like(x), np.zeros((K, O), dtype)
        for s in range(0, N, images_per_chunk):
            n = min(images_per_chunk, N - s)
            gs = g[s:s + n].reshape(n * L, O)
            grad_kernel += patches(s, n).T @ gs
            for k, (r, c) in enumerate(offsets):
                image_slice = grad_x[s:s + n][:, r, c]
                image_slice += (gs @ by_offset[k]).reshape(image_slice.shape)
        return grad_x, np.ascontiguousarray(grad_kernel.reshape(3, 3, C, O).transpose(3, 2, 0, 1))

    return forward, backward


def median_ms(function, repeats: int) -> float:
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return 1e3 * float(np.median(times))


def compare(N: int, H: int, C: int, O: int, repeats: int = 5) -> dict[str, float]:
    """ms of forward and backward, im2col and Winograd, for one layer (float32, one BLAS thread),
    each with chunks of ~4 MB (ops/_windows.py's CHUNK_BYTES)."""
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, H, H, C), dtype=np.float32)
    weight = rng.standard_normal((O, C, 3, 3), dtype=np.float32)
    g = rng.standard_normal((N, H - 2, H - 2, O), dtype=np.float32)
    output_pixels = (H - 2) ** 2
    im2col_chunk = max(1, min(4 * 2**20 // (output_pixels * 9 * C * 4), 2**20 // (output_pixels * O * 4)))
    winograd_chunk = max(1, 4 * 2**20 // (16 * output_pixels // 4 * O * 4))
    result = {}
    with threadpool_limits(limits=1, user_api="blas"):
        for name, make, chunk in (("im2col", im2col_convolution, im2col_chunk),
                                  ("winograd", winograd_convolution, winograd_chunk)):
            forward, backward = make(x, weight, chunk)
            result[f"{name}_forward_ms"] = median_ms(forward, repeats)
            result[f"{name}_backward_ms"] = median_ms(lambda: backward(g), repeats)
    return result


def check() -> float:
    """The largest difference from PyTorch's conv2d, forward and both gradients, in float64."""
    import torch

    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 10, 12, 8))        # channels-last, 10x12 images
    weight = rng.standard_normal((5, 8, 3, 3))
    g = rng.standard_normal((3, 8, 10, 5))
    forward, backward = winograd_convolution(x, weight, images_per_chunk=2)
    xt = torch.tensor(x.transpose(0, 3, 1, 2), requires_grad=True)
    wt = torch.tensor(weight, requires_grad=True)
    y = torch.nn.functional.conv2d(xt, wt)
    y.backward(torch.tensor(g.transpose(0, 3, 1, 2)))
    grad_x, grad_w = backward(g)
    return max(float(np.abs(forward().transpose(0, 3, 1, 2) - y.detach().numpy()).max()),
               float(np.abs(grad_x.transpose(0, 3, 1, 2) - xt.grad.numpy()).max()),
               float(np.abs(grad_w - wt.grad.numpy()).max()))


LAYERS = [(128, 26, 32, 64), (64, 18, 64, 64), (64, 18, 128, 128), (32, 18, 256, 256)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only check against PyTorch")
    args = parser.parse_args(argv)
    print(f"largest difference from PyTorch's conv2d (float64, forward and gradients): {check():.1e}")
    if args.check:
        return
    for N, H, C, O in LAYERS:
        r = compare(N, H, C, O)
        print(f"N{N} {H}x{H} C{C} -> O{O}: im2col fwd {r['im2col_forward_ms']:.1f} bwd {r['im2col_backward_ms']:.1f} | "
              f"Winograd fwd {r['winograd_forward_ms']:.1f} bwd {r['winograd_backward_ms']:.1f} | ratio "
              f"{r['winograd_forward_ms'] / r['im2col_forward_ms']:.2f} {r['winograd_backward_ms'] / r['im2col_backward_ms']:.2f}",
              flush=True)


if __name__ == "__main__":
    main()
