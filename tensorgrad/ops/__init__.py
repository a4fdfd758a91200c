"""Every differentiable op, one class each: its forward, its backward and its derivative formula
together. The ops take NumPy arrays and return NumPy arrays; ``Function.apply`` (autograd.py)
records them in the graph, and ``Tensor``'s methods (tensor.py) call them.

=====================  ==========================================================================
``elementwise.py``     + − × ÷, pow, exp, log, sqrt, abs; relu, sigmoid, tanh, gelu; clip,
                       maximum, minimum, where; dropout's mask; astype
``reduce.py``          sum, mean, max, min, var over axes
``shape.py``           reshape, transpose, indexing, concatenate, stack
``matmul.py``          ``a @ b``, and the linear layer ``x @ Wᵀ + b`` as one op
``softmax.py``         softmax, log-softmax (stable)
``normalize.py``       (x − mean)/√(var + eps) over axes: BatchNorm, LayerNorm, GroupNorm
``losses.py``          cross-entropy, binary cross-entropy (with logits)
``conv_reference.py``  2-D convolution in ~40 plain lines: read this one
``conv.py``            the same convolution, fast (chunks, channels-last, threads, fusion)
``pool.py``            max and average pooling
=====================  ==========================================================================

``_args.py`` (axes, pairs, dtypes) and ``_windows.py`` (kernels sliding over images) hold the
checks and geometry that several ops share; ``_erf.py`` is the error function GELU needs.
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
