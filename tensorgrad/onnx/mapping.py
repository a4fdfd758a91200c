"""From tensorgrad's ops to ONNX operators: one small function per op, and the table of them.

Each function receives the :class:`~tensorgrad.onnx._builder.GraphBuilder` ``g`` and the
:class:`~tensorgrad.onnx._builder.Step` ``s`` (the tensorgrad node, the ONNX names of its inputs,
the traced Tensors, the name its result must take) and adds the ONNX nodes that compute the op.
The options an op's forward saw are attributes of the node: ``node.axes`` of a reduction,
``node.window`` (kernel, stride, padding) of a convolution or pooling, ``node.activation`` and
``node.pool`` of a fused layer. A fused node ("linear+relu", "conv2d+relu+max_pool2d") becomes
several ONNX nodes, one per op it fuses.

The table is keyed by the op class's ``name`` (``type(node).name``: "linear" for a "linear+relu"
node too). An op of your own exports once it has an entry::

    def swish(g, s):  # x·σ(x)
        g.op("Mul", s.inputs[0], g.op("Sigmoid", s.inputs[0]), out=s.output)

    tensorgrad.onnx.ONNX_OPS["swish"] = swish

The opset is 17 by default (``g.opset``); where operators changed since (the axes of the
reductions, an input from opset 18), ``g.reduce`` writes either form.
"""
from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from ._builder import GraphBuilder, Step, Unsupported

__all__ = ["ONNX_OPS", "HINTS"]

Build = Callable[[GraphBuilder, Step], None]

#: tensorgrad's fusable activations (``node.activation.name``) as ONNX operators
ACTIVATIONS = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh"}


# ------------------------------------------------------------------------------- elementwise
def unary(op_type: str) -> Build:
    """An op that is one ONNX operator of one input (relu -> Relu)."""
    def build(g: GraphBuilder, s: Step) -> None:
        g.op(op_type, s.inputs[0], out=s.output)
    build.__name__ = f"unary_{op_type}"
    return build


def binary(op_type: str) -> Build:
    """An op that is one ONNX operator of two inputs, with NumPy's broadcasting (add -> Add)."""
    def build(g: GraphBuilder, s: Step) -> None:
        g.op(op_type, s.inputs[0], s.inputs[1], out=s.output)
    build.__name__ = f"binary_{op_type}"
    return build


def gelu(g: GraphBuilder, s: Step) -> None:
    """x·Φ(x) = x·½·(1 + erf(x/√2)); with approximate="tanh", ½x·(1 + tanh(√(2/π)·(x + 0.044715x³)))
    (ONNX's own Gelu operator comes with opset 20)."""
    x, dtype = s.inputs[0], s.result.dtype
    if getattr(s.node, "approximate", "none") == "tanh":
        cube = g.op("Mul", x, g.op("Mul", x, x))
        inner = g.op("Add", x, g.op("Mul", cube, g.scalar(0.044715, dtype, "c")))
        cdf = g.op("Add", g.op("Tanh", g.op("Mul", inner, g.scalar(math.sqrt(2 / math.pi), dtype, "sqrt_2_over_pi"))),
                   g.scalar(1.0, dtype, "one"))
    else:
        cdf = g.op("Add", g.op("Erf", g.op("Div", x, g.scalar(math.sqrt(2.0), dtype, "sqrt_2"))),
                   g.scalar(1.0, dtype, "one"))
    g.op("Mul", g.op("Mul", x, cdf), g.scalar(0.5, dtype, "half"), out=s.output)


def clip(g: GraphBuilder, s: Step) -> None:
    """np.clip(x, low, high): Clip with scalar bounds, else Max and Min."""
    x, dtype = s.inputs[0], s.result.dtype
    low, high = s.node.low, s.node.high
    if np.ndim(low) == 0 and np.ndim(high) == 0:
        g.op("Clip", x, None if low is None else g.scalar(low, dtype, "min"),
             None if high is None else g.scalar(high, dtype, "max"), out=s.output)
        return
    if low is not None:
        x = g.op("Max", x, g.constant(np.asarray(low, dtype), f"{g.prefix}/min"),
                 out=s.output if high is None else None)
    if high is not None:
        g.op("Min", x, g.constant(np.asarray(high, dtype), f"{g.prefix}/max"), out=s.output)


def where(g: GraphBuilder, s: Step) -> None:
    condition = s.inputs[0]
    if s.tensors[0].dtype != np.bool_:
        condition = g.op("Cast", condition, to=g.tensor_type(np.bool_))
    g.op("Where", condition, s.inputs[1], s.inputs[2], out=s.output)


