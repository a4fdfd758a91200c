"""Convolution and pooling: values against slow loop references, gradcheck, float32, errors."""
from __future__ import annotations

import numpy as np
import pytest

import tensorgrad as tg
from tensorgrad.nn.functional import avg_pool2d, conv2d, max_pool2d
from tensorgrad.ops import _windows
from tensorgrad.ops.conv import Conv2d
from tensorgrad.ops.conv_reference import Conv2dReference
from tensorgrad.ops.pool import AvgPool2d, MaxPool2d


# ------------------------------------------------------- slow, obviously correct references
def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def ref_conv2d(x, w, b=None, stride=1, padding=0):
    """Cross-correlation with explicit loops over every output pixel."""
    (sh, sw), (ph, pw) = _pair(stride), _pair(padding)
    x = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    N, C, H, W = x.shape
    O, _, kh, kw = w.shape
    OH, OW = (H - kh) // sh + 1, (W - kw) // sw + 1
    out = np.zeros((N, O, OH, OW))
    for n in range(N):
        for o in range(O):
            for i in range(OH):
                for j in range(OW):
                    window = x[n, :, i * sh:i * sh + kh, j * sw:j * sw + kw]
                    out[n, o, i, j] = np.sum(window * w[o]) + (b[o] if b is not None else 0.0)
    return out


def ref_pool(x, reduce, kernel, stride=None, padding=0, pad_value=0.0):
    (kh, kw) = _pair(kernel)
    (sh, sw) = _pair(kernel if stride is None else stride)
    (ph, pw) = _pair(padding)
    x = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=pad_value)
    N, C, H, W = x.shape
    OH, OW = (H - kh) // sh + 1, (W - kw) // sw + 1
    out = np.zeros((N, C, OH, OW))
    for n in range(N):
        for c in range(C):
            for i in range(OH):
                for j in range(OW):
                    out[n, c, i, j] = reduce(x[n, c, i * sh:i * sh + kh, j * sw:j * sw + kw])
    return out


def channels_last(a):
    """The same (N, C, H, W) values stored channels-last, as a conv's output is."""
    return np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)


# max pooling has its own path for channels-last input, so its tests run on both layouts
LAYOUTS = {"nchw": lambda a: a, "nhwc": channels_last}


def distinct(shape, seed=0):
    """Values at least 0.01 apart (no ties, so max pooling is differentiable at them)."""
    size = int(np.prod(shape))
    values = np.linspace(-1.0, 1.0, size) * size * 0.005
    return np.random.default_rng(seed).permutation(values).reshape(shape)


RNG = np.random.default_rng(0)

# (x shape, weight shape, with bias, stride, padding)
CONV_CASES = [
    ((2, 3, 7, 6), (4, 3, 3, 3), True, 1, 0),
    ((2, 3, 7, 6), (4, 3, 3, 3), False, 1, 1),
    ((2, 3, 7, 6), (4, 3, 3, 2), True, 2, 0),
    ((2, 3, 7, 6), (2, 3, 2, 3), True, 2, 1),
    ((2, 3, 7, 6), (4, 3, 3, 3), True, (2, 1), (1, 2)),
    ((2, 1, 6, 6), (3, 1, 3, 3), True, 1, (1, 2)),
    ((2, 1, 5, 7), (1, 1, 1, 1), False, 1, 0),
    ((2, 1, 7, 6), (2, 1, 3, 2), True, (2, 1), 1),  # one channel (its own im2col), strided
    ((2, 2, 8, 8), (3, 2, 5, 5), True, 3, 2),
    ((1, 2, 4, 4), (2, 2, 4, 4), True, 1, 0),  # the kernel covers the whole image
    ((2, 2, 8, 7), (3, 2, 2, 2), True, 3, 0),  # stride > kernel: pixels no window reads get 0
]
CONV_IDS = [f"x{c[0]}-w{c[1]}-{'b' if c[2] else 'nob'}-s{c[3]}-p{c[4]}" for c in CONV_CASES]

