"""The table of op cases (constant arrays in it are float32, so a float32 run stays float32) shared by the gradcheck and dtype tests.

Each case is (label, function of tensors, input shapes, domain). ``domain`` keeps inputs where the
op is smooth: "any" (standard normal), "positive" (log, sqrt, fractional powers), "away" (at least
0.1 away from 0: kinks of relu/abs, division), "distinct" (spread out, no ties for max/min).
"""
from __future__ import annotations

import numpy as np

import tensorgrad as tg
from tensorgrad.ops.elementwise import Erf
from tensorgrad.ops.normalize import Normalize
from tensorgrad.ops.shape import IndexAdd

BROADCAST_PAIRS = [
    ((3, 4), (3, 4)),
    ((3, 4), (4,)),
    ((3, 1), (1, 4)),
    ((2, 3, 4), (3, 1)),
    ((), (3, 4)),
]

CASES: list[tuple[str, object, list[tuple[int, ...]], str]] = []


def case(label, fn, shapes, domain="any"):
    CASES.append((label, fn, shapes, domain))


for sa, sb in BROADCAST_PAIRS:
    case(f"add{sa}{sb}", lambda a, b: a + b, [sa, sb])
    case(f"sub{sa}{sb}", lambda a, b: a - b, [sa, sb])
    case(f"mul{sa}{sb}", lambda a, b: a * b, [sa, sb])
    case(f"div{sa}{sb}", lambda a, b: a / b, [sa, sb], "away")
    case(f"maximum{sa}{sb}", lambda a, b: tg.maximum(a, b), [sa, sb], "distinct")
    case(f"minimum{sa}{sb}", lambda a, b: tg.minimum(a, b), [sa, sb], "distinct")
    case(f"pow_tensor{sa}{sb}", lambda a, b: a ** b, [sa, sb], "positive")
    case(f"where{sa}{sb}", lambda a, b: tg.where(a.data > b.data, a, b), [sa, sb], "distinct")

# scalars and arrays on either side
case("add_scalar_both_sides", lambda a: 2.0 + a + 3, [(3, 4)])
case("rsub_scalar", lambda a: 1.5 - a, [(3, 4)])
case("rdiv_scalar", lambda a: 2.0 / a, [(3, 4)], "away")
case("div_scalar", lambda a: a / 4, [(3, 4)])
case("mul_ndarray_right", lambda a: a * np.linspace(-1, 1, 4, dtype=np.float32), [(3, 4)])
case("mul_ndarray_left", lambda a: np.linspace(-1, 1, 4, dtype=np.float32) * a, [(3, 4)])
case("neg", lambda a: -a, [(3, 4)])
case("pow_square", lambda a: a ** 2, [(3, 4)])
case("pow_cube", lambda a: a ** 3, [(2, 3)])
case("pow_half", lambda a: a ** 0.5, [(3, 4)], "positive")
case("pow_negative", lambda a: a ** -1.5, [(3, 4)], "positive")
case("rpow_scalar_base", lambda a: 2.0 ** a, [(3, 4)])

# unary elementwise
case("exp", lambda a: a.exp(), [(3, 4)])
case("log", lambda a: a.log(), [(3, 4)], "positive")
case("sqrt", lambda a: a.sqrt(), [(3, 4)], "positive")
case("abs", lambda a: a.abs(), [(3, 4)], "away")
case("abs_builtin", lambda a: abs(a), [(5,)], "away")
case("tanh", lambda a: a.tanh(), [(3, 4)])
case("sigmoid", lambda a: a.sigmoid(), [(3, 4)])
case("relu", lambda a: a.relu(), [(3, 4)], "away")
case("gelu", lambda a: a.gelu(), [(3, 4)])
case("gelu_tanh", lambda a: a.gelu(approximate="tanh"), [(3, 4)])
case("erf", lambda a: Erf.apply(a), [(3, 4)])
case("clip_both", lambda a: a.clip(-0.5, 0.5), [(4, 5)], "distinct")
case("clip_min_only", lambda a: a.clip(min=0.0), [(4, 5)], "away")
case("astype64", lambda a: (a.astype(np.float64) * 2).astype(a.dtype), [(3,)])

# matmul: vectors, matrices, stacks, broadcast batches
for sa, sb in [((3, 4), (4, 5)), ((4,), (4, 5)), ((3, 4), (4,)), ((4,), (4,)), ((2, 3, 4), (4, 5)),
               ((2, 3, 4), (2, 4, 5)), ((1, 3, 4), (2, 4, 5)), ((3, 4), (2, 4, 5)), ((2, 3, 4), (4,))]:
    case(f"matmul{sa}{sb}", lambda a, b: a @ b, [sa, sb])
