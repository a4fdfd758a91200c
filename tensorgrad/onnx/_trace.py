"""Record one forward pass of a model, and put the recorded graph in order.

tensorgrad records a graph only for ops with an input that requires a gradient, and only in
grad mode (``tg.no_grad()`` records nothing). So the trace runs the model in grad mode on copies
of the example inputs that require a gradient (floating-point ones): every op that depends on an
input becomes a node. What does not depend on an input (a parameter reshaped, a constant array)
is either a node of parameters, which require gradients, or a constant: both export.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from ..autograd import set_grad_enabled
from ..nn.module import Module
from ..tensor import Tensor

__all__ = ["trace", "topological_order", "state_names"]


def _as_tensor(value: Any) -> Tensor:
    """A fresh leaf of the example input's values, requiring a gradient when it can."""
    data = np.array(value.data if isinstance(value, Tensor) else value)
    return Tensor(data, requires_grad=data.dtype.kind == "f")


def trace(model: Module | Callable[..., Any], example_inputs: Sequence[Any]) -> tuple[list[Tensor], list[Tensor]]:
    """Run ``model(*inputs)`` once, recorded; the input Tensors and the output Tensors.

    A Module runs in eval mode (dropout off, batch norm on its running statistics), and every
    module's own mode is put back afterwards, whatever happens."""
    inputs = [_as_tensor(x) for x in example_inputs]
    modes = [(module, module.training) for module in model.modules()] if isinstance(model, Module) else []
    try:
        if isinstance(model, Module):
            model.eval()
        with set_grad_enabled(True):
            result = model(*inputs)
    finally:
        for module, training in modes:
            object.__setattr__(module, "training", training)
    outputs = list(result) if isinstance(result, (tuple, list)) else [result]
    for k, output in enumerate(outputs):
        if not isinstance(output, Tensor):
            raise TypeError(f"onnx.export: the model returned {type(output).__name__} as output {k}; "
                            "it must return a Tensor or a tuple of Tensors")
    return inputs, outputs


def topological_order(outputs: Sequence[Tensor]) -> list[Tensor]:
    """Every tensor the outputs were computed from, each after the tensors its op read: an
    iterative depth-first walk from the outputs (a deep graph needs no recursion)."""
    order: list[Tensor] = []
    done: set[int] = set()
    stack: list[tuple[Tensor, bool]] = [(t, False) for t in reversed(outputs)]
    while stack:
        tensor, inputs_done = stack.pop()
        if id(tensor) in done:
            continue
        if inputs_done:
            done.add(id(tensor))
            order.append(tensor)
            continue
        stack.append((tensor, True))
        if tensor.grad_fn is not None:
            stack.extend((t, False) for t in reversed(tensor.grad_fn.inputs) if id(t) not in done)
    return order


def state_names(model: Any) -> dict[int, tuple[str, Tensor]]:
    """id(tensor) -> (its state_dict name, the tensor) for a Module's parameters and buffers."""
    if not isinstance(model, Module):
        return {}
    named = list(model.named_parameters()) + list(model.named_buffers())
    return {id(tensor): (name, tensor) for name, tensor in named if tensor is not None}