def cast(g: GraphBuilder, s: Step) -> None:
    g.op("Cast", s.inputs[0], out=s.output, to=g.tensor_type(s.result.dtype))


def identity(g: GraphBuilder, s: Step) -> None:
    g.op("Identity", s.inputs[0], out=s.output)


# ---------------------------------------------------------------------------------- layers
def matmul(g: GraphBuilder, s: Step) -> None:
    g.op("MatMul", s.inputs[0], s.inputs[1], out=s.output)


def _is_zero_bias(tensor: Any) -> bool:
    """F.linear's stand-in for no bias: a 0-d constant zero."""
    return tensor.grad_fn is None and tensor.ndim == 0 and not tensor.requires_grad and float(tensor.data) == 0.0


def linear(g: GraphBuilder, s: Step) -> None:
    """x·Wᵀ + b: Gemm(transB=1) for a batch of rows (2-D x), else MatMul by Transpose(W), then Add;
    then the fused activation, if any ("linear+relu": Gemm, Relu)."""
    x, weight, bias = s.inputs
    if _is_zero_bias(s.tensors[2]):
        bias = None
    activation = getattr(s.node, "activation", None)
    last = s.output if activation is None else None
    if s.tensors[0].ndim == 2:
        y = g.op("Gemm", x, weight, bias, out=last, transB=1)
    else:  # (..., in_features) or a single row (in_features,)
        y = g.op("MatMul", x, g.op("Transpose", weight, perm=[1, 0]), out=last if bias is None else None)
        if bias is not None:
            y = g.op("Add", y, bias, out=last)
    if activation is not None:
        g.op(ACTIVATIONS[activation.name], y, out=s.output)


def _pads(window: Any) -> list[int]:
    """ONNX's pads, [top, left, bottom, right], of a tensorgrad window's (rows, columns) padding."""
    ph, pw = window.padding
    return [ph, pw, ph, pw]


def conv2d(g: GraphBuilder, s: Step) -> None:
    """Conv (kernel, strides and pads from the node's window); then, for a fused node, its
    activation and its max pooling ("conv2d+relu+max_pool2d": Conv, Relu, MaxPool)."""
    window = s.node.window
    activation, pool = getattr(s.node, "activation", None), getattr(s.node, "pool", None)
    y = g.op("Conv", *s.inputs, out=s.output if activation is None and pool is None else None,
             kernel_shape=list(window.kernel), strides=list(window.stride), pads=_pads(window))
    if activation is not None:  # (the fused node pools before its ReLU: the same numbers, as ReLU keeps order)
        y = g.op(ACTIVATIONS[activation.name], y, out=s.output if pool is None else None)
    if pool is not None:  # stride = kernel, no padding, the output's last rows/columns dropped (floor)
        g.op("MaxPool", y, out=s.output, kernel_shape=list(pool), strides=list(pool))


def max_pool2d(g: GraphBuilder, s: Step) -> None:
    window = s.node.window  # (ONNX's MaxPool pads with −inf, as tensorgrad's)
    g.op("MaxPool", s.inputs[0], out=s.output, kernel_shape=list(window.kernel), strides=list(window.stride),
         pads=_pads(window))


def avg_pool2d(g: GraphBuilder, s: Step) -> None:
    window = s.node.window  # the zero padding counts in the mean (PyTorch's count_include_pad=True)
    g.op("AveragePool", s.inputs[0], out=s.output, kernel_shape=list(window.kernel),
         strides=list(window.stride), pads=_pads(window), count_include_pad=1)


# ------------------------------------------------------------------------------ reductions
def reduction(op_type: str) -> Build:
    """sum -> ReduceSum etc., over the node's axes (an empty tuple, for a 0-d input: Identity)."""
    def build(g: GraphBuilder, s: Step) -> None:
        if not s.node.axes:
            g.op("Identity", s.inputs[0], out=s.output)
        else:
            g.reduce(op_type, s.inputs[0], s.node.axes, s.node.keepdims, out=s.output)
    build.__name__ = f"reduce_{op_type}"
    return build


def var(g: GraphBuilder, s: Step) -> None:
    """Σ(x − mean)²/(N − ddof): a ReduceMean of the squares for ddof = 0 (right for any batch
    size), else a ReduceSum divided by the traced N − ddof."""
    x, axes, keepdims = s.inputs[0], s.node.axes, s.node.keepdims
    centered = g.op("Sub", x, g.reduce("ReduceMean", x, axes, True))
    square = g.op("Mul", centered, centered)
    count = int(np.prod([s.tensors[0].shape[a] for a in axes]))
    if s.node.divisor == count:
        g.reduce("ReduceMean", square, axes, keepdims, out=s.output)
    else:
        total = g.reduce("ReduceSum", square, axes, keepdims)
        g.op("Div", total, g.scalar(s.node.divisor, s.result.dtype, "divisor"), out=s.output)


