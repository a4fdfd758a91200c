"""Write your own op: its forward, its backward and its formula in one class, checked with tg.gradcheck.

Run:  python examples/custom_op.py

An op is a tg.Function subclass. forward gets NumPy arrays and returns one; backward gets g, the
gradient of the loss with respect to the op's output, and returns the gradient with respect to
each input (here one). The engine does the rest: it records the op in the graph, sums a gradient
over the axes broadcasting added, and casts it to its input's dtype.
"""
import numpy as np

import tensorgrad as tg


class Swish(tg.Function):
    """swish(x) = x·σ(x) (PyTorch's SiLU). By the product rule, d/dx = σ + x·σ·(1 − σ)."""

    formula = "∂x = g·(σ + x·σ·(1 − σ))   (σ = σ(x))"

    def forward(self, x):
        s = 1 / (1 + np.exp(-x))
        self.save(x, s)  # what backward needs
        return x * s

    def backward(self, g):
        x, s = self.saved
        return g * (s + x * s * (1 - s))


class SwishWithoutTheProductRule(Swish):
    """The classic mistake: differentiating x·σ(x) as if x were a constant."""

    def backward(self, g):
        x, s = self.saved
        return g * x * s * (1 - s)


x = tg.tensor(np.random.default_rng(0).standard_normal((3, 4)), requires_grad=True)  # float64 for the check
print("Swish:", tg.gradcheck(lambda t: Swish.apply(t), [x]))
# a mismatch raises tg.errors.GradcheckError (an AssertionError) unless raise_exception=False,
# which returns the failing result to print
print("Swish without the product rule:",
      tg.gradcheck(lambda t: SwishWithoutTheProductRule.apply(t), [x], raise_exception=False))

# In a model it is an op like any other: the trace prints the formula it declares.
w = tg.randn(4, 2, requires_grad=True)
loss = (Swish.apply(tg.randn(5, 4, requires_grad=True)) @ w).sum()
with tg.trace() as tr:
    loss.backward()
print(tr)