# (x shape, kernel, stride, padding)
POOL_CASES = [
    ((2, 3, 6, 6), 2, None, 0),
    ((2, 3, 7, 7), 3, 2, 0),  # overlapping windows
    ((2, 2, 5, 6), 2, 1, 0),  # overlapping windows
    ((2, 2, 6, 5), 2, 2, 1),  # padding
    ((2, 2, 7, 6), 3, 2, 1),
    ((1, 2, 7, 5), (3, 2), (2, 1), (1, 0)),
    ((2, 2, 5, 5), 2, None, 0),  # the last row/column falls outside every window
    ((2, 3, 6, 4), (2, 1), None, 0),
    ((2, 3, 3, 4), (1, 2), None, 0),
]
POOL_IDS = [f"x{c[0]}-k{c[1]}-s{c[2]}-p{c[3]}" for c in POOL_CASES]


# --------------------------------------------------------------------------- forward values
@pytest.mark.parametrize("x_shape, w_shape, bias, stride, padding", CONV_CASES, ids=CONV_IDS)
def test_conv2d_forward_matches_loop_reference(x_shape, w_shape, bias, stride, padding):
    x, w = RNG.standard_normal(x_shape), RNG.standard_normal(w_shape)
    b = RNG.standard_normal(w_shape[0]) if bias else None
    out = conv2d(x, w, b, stride=stride, padding=padding)
    np.testing.assert_allclose(out.data, ref_conv2d(x, w, b, stride, padding), rtol=1e-12, atol=1e-12)


# ------------------------------------------------- the fast conv against its readable twin
def _reference(x, w, b, stride, padding):
    inputs = (x, w) if b is None else (x, w, b)
    return Conv2dReference.apply(*inputs, stride=stride, padding=padding)


@pytest.mark.parametrize("x_shape, w_shape, bias, stride, padding", CONV_CASES, ids=CONV_IDS)
def test_the_reference_conv2d_matches_the_loops_and_passes_gradcheck(x_shape, w_shape, bias, stride, padding):
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    b = rng.standard_normal(w_shape[0]) if bias else None
    np.testing.assert_allclose(_reference(x, w, b, stride, padding).data, ref_conv2d(x, w, b, stride, padding),
                               rtol=1e-12, atol=1e-12)
    tensors = [tg.tensor(a, requires_grad=True) for a in (x, w, b) if a is not None]
    assert tg.gradcheck(lambda *t: _reference(*t, *([None] * (3 - len(t))), stride, padding), tensors)


