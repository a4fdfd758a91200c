"""Document 001's figure: sigmoid, tanh, relu and gelu on [-5, 5], computed by tensorgrad.

Needs matplotlib (pip install "tensorgrad[plots]"). Writes activations.png.
Run:  python examples/plot_activations.py
"""
from tensorgrad.teaching.plots import plot_activations

plot_activations(path="activations.png")
print("wrote activations.png")
