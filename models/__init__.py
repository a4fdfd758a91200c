"""The course documents' models, written as tensorgrad expressions (installed as ``tensorgrad.models``).

Each model reads like its document's math, so a student can put the two side by side.
"""
from .mlp_ops import MLPParams, init_mlp, mlp_log_probs, mlp_loss

__all__ = ["MLPParams", "init_mlp", "mlp_log_probs", "mlp_loss"]