def normalize(g: GraphBuilder, s: Step) -> None:
    """(x − mean)/√(var + eps) over the axes (LayerNorm, GroupNorm): ReduceMean, Sub, Mul,
    ReduceMean, Add, Sqrt, Div."""
    _normalized(g, s, out=s.output)


def _normalized(g: GraphBuilder, s: Step, out: str | None = None) -> str:
    x, axes, dtype = s.inputs[0], s.node.axes, s.result.dtype
    centered = g.op("Sub", x, g.reduce("ReduceMean", x, axes, True))
    variance = g.reduce("ReduceMean", g.op("Mul", centered, centered), axes, True)
    std = g.op("Sqrt", g.op("Add", variance, g.scalar(s.node.eps, dtype, "eps")))
    return g.op("Div", centered, std, out=out)


def batch_norm(g: GraphBuilder, s: Step) -> None:
    """Batch normalization with the batch's own statistics (F.batch_norm(..., training=True); a
    Module exports in eval mode, with its running statistics, as ordinary ops): normalize's
    operators over every axis but the channels, then Mul and Add by the weight and bias as
    (1, C, 1, ...), then the fused activation ("batch_norm+relu": ..., Relu)."""
    activation = getattr(s.node, "activation", None)
    y = _normalized(g, s, out=s.output if len(s.inputs) == 1 and activation is None else None)
    if len(s.inputs) == 3:
        per_channel = g.ints([1, -1] + [1] * (s.tensors[0].ndim - 2), "channels")
        y = g.op("Mul", y, g.op("Reshape", s.inputs[1], per_channel))
        y = g.op("Add", y, g.op("Reshape", s.inputs[2], per_channel), out=s.output if activation is None else None)
    if activation is not None:
        g.op(ACTIVATIONS[activation.name], y, out=s.output)


def cumsum(g: GraphBuilder, s: Step) -> None:
    if not s.node.axis:
        g.op("Identity", s.inputs[0], out=s.output)
    else:
        g.op("CumSum", s.inputs[0], g.constant(np.asarray(s.node.axis[0], np.int64), f"{g.prefix}/axis"),
             out=s.output)


def softmax(op_type: str) -> Build:
    """softmax -> Softmax, log_softmax -> LogSoftmax, along the node's axis (opset ≥ 13: one axis)."""
    def build(g: GraphBuilder, s: Step) -> None:
        if not s.node.axis:
            raise Unsupported("the softmax of a 0-d tensor")
        g.op(op_type, s.inputs[0], out=s.output, axis=int(s.node.axis[0]))
    build.__name__ = f"softmax_{op_type}"
    return build


# ------------------------------------------------------------------------------------ shape
def reshape(g: GraphBuilder, s: Step) -> None:
    """A recorded reshape has a concrete target shape (the output's). Flatten(axis=1) when it keeps
    the first axis and merges the rest (nn.Flatten, x.flatten(1)); else Reshape, where a dynamic
    batch axis is written 0 ("copy the input's") when it stays first, -1 when it is merged."""
    source, target = s.tensors[0].shape, tuple(s.result.shape)
    if len(source) >= 2 and len(target) == 2 and target[0] == source[0]:
        g.op("Flatten", s.inputs[0], out=s.output, axis=1)
        return
    shape = list(target)
    if g.batch is not None and s.is_batched and source and source[0] == g.batch and shape:
        shape[0] = 0 if shape[0] == source[0] else -1
    g.op("Reshape", s.inputs[0], g.ints(shape, "shape"), out=s.output)


def transpose(g: GraphBuilder, s: Step) -> None:
    axes = s.node.axes
    perm = list(reversed(range(s.tensors[0].ndim))) if axes is None else [int(a) for a in axes]
    g.op("Transpose", s.inputs[0], out=s.output, perm=perm)


def expand(g: GraphBuilder, s: Step) -> None:
    """Expand to the output's shape; a dynamic batch axis that x has already is written 1 there
    (ONNX's Expand broadcasts both ways, so x keeps its own)."""
    shape = list(s.result.shape)
    source = s.tensors[0].shape
    offset = len(shape) - len(source)
    if g.batch is not None and s.is_batched and offset == 0 and source and source[0] == shape[0] == g.batch:
        shape[0] = 1
    g.op("Expand", s.inputs[0], g.ints(shape, "shape"), out=s.output)