case("matmul_ndarray_left", lambda b: np.ones((2, 3), dtype=np.float32) @ b, [(3, 4)])
case("matmul_transposed_weight", lambda x, w: x @ w.T, [(5, 4), (3, 4)])

# reductions
for axis, keepdims in [(None, False), (None, True), (0, False), (1, True), (-1, False),
                       ((0, 2), False), ((0, 2), True), ((-1, -2), True)]:
    case(f"sum{axis}{keepdims}", lambda a, ax=axis, k=keepdims: a.sum(axis=ax, keepdims=k), [(2, 3, 4)])
    case(f"mean{axis}{keepdims}", lambda a, ax=axis, k=keepdims: a.mean(axis=ax, keepdims=k), [(2, 3, 4)])
    case(f"max{axis}{keepdims}", lambda a, ax=axis, k=keepdims: a.max(axis=ax, keepdims=k), [(2, 3, 4)], "distinct")
    case(f"min{axis}{keepdims}", lambda a, ax=axis, k=keepdims: a.min(axis=ax, keepdims=k), [(2, 3, 4)], "distinct")
    case(f"var{axis}{keepdims}", lambda a, ax=axis, k=keepdims: a.var(axis=ax, keepdims=k), [(2, 3, 4)])
case("var_ddof1", lambda a: a.var(axis=0, ddof=1), [(5, 3)])

# shape and indexing
case("reshape", lambda a: a.reshape(4, -1) * np.arange(6, dtype=np.float32), [(2, 3, 4)])
case("reshape_tuple", lambda a: a.reshape((3, 8)), [(2, 3, 4)])
case("transpose_default", lambda a: a.transpose() * np.arange(2, dtype=np.float32), [(2, 3, 4)])
case("transpose_axes", lambda a: a.transpose(1, 2, 0), [(2, 3, 4)])
case("T", lambda a: a.T @ np.ones((3, 2), dtype=np.float32), [(3, 4)])
case("flatten", lambda a: a.flatten(), [(2, 3, 4)])
case("flatten_start1", lambda a: a.flatten(start=1), [(2, 3, 4)])
case("getitem_slices", lambda a: a[1:, ::2], [(4, 5)])
case("getitem_int_and_newaxis", lambda a: a[1, None, ..., 2], [(3, 4, 5)])
case("getitem_repeated_indices", lambda a: a[np.array([0, 2, 2, 0, 2])], [(3, 4)])
case("getitem_pick_per_row", lambda a: a[np.arange(4), np.array([1, 0, 1, 2])], [(4, 3)])
case("getitem_bool_mask", lambda a: a[a.data > 0], [(4, 5)])
case("concatenate_axis0", lambda a, b: tg.concatenate([a, b, a], axis=0), [(2, 3), (4, 3)])
case("concatenate_axis1", lambda a, b: tg.concatenate([a, b], axis=1), [(2, 3), (2, 1)])
case("stack_axis0", lambda a, b: tg.stack([a, b, b]), [(2, 3), (2, 3)])
case("stack_axis_last", lambda a, b: tg.stack([a, b], axis=-1), [(2, 3), (2, 3)])

# softmax family
for axis in (-1, 0, 1):
    case(f"softmax{axis}", lambda a, ax=axis: a.softmax(axis=ax), [(3, 4, 5)])
    case(f"log_softmax{axis}", lambda a, ax=axis: a.log_softmax(axis=ax), [(3, 4, 5)])

# PyTorch's spellings and ops (issue 20): elementwise, reductions, shapes, indexing, einsum
case("sin", lambda a: a.sin(), [(3, 4)])
case("normalize_batch", lambda a: Normalize.apply(a, axes=(0,)) * np.arange(1, 5, dtype=np.float32), [(5, 4)])
case("normalize_last_two", lambda a: Normalize.apply(a, axes=(1, 2), eps=1e-3) * np.arange(12, dtype=np.float32).reshape(3, 4), [(2, 3, 4)])
case("batch_norm_rows", lambda a, w, b: tg.nn.functional.batch_norm(a, None, None, w, b, training=True)
     * np.arange(1, 13, dtype=np.float32).reshape(3, 4), [(3, 4), (4,), (4,)])
case("batch_norm_images_tanh", lambda a, w, b: tg.nn.functional.batch_norm(a, None, None, w, b, training=True,
                                                                            activation="tanh")
     * np.arange(24, dtype=np.float32).reshape(2, 3, 2, 2), [(2, 3, 2, 2), (3,), (3,)])
case("batch_norm_channels_last", lambda a: tg.nn.functional.batch_norm(a.permute(0, 3, 1, 2), None, None, training=True)
     * np.arange(24, dtype=np.float32).reshape(2, 3, 2, 2), [(2, 2, 2, 3)])
