"""Every differentiable op, one class each: its forward, its backward and its derivative formula
together. The ops take NumPy arrays and return NumPy arrays; ``Function.apply`` (autograd.py)
records them in the graph, and ``Tensor``'s methods (tensor.py) call them.

=====================  ==========================================================================
``elementwise.py``     + − × ÷, pow, exp, log, sqrt, abs, sin, cos, erf; relu, sigmoid, tanh, gelu,
                       softplus; clip, maximum, minimum, where; dropout's mask; astype
``reduce.py``          sum, mean, max, min, var, logsumexp, norm over axes; cumsum
``shape.py``           reshape, transpose, expand, repeat, indexing, gather, scatter_add,
                       index_select (and index_add, their gradient), concatenate, stack, tril/triu
``matmul.py``          ``a @ b``, the linear layer ``x @ Wᵀ + b`` as one op, and einsum
``softmax.py``         softmax, log-softmax (stable)
``normalize.py``       (x − mean)/√(var + eps) over axes: BatchNorm, LayerNorm, GroupNorm
``losses.py``          cross-entropy, binary cross-entropy (with logits), with PyTorch's options
``conv_reference.py``  2-D convolution in ~40 plain lines: read this one
``conv.py``            the same convolution, fast (chunks, channels-last, threads, fusion)
``pool.py``            max and average pooling
=====================  ==========================================================================

``_args.py`` (axes, pairs, dtypes) and ``_windows.py`` (kernels sliding over images) hold the
checks and geometry that several ops share; ``_erf.py`` is the error function GELU needs;
``_composite.py`` writes the windowed ops (and the convolutions with dilation, groups or
transposed) with simpler ops, for gradients of gradients and the layers' other options.
"""
from __future__ import annotations

from ..autograd import Function
from . import conv, conv_reference, elementwise, losses, matmul, normalize, pool, reduce, shape, softmax  # noqa: F401

__all__ = ["all_ops"]


def all_ops() -> list[type[Function]]:
    """Every op class that declares a formula, by name: for documentation, and for tests that
    check each one."""
    seen: list[type[Function]] = []
    stack = [Function]
    while stack:
        cls = stack.pop()
        for sub in cls.__subclasses__():
            if sub not in seen:
                seen.append(sub)
                stack.append(sub)
    return sorted((c for c in seen if c.formula and c.__module__.startswith(__name__)), key=lambda c: c.name)