def repeat(g: GraphBuilder, s: Step) -> None:
    """PyTorch's repeat (NumPy's tile): new axes in front (Reshape), then Tile."""
    x = s.inputs[0]
    padded = s.node.padded
    if tuple(padded) != tuple(s.tensors[0].shape):
        x = g.op("Reshape", x, g.ints(padded, "shape"))
    g.op("Tile", x, g.ints(s.node.repeats, "repeats"), out=s.output)


def concatenate(g: GraphBuilder, s: Step) -> None:
    if s.node.axis is None:
        raise Unsupported("concatenate with axis=None (flattened)")
    g.op("Concat", *s.inputs, out=s.output, axis=int(s.node.axis))


def stack(g: GraphBuilder, s: Step) -> None:
    axis = int(s.node.axis)
    g.op("Concat", *[g.unsqueeze(x, [axis]) for x in s.inputs], out=s.output, axis=axis)


_INT64_MAX, _INT64_MIN = np.iinfo(np.int64).max, np.iinfo(np.int64).min


def getitem(g: GraphBuilder, s: Step) -> None:
    """x[index] for ints, slices, None and ...: one Slice for the slices (their own start, stop and
    step, so that x[:-1] stays right for any batch size), one Gather per int, Unsqueeze for None;
    one array of integer positions (x[:, [0, 2]], without ints beside it) is a Gather too."""
    index = s.node.index
    items = index if isinstance(index, tuple) else (index,)
    x, ndim = s.inputs[0], s.tensors[0].ndim
    arrays = [item for item in items if isinstance(item, (np.ndarray, list))]
    for item in arrays:
        if np.asarray(item).dtype.kind not in "iu":
            raise Unsupported(f"an index array of dtype {np.asarray(item).dtype} (a boolean mask, say)")
    ints = [item for item in items if isinstance(item, (int, np.integer)) and not isinstance(item, bool)]
    if len(arrays) > 1 or (arrays and ints):
        raise Unsupported("several index arrays, or an index array with ints (NumPy broadcasts them together)")
    for item in items:
        if not (item is None or item is Ellipsis or isinstance(item, (slice, np.ndarray, list))
                or any(item is i for i in ints)):
            raise Unsupported(f"an index of {type(item).__name__} (ints, slices, None, ... and one integer "
                              "array are mapped)")
    consumed = sum(1 for item in items if item is not None and item is not Ellipsis)
    slices, picks, new_axes = [], [], []  # (input axis, slice); (input axis, int or array); output positions
    axis = out_axis = 0
    for item in items:
        if item is None:
            new_axes.append(out_axis)
            out_axis += 1
        elif item is Ellipsis:
            axis += ndim - consumed
            out_axis += ndim - consumed
        elif isinstance(item, slice):
            if item != slice(None):
                slices.append((axis, item))
            axis, out_axis = axis + 1, out_axis + 1
        else:  # an int drops its axis; an array puts its own axes in its place
            picks.append((axis, np.asarray(item, np.int64)))
            axis, out_axis = axis + 1, out_axis + np.ndim(item)
    if slices:
        starts, ends, axes, steps = [], [], [], []
        for ax, sl in slices:
            step = 1 if sl.step is None else int(sl.step)
            starts.append((0 if step > 0 else _INT64_MAX) if sl.start is None else int(sl.start))
            ends.append((_INT64_MAX if step > 0 else _INT64_MIN) if sl.stop is None else int(sl.stop))
            axes.append(ax)
            steps.append(step)
        last = not picks and not new_axes
        x = g.op("Slice", x, g.ints(starts, "starts"), g.ints(ends, "ends"), g.ints(axes, "axes"),
                 g.ints(steps, "steps"), out=s.output if last else None)
    picks.sort(key=lambda pick: pick[0], reverse=True)  # the last axis first: the others keep their numbers
    for k, (ax, positions) in enumerate(picks):
        last = k == len(picks) - 1 and not new_axes
        x = g.op("Gather", x, g.constant(positions, f"{g.prefix}/index"), out=s.output if last else None, axis=ax)
    if new_axes:
        g.unsqueeze(x, new_axes, out=s.output)
    elif not slices and not picks:  # x[...] or x[:]
        g.op("Identity", x, out=s.output)