@pytest.mark.parametrize("x_shape, w_shape, bias, stride, padding", CONV_CASES, ids=CONV_IDS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_fast_conv2d_gives_the_references_values_and_gradients(x_shape, w_shape, bias, stride, padding, dtype):
    rng = np.random.default_rng(2)
    arrays = [rng.standard_normal(x_shape), rng.standard_normal(w_shape)] + ([rng.standard_normal(w_shape[0])] if bias else [])
    results = []
    for conv in (conv2d, _reference):
        tensors = [tg.tensor(a.astype(dtype), requires_grad=True) for a in arrays]
        out = conv(*tensors, *([None] * (3 - len(tensors))), stride, padding)
        out.backward(np.random.default_rng(3).standard_normal(out.shape).astype(dtype))
        results.append([out.data] + [t.grad for t in tensors])
    tolerance = 1e-12 if dtype == np.float64 else 2e-5
    for fast, plain in zip(*results):
        assert fast.dtype == plain.dtype == dtype and fast.shape == plain.shape
        np.testing.assert_allclose(fast, plain, rtol=tolerance, atol=tolerance)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("x_shape, kernel, stride, padding", POOL_CASES, ids=POOL_IDS)
def test_pooling_forward_matches_loop_reference(x_shape, kernel, stride, padding, layout):
    x = LAYOUTS[layout](RNG.standard_normal(x_shape))
    np.testing.assert_array_equal(max_pool2d(x, kernel, stride, padding).data,
                                  ref_pool(x, np.max, kernel, stride, padding, -np.inf))
    np.testing.assert_allclose(avg_pool2d(x, kernel, stride, padding).data,
                               ref_pool(x, np.mean, kernel, stride, padding, 0.0), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("stride", [1, (2, 1)])  # the stride-1 col2im and the general one
def test_conv2d_in_chunks_gives_the_same_values_and_gradients(monkeypatch, stride):
    rng = np.random.default_rng(5)
    x = tg.tensor(rng.standard_normal((5, 3, 9, 8)), requires_grad=True)
    w = tg.tensor(rng.standard_normal((4, 3, 3, 3)), requires_grad=True)
    b = tg.tensor(rng.standard_normal(4), requires_grad=True)
    out_shape = conv2d(x, w, b, stride=stride, padding=1).shape
    g = rng.standard_normal(out_shape)
    per_image = 27 * out_shape[2] * out_shape[3] * 8  # bytes of one image's patch matrix
    results = []
    # the whole batch at once; one image per chunk; 3 images, then a last chunk of 2
    for chunk_bytes in (1 << 30, 1, 3 * per_image):
        monkeypatch.setattr(_windows, "CHUNK_BYTES", chunk_bytes)
        x.grad = w.grad = b.grad = None
        out = conv2d(x, w, b, stride=stride, padding=1)
        out.backward(g)
        results.append((out.data, x.grad, w.grad, b.grad))
    for other in results[1:]:
        for a, c in zip(results[0], other):
            np.testing.assert_allclose(a, c, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(results[0][0], ref_conv2d(x.data, w.data, b.data, stride, 1), rtol=1e-12, atol=1e-12)


def test_the_cnns_convolutions_are_chunked_by_their_patches_and_their_output():
    # document 003's CNN at batch 128, float32: the second conv's patches (288 numbers a pixel)
    # bound its chunk to 6 images; the first conv's output (32 channels, wider than its 9-number
    # patches) bounds its chunk to 12 images, about 1 MB of output
    assert _windows.images_per_chunk(24 * 24 * 288 * 4, 24 * 24 * 64 * 4) == 6
    assert _windows.images_per_chunk(26 * 26 * 9 * 4, 26 * 26 * 32 * 4) == 12
    assert _windows.images_per_chunk(10**9, 10**9) == 1  # at least one image


def test_a_conv_whose_output_is_wider_than_its_patches_is_chunked_by_its_output(monkeypatch):
    # a first layer: 1 channel in (9 numbers per patch), 16 out: the output bounds the chunk, so
    # that the bias, the activation and their gradients run on cache-sized pieces too
    rng = np.random.default_rng(6)
    x = rng.standard_normal((5, 1, 8, 8))
    w = tg.tensor(rng.standard_normal((16, 1, 3, 3)), requires_grad=True)
    b = tg.tensor(rng.standard_normal(16), requires_grad=True)
    g = rng.standard_normal((5, 16, 6, 6))
    output_per_image = 16 * 6 * 6 * 8  # bytes; the patches take 9 * 6 * 6 * 8
    results = []
    for chunk_bytes in (1 << 30, 2 * output_per_image):  # the whole batch at once; 2, 2 and 1 images
        monkeypatch.setattr(_windows, "OUTPUT_CHUNK_BYTES", chunk_bytes)  # the patches' bound: 1 GB
        monkeypatch.setattr(_windows, "CHUNK_BYTES", 1 << 30)
        w.grad = b.grad = None
        out = conv2d(x, w, b, activation="relu")
        assert out.grad_fn.chunk == chunk_bytes // output_per_image  # images per chunk
        out.backward(g)
        results.append((out.data, w.grad, b.grad))
    for a, c in zip(*results):
        np.testing.assert_allclose(a, c, rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------------------------- gradients
@pytest.mark.parametrize("x_shape, w_shape, bias, stride, padding", CONV_CASES, ids=CONV_IDS)
def test_conv2d_gradcheck(x_shape, w_shape, bias, stride, padding):
    x = tg.tensor(RNG.standard_normal(x_shape), requires_grad=True)
    w = tg.tensor(RNG.standard_normal(w_shape), requires_grad=True)
    if bias:
        b = tg.tensor(RNG.standard_normal(w_shape[0]), requires_grad=True)
        assert tg.gradcheck(lambda x, w, b: conv2d(x, w, b, stride=stride, padding=padding), [x, w, b])
    else:
        assert tg.gradcheck(lambda x, w: conv2d(x, w, stride=stride, padding=padding), [x, w])


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("x_shape, kernel, stride, padding", POOL_CASES, ids=POOL_IDS)
def test_max_pool2d_gradcheck(x_shape, kernel, stride, padding, layout):
    x = tg.tensor(LAYOUTS[layout](distinct(x_shape)), requires_grad=True)
    assert tg.gradcheck(lambda t: max_pool2d(t, kernel, stride, padding), [x])


@pytest.mark.parametrize("x_shape, kernel, stride, padding", POOL_CASES, ids=POOL_IDS)
def test_avg_pool2d_gradcheck(x_shape, kernel, stride, padding):
    x = tg.tensor(RNG.standard_normal(x_shape), requires_grad=True)
    assert tg.gradcheck(lambda t: avg_pool2d(t, kernel, stride, padding), [x])


def test_small_cnn_gradcheck():
    x = tg.tensor(RNG.standard_normal((2, 1, 8, 8)), requires_grad=True)
    w1 = tg.tensor(RNG.standard_normal((3, 1, 3, 3)), requires_grad=True)
    b1 = tg.tensor(RNG.standard_normal(3) * 0.1, requires_grad=True)
    w2 = tg.tensor(RNG.standard_normal((2, 3, 3, 3)), requires_grad=True)

    def net(x, w1, b1, w2):
        h = conv2d(x, w1, b1, padding=1).tanh()
        return max_pool2d(conv2d(h, w2), 2)

    assert tg.gradcheck(net, [x, w1, b1, w2])


@pytest.mark.parametrize("layout", LAYOUTS)
def test_max_pool2d_sends_a_tied_windows_gradient_to_its_first_max_only(layout):
    x = tg.tensor(LAYOUTS[layout](np.zeros((1, 2, 4, 4))), requires_grad=True)  # all ties, as after relu
    max_pool2d(x, 2).sum().backward()
    expected = np.zeros((4, 4))
    expected[::2, ::2] = 1.0  # the top-left element of each 2x2 window
    np.testing.assert_array_equal(x.grad[0, 0], expected)
    np.testing.assert_array_equal(x.grad[0, 1], expected)
    x = tg.tensor(LAYOUTS[layout](np.array([[[[0.0, 2.0], [2.0, 1.0]]], [[[5.0, 1.0], [1.0, 5.0]]]])),
                  requires_grad=True)
    max_pool2d(x, 2).sum().backward()
    np.testing.assert_array_equal(x.grad.reshape(2, 4), [[0, 1, 0, 0], [1, 0, 0, 0]])

    x = tg.tensor(np.array([[[[1.0, 3.0, 3.0], [0.0, 3.0, 2.0], [3.0, 1.0, 0.0]]]]), requires_grad=True)
    max_pool2d(x, 2, stride=1).sum().backward()  # overlapping: all four windows have max 3
    expected = np.array([[0.0, 2.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 0.0]])  # first in row-major order
    np.testing.assert_array_equal(x.grad[0, 0], expected)


def test_conv_output_is_channels_last_and_max_pooling_takes_the_tiled_path():
    x = tg.tensor(RNG.standard_normal((2, 3, 6, 6)), requires_grad=True)
    w = tg.tensor(RNG.standard_normal((4, 3, 3, 3)), requires_grad=True)
    h = conv2d(x, w)
    assert _windows.is_channels_last(h.data) and not _windows.is_channels_last(x.data)
    y = max_pool2d(h.relu(), 2)
    assert y.grad_fn.tiles
    np.testing.assert_array_equal(y.data, ref_pool(np.maximum(h.data, 0), np.max, 2))
    assert tg.gradcheck(lambda x, w: max_pool2d(conv2d(x, w), 2), [x, w])


def test_conv2d_gradient_values_by_hand():
    # one 3x3 image, one 2x2 kernel: ∂w[i, j] = Σ g over the pixels that kernel entry touched
    x = tg.tensor(np.arange(9.0).reshape(1, 1, 3, 3), requires_grad=True)
    w = tg.tensor(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]), requires_grad=True)
    b = tg.tensor(np.array([0.5]), requires_grad=True)
    out = conv2d(x, w, b)
    np.testing.assert_array_equal(out.data[0, 0], [[0 + 2 + 9 + 16 + 0.5, 1 + 4 + 12 + 20 + 0.5],
                                                    [3 + 8 + 18 + 28 + 0.5, 4 + 10 + 21 + 32 + 0.5]])
    out.sum().backward()
    np.testing.assert_array_equal(w.grad[0, 0], [[0 + 1 + 3 + 4, 1 + 2 + 4 + 5], [3 + 4 + 6 + 7, 4 + 5 + 7 + 8]])
    np.testing.assert_array_equal(x.grad[0, 0], [[1, 3, 2], [4, 10, 6], [3, 7, 4]])
    np.testing.assert_array_equal(b.grad, [4.0])


def test_conv2d_without_bias_takes_two_inputs_and_skips_unneeded_gradients():
    x = RNG.standard_normal((2, 1, 6, 6)).astype(np.float32)  # data: no gradient wanted
    w = tg.tensor(RNG.standard_normal((3, 1, 3, 3)).astype(np.float32), requires_grad=True)
    out = conv2d(x, w)
    assert len(out.grad_fn.inputs) == 2 and out.grad_fn.needs_input_grad == (False, True)
    grads = out.grad_fn.backward(np.ones(out.shape, np.float32))
    assert len(grads) == 2 and grads[0] is None and grads[1].shape == w.shape
    np.testing.assert_array_equal(Conv2d.apply(x, w).data, out.data)
    with tg.no_grad():
        plain = conv2d(x, w)
    assert plain.grad_fn is None
    np.testing.assert_array_equal(plain.data, out.data)


# ---------------------------------------------------------------------------------- dtypes
@pytest.mark.parametrize("stride, padding", [(1, 0), (2, 1)])
def test_float32_stays_float32_everywhere(stride, padding):
    x = tg.tensor(RNG.standard_normal((2, 3, 8, 8)).astype(np.float32), requires_grad=True)
    w = tg.tensor(RNG.standard_normal((4, 3, 3, 3)).astype(np.float32), requires_grad=True)
    b = tg.tensor(RNG.standard_normal(4).astype(np.float32), requires_grad=True)
    h = conv2d(x, w, b, stride=stride, padding=padding)
    assert h.dtype == np.float32
    pooled = [max_pool2d(h, 2), avg_pool2d(h, 2, 1, 1), max_pool2d(h, 3, 1, 1)]
    assert all(p.dtype == np.float32 for p in pooled)
    sum(p.sum() for p in pooled).backward()
    for t in (x, w, b):
        assert t.grad.dtype == np.float32 and t.grad.shape == t.shape
    ref = ref_conv2d(x.data.astype(np.float64), w.data.astype(np.float64), b.data.astype(np.float64), stride, padding)
    np.testing.assert_allclose(h.data, ref, rtol=1e-5, atol=1e-5)


def test_each_gradient_keeps_its_inputs_dtype():
    x = tg.tensor(RNG.standard_normal((2, 2, 5, 5)).astype(np.float32), requires_grad=True)
    w = tg.tensor(RNG.standard_normal((3, 2, 3, 3)), requires_grad=True)  # float64
    b = tg.tensor(RNG.standard_normal(3).astype(np.float32), requires_grad=True)
    out = conv2d(x, w, b, padding=1)
    assert out.dtype == np.float64  # NumPy's promotion, as for every other op
    out.sum().backward()
    assert (x.grad.dtype, w.grad.dtype, b.grad.dtype) == (np.float32, np.float64, np.float32)


# ---------------------------------------------------------------------------------- errors
def test_conv2d_names_a_channel_mismatch_with_both_shapes():
    with pytest.raises(ValueError) as info:
        conv2d(tg.zeros(8, 3, 28, 28), tg.zeros(32, 1, 3, 3))
    assert str(info.value) == ("conv2d: input has 3 channels but weight expects 1 "
                               "(input (8, 3, 28, 28), weight (32, 1, 3, 3))")


def test_conv2d_errors():
    x, w = tg.zeros(2, 1, 5, 5), tg.zeros(4, 1, 3, 3)
    with pytest.raises(ValueError, match=r"^conv2d: input must be 4-D \(N, C, H, W\), got shape \(1, 5, 5\)"):
        conv2d(tg.zeros(1, 5, 5), w)
    with pytest.raises(ValueError, match=r"^conv2d: weight must be 4-D .*got shape \(4, 9\)"):
        conv2d(x, tg.zeros(4, 9))
    with pytest.raises(ValueError, match=r"^conv2d: kernel 8x8 is larger than the padded input 7x7 \(input \(2, 1, 5, 5\), padding \(1, 1\)\)"):
        conv2d(x, tg.zeros(4, 1, 8, 8), padding=1)
    with pytest.raises(ValueError, match=r"^conv2d: stride must be positive, got 0"):
        conv2d(x, w, stride=0)
    with pytest.raises(ValueError, match=r"^conv2d: stride must be positive, got \(1, -1\)"):
        conv2d(x, w, stride=(1, -1))
    with pytest.raises(ValueError, match=r"^conv2d: padding must be non-negative, got -1"):
        conv2d(x, w, padding=-1)
    with pytest.raises(ValueError, match=r"^conv2d: stride must be an int or a pair of ints, got \(1, 1, 1\)"):
        conv2d(x, w, stride=(1, 1, 1))
    with pytest.raises(ValueError, match=r"^conv2d: bias must have shape \(4,\) .*got \(3,\)"):
        conv2d(x, w, tg.zeros(3))


@pytest.mark.parametrize("fn, name", [(max_pool2d, "max_pool2d"), (avg_pool2d, "avg_pool2d")])
def test_pooling_errors(fn, name):
    with pytest.raises(ValueError, match=rf"^{name}: input must be 4-D \(N, C, H, W\), got shape \(3, 4, 4\)"):
        fn(tg.zeros(3, 4, 4), 2)
    with pytest.raises(ValueError, match=rf"^{name}: kernel 5x5 is larger than the padded input 4x4"):
        fn(tg.zeros(1, 1, 4, 4), 5)
    with pytest.raises(ValueError, match=rf"^{name}: stride must be positive, got 0"):
        fn(tg.zeros(1, 1, 4, 4), 2, 0)
    with pytest.raises(ValueError, match=rf"^{name}: kernel_size must be positive, got 0"):
        fn(tg.zeros(1, 1, 4, 4), 0)
    with pytest.raises(ValueError, match=rf"^{name}: padding \(2, 2\) must be at most half the kernel size \(3, 3\)"):
        fn(tg.zeros(1, 1, 4, 4), 3, 1, 2)


# ------------------------------------------------------------------------------ house style
def test_ops_declare_name_and_formula():
    for op, name in ((Conv2d, "conv2d"), (MaxPool2d, "max_pool2d"), (AvgPool2d, "avg_pool2d")):
        assert op.name == name and "∂" in op.formula and op.__doc__


@pytest.mark.parametrize("padding", [0, 1, (2, 1)])
@pytest.mark.parametrize("threads", [1, 2])
def test_the_input_gradient_by_patches_and_by_kernel_offsets_agree(monkeypatch, padding, threads):
    """Stride 1 and few input channels: ∂x as one product of g's patches with the flipped kernel
    (conv.PATCHES_MAX_CHANNELS), against the products by kernel offset and the reference, in
    chunks of 2 images, fused with ReLU and max pooling, on one thread and on two."""
    from tensorgrad.ops import conv as conv_module
    rng = np.random.default_rng(8)
    x = rng.standard_normal((5, 3, 8, 9))
    w, b = rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    monkeypatch.setattr(_windows, "CHUNK_BYTES", 2 * 27 * 8 * 9 * 8)
    results = {}
    tg.set_num_threads(threads)
    try:
        for limit in (0, 16):  # by kernel offsets; by patches
            monkeypatch.setattr(conv_module, "PATCHES_MAX_CHANNELS", limit)
            tensors = [tg.tensor(a, requires_grad=True) for a in (x, w, b)]
            out = Conv2d.apply(*tensors, padding=padding, activation="relu", max_pool=2)
            out.backward(np.random.default_rng(9).standard_normal(out.shape))
            results[limit] = [out.data] + [t.grad for t in tensors]
    finally:
        tg.set_num_threads("auto")
    tensors = [tg.tensor(a, requires_grad=True) for a in (x, w, b)]
    plain = max_pool2d(_reference(*tensors, 1, padding).relu(), 2)
    plain.backward(np.random.default_rng(9).standard_normal(plain.shape))
    for by_offsets, by_patches, expected in zip(results[0], results[16], [plain.data] + [t.grad for t in tensors]):
        np.testing.assert_allclose(by_patches, by_offsets, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(by_patches, expected, rtol=1e-12, atol=1e-12)