case("softplus", lambda a: tg.nn.functional.softplus(a * 30), [(3, 4)])
case("cos", lambda a: a.cos(), [(3, 4)])
for axis, keepdims in [(None, False), (1, True), ((0, 2), False)]:
    case(f"logsumexp{axis}{keepdims}", lambda a, ax=axis, k=keepdims: a.logsumexp(axis=ax, keepdims=k), [(2, 3, 4)])
    case(f"norm{axis}{keepdims}", lambda a, ax=axis, k=keepdims: a.norm(axis=ax, keepdims=k), [(2, 3, 4)])
case("norm_p3", lambda a: a.norm(p=3, dim=1), [(3, 4)], "away")
case("cumsum0", lambda a: a.cumsum(axis=0) * np.arange(1, 5, dtype=np.float32), [(3, 4)])
case("cumsum_flat", lambda a: a.cumsum() * np.arange(1, 13, dtype=np.float32), [(3, 4)])
case("max_dim", lambda a: a.max(dim=1).values * np.arange(1, 4, dtype=np.float32), [(3, 4)], "distinct")
case("sort", lambda a: a.sort(dim=0, descending=True).values * np.arange(12, dtype=np.float32).reshape(3, 4), [(3, 4)], "distinct")
case("topk", lambda a: a.topk(2).values * np.array([1.0, 3.0], dtype=np.float32), [(3, 4)], "distinct")
case("std_dim", lambda a: a.std(dim=1), [(3, 4)])
case("expand", lambda a: a.expand(2, 3, 4) * np.arange(24, dtype=np.float32).reshape(2, 3, 4), [(3, 1)])
case("repeat", lambda a: a.repeat(2, 1, 3) * np.arange(72, dtype=np.float32).reshape(2, 3, 12), [(3, 4)])
case("unsqueeze_squeeze_permute", lambda a: a.unsqueeze(1).permute(2, 1, 0).squeeze(1) * np.arange(12, dtype=np.float32).reshape(4, 3), [(3, 4)])
case("transpose_two_of_three", lambda a: a.transpose(0, 2) * np.arange(24, dtype=np.float32).reshape(4, 3, 2), [(2, 3, 4)])
case("tril", lambda a: a.tril() * np.arange(12, dtype=np.float32).reshape(3, 4), [(3, 4)])
case("triu_batch", lambda a: a.triu(1) * np.arange(24, dtype=np.float32).reshape(2, 3, 4), [(2, 3, 4)])
case("gather", lambda a: a.gather(1, np.array([[0, 0, 2], [3, 1, 1], [2, 2, 2]])), [(3, 4)])
case("scatter_add", lambda a, src: a.scatter_add(0, np.array([[0, 2, 2, 1], [0, 0, 1, 1]]), src), [(3, 4), (2, 5)])
case("index_add", lambda a: IndexAdd.apply(a, index=(np.array([0, 2, 0]),), shape=(4, 3)) * np.arange(12, dtype=np.float32).reshape(4, 3), [(3, 3)])
case("index_select", lambda a: a.index_select(1, np.array([3, 0, 3])) * np.arange(9, dtype=np.float32).reshape(3, 3), [(3, 4)])
case("masked_fill", lambda a: a.masked_fill(np.eye(3, 4, dtype=bool), -2.0) * np.arange(12, dtype=np.float32).reshape(3, 4), [(3, 4)])
case("split_chunk", lambda a: tg.cat(a.split([1, 3], dim=1)[::-1], dim=1) * np.arange(12, dtype=np.float32).reshape(3, 4)
     + tg.cat(a.chunk(2, dim=0)[::-1], dim=0), [(3, 4)])
case("einsum_matmul", lambda a, b: tg.einsum("ij,jk->ik", a, b), [(3, 4), (4, 2)])
case("einsum_batch_outer", lambda a, b: tg.einsum("bi,bj->bij", a, b), [(2, 3), (2, 4)])
case("einsum_sum_and_broadcast", lambda a, b: tg.einsum("ij,k->jk", a, b), [(3, 4), (2,)])
case("einsum_ellipsis", lambda a, b: tg.einsum("...ij,...jk", a, b), [(2, 3, 4), (2, 4, 2)])
case("einsum_three", lambda a, b, c: tg.einsum("ij,jk,kl->il", a, b, c), [(2, 3), (3, 4), (4, 2)])
case("numpy_functions", lambda a: np.mean(np.exp(a) * np.sin(a), axis=0), [(3, 4)])


def make_inputs(shapes, domain, dtype, seed=0):
    rng = np.random.default_rng(seed)
    arrays = []
    for position, shape in enumerate(shapes):
        x = rng.standard_normal(shape)
        if domain == "positive":
            x = np.abs(x) + 0.5
        elif domain == "away":
            x = np.sign(x) * (np.abs(x) + 0.1) + (x == 0)
        elif domain == "distinct":
            # spaced at least 0.02 apart, shuffled, and away from the clip bounds ±0.5 and 0
            values = (np.arange(x.size) - x.size / 2) * 0.13 + 0.031 + 0.047 * position
            x = rng.permutation(values).reshape(shape) if x.size else x
        arrays.append(np.asarray(x, dtype=dtype))
    return arrays


