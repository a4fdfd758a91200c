"""tensorgrad: a small, fast, readable reverse-mode autograd framework on NumPy.

Write a model as ordinary array expressions and get every gradient from the recorded graph::

    import numpy as np, tensorgrad as tg
    x = tg.tensor(np.random.rand(32, 784))
    W1 = tg.randn(128, 784, requires_grad=True)
    loss = (x @ W1.T).relu().sum()
    loss.backward()
    W1.grad.shape   # (128, 784), a NumPy array

Arrays follow NumPy's conventions (axis=, keepdims=, broadcasting); ``tg.nn`` and ``tg.optim``
follow PyTorch's.
"""
from ._version import __version__
from .errors import GradcheckError, TensorgradError
from .autograd import (
    Function, detect_anomaly, enable_grad, grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled,
)
from .tensor import Size, Tensor, concatenate, from_numpy, maximum, minimum, stack, tensor, where
from .creation import (
    arange, eye, full, full_like, manual_seed, ones, ones_like, rand, rand_like, randn, randn_like, zeros,
    zeros_like,
)
from .functions import (  # PyTorch's module-level spellings: tg.exp(x), tg.cat([a, b], dim=1), ...
    Generator, abs, argmax, argmin, argsort, as_tensor, cat, chunk, clamp, clip, cos, cumsum, einsum, exp, flatten,
    gather, index_select, is_tensor, linspace, log, log_softmax, logsumexp, masked_fill, matmul, max, mean, min,
    multinomial, norm, numel, permute, randint, relu, reshape, scatter_add, sigmoid, sin, softmax, sort, split,
    sqrt, squeeze, std, sum, tanh, topk, transpose, tril, triu, unsqueeze, var,
)
from .teaching.gradcheck import GradcheckResult, gradcheck, gradgradcheck
from .speed import memory, parallel
from .speed.parallel import get_num_threads, set_num_threads
from . import data, nn, optim  # noqa: E402  (after the core they build on)
from . import onnx  # noqa: E402  (tg.onnx.export; imports the onnx package only when called)
import numpy as _np

# dtypes under PyTorch's names, so that dtype=torch.float32 reads dtype=tg.float32
float32, float64, float16 = _np.float32, _np.float64, _np.float16
int64, int32, int16, int8, uint8, bool_ = _np.int64, _np.int32, _np.int16, _np.int8, _np.uint8, _np.bool_
long, double, half = int64, float64, float16
from .teaching.trace import Trace, trace
from .teaching.draw import draw, render
from .teaching.frames import play_backprop
from .teaching.compare import ActivationSite, GradReport, compare_grads
from .interop import from_dlpack, from_torch, load_safetensors, save_safetensors, to_torch

__all__ = [
    "__version__", "Tensor", "Function", "TensorgradError", "GradcheckError", "tensor", "from_numpy", "zeros", "ones", "full", "zeros_like",
    "ones_like", "full_like", "rand", "randn", "rand_like", "randn_like", "arange", "eye",
    "manual_seed", "set_num_threads", "get_num_threads", "detect_anomaly", "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled", "where",
    "maximum", "minimum", "concatenate", "stack", "gradcheck", "GradcheckResult", "nn", "optim",
    "data", "memory", "parallel", "trace", "Trace", "draw", "render", "play_backprop", "compare_grads", "GradReport", "ActivationSite",
    "grad", "gradgradcheck", "inference_mode", "Size", "Generator", "abs", "argmax", "argmin", "argsort", "as_tensor", "cat", "chunk",
    "clamp", "clip", "cos", "cumsum", "einsum", "exp", "flatten", "gather", "index_select", "is_tensor", "linspace",
    "log", "log_softmax", "logsumexp", "masked_fill", "matmul", "max", "mean", "min", "multinomial", "norm", "numel",
    "permute", "randint", "relu", "reshape", "scatter_add", "sigmoid", "sin", "softmax", "sort", "split", "sqrt",
    "squeeze", "std", "sum", "tanh", "topk", "transpose", "tril", "triu", "unsqueeze", "var",
    "onnx", "from_dlpack", "from_torch", "load_safetensors", "save_safetensors", "to_torch",
    "float32", "float64", "float16", "int64", "int32", "int16", "int8", "uint8", "bool_", "long", "double", "half",
]