def gather(g: GraphBuilder, s: Step) -> None:
    """x.gather(dim, index): GatherElements; the axis is where the index sits in the node's ``where``."""
    index = s.tensors[1].data
    axis = next(k for k, part in enumerate(s.node.where) if part is index)
    g.op("GatherElements", s.inputs[0], s.inputs[1], out=s.output, axis=axis)


def index_select(g: GraphBuilder, s: Step) -> None:
    g.op("Gather", s.inputs[0], s.inputs[1], out=s.output, axis=int(s.node.axis))


def triangle(g: GraphBuilder, s: Step) -> None:
    """tril / triu: Where over the node's kept triangle (a constant mask), zeros elsewhere."""
    keep = g.constant(np.asarray(s.node.keep, np.bool_), f"{g.prefix}/keep")
    g.op("Where", keep, s.inputs[0], g.scalar(0, s.result.dtype, "zero"), out=s.output)


def einsum(g: GraphBuilder, s: Step) -> None:
    equation = ",".join(s.node.inputs_subscripts) + "->" + s.node.output_subscripts
    g.op("Einsum", *s.inputs, out=s.output, equation=equation)


# ------------------------------------------------------------------------------------ table
#: tensorgrad op name (``type(node).name``) -> the function that writes it as ONNX nodes
ONNX_OPS: dict[str, Build] = {
    # arithmetic, with NumPy's broadcasting (ONNX's is the same)
    "add": binary("Add"),
    "sub": binary("Sub"),
    "mul": binary("Mul"),
    "div": binary("Div"),
    "pow": binary("Pow"),
    "maximum": binary("Max"),
    "minimum": binary("Min"),
    "neg": unary("Neg"),
    "exp": unary("Exp"),
    "log": unary("Log"),
    "sqrt": unary("Sqrt"),
    "abs": unary("Abs"),
    "sin": unary("Sin"),
    "cos": unary("Cos"),
    "erf": unary("Erf"),
    "clip": clip,
    "where": where,
    "astype": cast,
    # activations
    "relu": unary("Relu"),
    "sigmoid": unary("Sigmoid"),
    "tanh": unary("Tanh"),
    "softplus": unary("Softplus"),
    "gelu": gelu,                           # Div, Erf, Add, Mul (or the tanh form)
    "softmax": softmax("Softmax"),
    "log_softmax": softmax("LogSoftmax"),
    # layers (a fused node also writes its activation and pooling)
    "matmul": matmul,
    "linear": linear,                       # Gemm(transB=1), or MatMul + Add; + Relu/Sigmoid/Tanh
    "conv2d": conv2d,                       # Conv; + Relu/Sigmoid/Tanh; + MaxPool
    "conv2d_reference": conv2d,
    "max_pool2d": max_pool2d,
    "avg_pool2d": avg_pool2d,
    "einsum": einsum,
    # reductions
    "sum": reduction("ReduceSum"),
    "mean": reduction("ReduceMean"),
    "max": reduction("ReduceMax"),
    "min": reduction("ReduceMin"),
    "norm": reduction("ReduceL2"),
    "logsumexp": reduction("ReduceLogSumExp"),
    "var": var,                             # ReduceMean, Sub, Mul, ReduceMean
    "normalize": normalize,                 # ReduceMean, Sub, Mul, ReduceMean, Add, Sqrt, Div
    "batch_norm": batch_norm,               # normalize's; Mul, Add by (1, C, 1, 1) Reshapes; + Relu/...
    "cumsum": cumsum,
    # shape
    "reshape": reshape,                     # Flatten, or Reshape (batch axis 0 or -1)
    "transpose": transpose,
    "expand": expand,
    "repeat": repeat,                       # (Reshape), Tile
    "concatenate": concatenate,
    "stack": stack,                         # Unsqueeze each, Concat
    "getitem": getitem,                     # Slice, Gather, Unsqueeze
    "gather": gather,                       # GatherElements
    "index_select": index_select,           # Gather
    "triangle": triangle,                   # Where with the kept triangle
    # the identity that shows a gradient to a module's backward hook
    "backward_hook": identity,
}

#: why an op without a mapping has none, where that helps (added to the error message)
HINTS: dict[str, str] = {
    "dropout": "a dropout that ran in training mode (its random mask is no function of the input): export a "
               "Module, which is traced in eval mode, or call F.dropout(..., training=False)",
    "cross_entropy": "a loss: export the model alone, without its loss",
    "binary_cross_entropy": "a loss: export the model alone, without its loss",
    "binary_cross_entropy_with_logits": "a loss: export the model alone, without its loss",
}