# ------------------------------------------------------------------- 0-d tensors (micrograd's world)
#: (label, op names it covers, function, number of 0-d inputs, domain). Every op that takes a 0-d
#: tensor appears here; test_scalars.py checks the list against all_ops().
SCALAR_CASES: list[tuple[str, tuple[str, ...], object, int, str]] = [
    ("add", ("add",), lambda a, b: a + b, 2, "any"),
    ("sub", ("sub",), lambda a, b: a - b, 2, "any"),
    ("mul", ("mul",), lambda a, b: a * b, 2, "any"),
    ("div", ("div",), lambda a, b: a / b, 2, "away"),
    ("pow", ("pow",), lambda a, b: a ** b, 2, "positive"),
    ("maximum_minimum", ("maximum", "minimum"), lambda a, b: tg.maximum(a, b) * tg.minimum(a, 2 * b), 2, "distinct"),
    ("where", ("where",), lambda a, b: tg.where(a.data > 0, a, b), 2, "any"),
    ("neg_abs", ("neg", "abs"), lambda a: -abs(a), 1, "away"),
    ("exp_log_sqrt", ("exp", "log", "sqrt"), lambda a: a.exp() + a.log() + a.sqrt(), 1, "positive"),
    ("tanh", ("tanh",), lambda a: a.tanh(), 1, "any"),
    ("sigmoid", ("sigmoid",), lambda a: a.sigmoid(), 1, "any"),
    ("relu", ("relu",), lambda a: a.relu(), 1, "away"),
    ("gelu", ("gelu",), lambda a: a.gelu() + a.gelu(approximate="tanh"), 1, "any"),
    ("clip", ("clip",), lambda a: a.clip(-5.0, 5.0), 1, "any"),
    ("astype", ("astype",), lambda a: (a.astype(np.float64) * 3).astype(a.dtype), 1, "any"),
    ("reductions", ("sum", "mean", "max", "min", "var"),
     lambda a: a.sum() + a.mean(axis=0) * 2 + a.max() * 3 + a.min(axis=-1, keepdims=True) + a.var(), 1, "any"),
    ("reshape_transpose_flatten", ("reshape", "transpose"), lambda a: a.reshape(1, 1).T.flatten() * 2, 1, "any"),
    ("getitem", ("getitem",), lambda a: a[()] * a[None][0], 1, "any"),
    ("stack_concatenate", ("stack", "concatenate"),
     lambda a, b: tg.concatenate([tg.stack([a, b]), tg.stack([b])]) * np.arange(1, 4), 2, "any"),
    ("softmax", ("softmax", "log_softmax"), lambda a: a.softmax() * 2 + a.log_softmax(axis=0), 1, "any"),
    ("sin_cos", ("sin", "cos"), lambda a: a.sin() * a.cos(), 1, "any"),
    ("softplus_erf", ("softplus", "erf"), lambda a: tg.nn.functional.softplus(a) + Erf.apply(a), 1, "any"),
    ("logsumexp_norm_cumsum", ("logsumexp", "norm", "cumsum"), lambda a: a.logsumexp() + a.norm() * 2 + a.cumsum(), 1, "away"),
    ("expand_repeat", ("expand", "repeat"), lambda a: (a.expand(3) * np.arange(3)).sum() + (a.repeat(2) * 2).sum(), 1, "any"),
    ("einsum", ("einsum",), lambda a, b: tg.einsum(",->", a, b), 2, "any"),
]

#: ops that need more than 0 dimensions, and why (test_scalars.py checks the two lists cover all ops)
NOT_FOR_SCALARS = {
    "matmul": "a product of vectors or matrices (0-d operands are refused, naming the op)",
    "linear": "rows of features", "conv2d": "(N, C, H, W) images", "conv2d_reference": "(N, C, H, W) images",
    "max_pool2d": "(N, C, H, W) images", "avg_pool2d": "(N, C, H, W) images", "dropout": "a mask of units",
    "cross_entropy": "(N, C) logits", "binary_cross_entropy": "a batch of probabilities",
    "binary_cross_entropy_with_logits": "a batch of logits",
    "triangle": "the last two axes of a matrix", "gather": "positions along an axis", "scatter_add": "positions along an axis",
    "normalize": "a mean and a variance over axes (one value: its variance is 0)",
    "batch_norm": "a mean and a variance per channel, over the batch (more than one value each)",
    "index_select": "positions along an axis", "index_add": "positions along an axis (getitem's gradient, recorded)",
}
