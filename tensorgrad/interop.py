"""Carrying models out of tensorgrad, and in: safetensors weights, DLPack, and a PyTorch bridge.

* ``tg.save_safetensors(model.state_dict(), "model.safetensors")`` writes the ``safetensors``
  format that PyTorch (``safetensors.torch.load_file``), JAX and Hugging Face read;
  ``tg.load_safetensors`` reads it back (written here from the format's definition: an 8-byte
  header length, a JSON header of names, dtypes, shapes and byte offsets, then the raw
  little-endian bytes; no extra dependency).
* ``tg.from_dlpack(x)`` wraps a PyTorch tensor, a NumPy array or anything with ``__dlpack__``
  as a Tensor sharing its memory; ``torch.from_dlpack(t)`` / ``np.from_dlpack(t)`` go the other
  way (``Tensor.__dlpack__``).
* ``tg.to_torch(module)`` builds the equivalent ``torch.nn`` module with the weights copied;
  ``tg.from_torch(torch_module)`` the other way. PyTorch is imported only when called.
"""
from __future__ import annotations

import json
import struct
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any, Callable

import numpy as np

from . import nn
from .errors import InputTypeError
from .tensor import Tensor
from .training.checkpoint import CheckpointError, _atomic_write

__all__ = ["save_safetensors", "load_safetensors", "from_dlpack", "to_torch", "from_torch"]

# ---------------------------------------------------------------------------------- safetensors
_DTYPES = {"F64": np.float64, "F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32,
           "I16": np.int16, "I8": np.int8, "U8": np.uint8, "U16": np.uint16, "U32": np.uint32, "U64": np.uint64,
           "BOOL": np.bool_}
_CODES = {np.dtype(v): k for k, v in _DTYPES.items()}


def save_safetensors(tensors: Mapping[str, Any], path: str, metadata: Mapping[str, str] | None = None) -> None:
    """Write name -> array (or Tensor) to ``path`` in the safetensors format, atomically.

    Args:
        tensors: e.g. ``model.state_dict()``; arrays are written little-endian, C-contiguous.
        path: the file (by convention ``.safetensors``).
        metadata: optional text entries (str -> str) for the header's ``__metadata__``.
    """
    arrays: dict[str, np.ndarray] = {}
    for name, value in tensors.items():
        array = np.asarray(value.data if isinstance(value, Tensor) else value)
        array = array if array.flags.c_contiguous else np.ascontiguousarray(array)  # (which makes 0-d 1-d)
        if array.dtype not in _CODES:
            raise InputTypeError(f"save_safetensors: {name!r} has dtype {array.dtype}, which safetensors cannot hold "
                                 f"(it holds {', '.join(sorted(str(np.dtype(d)) for d in _DTYPES.values()))})")
        arrays[name] = array.astype(array.dtype.newbyteorder("<"), copy=False)
    header: dict[str, Any] = {}
    if metadata:
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
            raise InputTypeError("save_safetensors: metadata must map strings to strings")
        header["__metadata__"] = dict(metadata)
    offset = 0
    for name, array in arrays.items():
        header[name] = {"dtype": _CODES[array.dtype.newbyteorder("=")], "shape": list(array.shape),
                        "data_offsets": [offset, offset + array.nbytes]}
        offset += array.nbytes
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)  # the data starts 8-byte aligned, as the reference writer does

    def write(file: Any) -> None:
        file.write(struct.pack("<Q", len(text)))
        file.write(text)
        for array in arrays.values():
            file.write(array.tobytes())

    _atomic_write(path, write)


def load_safetensors(path: str, with_metadata: bool = False) -> Any:
    """Read a safetensors file: name -> ndarray (and the ``__metadata__`` dict too, with
    ``with_metadata=True``). Load it into a model with ``model.load_state_dict(...)``."""
    with open(path, "rb") as file:
        raw = file.read()
    try:
        (length,) = struct.unpack("<Q", raw[:8])
        if length > len(raw) - 8:
            raise ValueError(f"the header claims {length} bytes, the file has {len(raw) - 8} after its length")
        header = json.loads(raw[8:8 + length].decode("utf-8"))
        metadata = header.pop("__metadata__", {}) or {}
        data = memoryview(raw)[8 + length:]
        arrays = {}
        for name, entry in header.items():
            begin, end = entry["data_offsets"]
            dtype = np.dtype(_DTYPES[entry["dtype"]]).newbyteorder("<")
            arrays[name] = np.frombuffer(data[begin:end], dtype=dtype).reshape(entry["shape"]).astype(dtype.newbyteorder("="))
    except (ValueError, KeyError, TypeError, struct.error, UnicodeDecodeError) as error:
        raise CheckpointError(f"load_safetensors: {path!r} is not a safetensors file, or is damaged "
                              f"({type(error).__name__}: {error})") from error
    return (arrays, metadata) if with_metadata else arrays


# -------------------------------------------------------------------------------------- DLPack
def from_dlpack(x: Any) -> Tensor:
    """A Tensor sharing memory with ``x`` (a PyTorch CPU tensor, a NumPy array, or anything with
    ``__dlpack__``): a change through one side shows in the other."""
    if not hasattr(x, "__dlpack__"):
        raise InputTypeError(f"from_dlpack: {type(x).__name__} does not support DLPack (no __dlpack__)")
    return Tensor._from_op(np.from_dlpack(x), None)


# ------------------------------------------------------------------------------ PyTorch bridge
def _torch() -> Any:
    try:
        import torch
    except ImportError as error:  # pragma: no cover - depends on the machine
        raise ImportError("to_torch / from_torch need PyTorch: pip install torch") from error
    return torch


def _same(*names: str) -> Callable[[Any], dict[str, Any]]:
    """The constructor arguments both libraries name the same, read from a module's attributes."""
    return lambda m: {name: getattr(m, name) for name in names}


# class name -> the constructor arguments, read from a module of either library (their
# attributes have the same names); containers are handled by _convert
_LAYERS: dict[str, Callable[[Any], dict[str, Any]]] = {
    "Linear": lambda m: {"in_features": m.in_features, "out_features": m.out_features, "bias": m.bias is not None},
    "Conv2d": lambda m: {**_same("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups")(m),
                         "bias": m.bias is not None},
    "Conv1d": lambda m: {**_same("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups")(m),
                         "bias": m.bias is not None},
    "ConvTranspose2d": lambda m: {**_same("in_channels", "out_channels", "kernel_size", "stride", "padding",
                                          "output_padding", "groups", "dilation")(m), "bias": m.bias is not None},
    "MaxPool2d": _same("kernel_size", "stride", "padding"),
    "AvgPool2d": _same("kernel_size", "stride", "padding"),
    "AdaptiveAvgPool2d": _same("output_size"),
    "AdaptiveMaxPool2d": _same("output_size"),
    "Flatten": _same("start_dim", "end_dim"),
    "Dropout": _same("p"),
    "Dropout2d": _same("p"),
    "ReLU": _same(), "Sigmoid": _same(), "Tanh": _same(), "Identity": _same(), "SiLU": _same(), "Mish": _same(),
    "GELU": _same("approximate"),
    "LeakyReLU": _same("negative_slope"),
    "ELU": _same("alpha"),
    "Softplus": _same("beta", "threshold"),
    "Softmax": lambda m: {"dim": m.axis if hasattr(m, "axis") else m.dim},  # (tensorgrad's axis, PyTorch's dim)
    "LogSoftmax": lambda m: {"dim": m.axis if hasattr(m, "axis") else m.dim},
    "BatchNorm1d": _same("num_features", "eps", "momentum", "affine", "track_running_stats"),
    "BatchNorm2d": _same("num_features", "eps", "momentum", "affine", "track_running_stats"),
    "LayerNorm": _same("normalized_shape", "eps", "elementwise_affine"),
    "GroupNorm": _same("num_groups", "num_channels", "eps", "affine"),
    "Embedding": _same("num_embeddings", "embedding_dim", "padding_idx"),
    "RNN": _same("input_size", "hidden_size", "num_layers", "nonlinearity", "bias", "batch_first", "dropout"),
    "LSTM": _same("input_size", "hidden_size", "num_layers", "bias", "batch_first", "dropout"),
    "GRU": _same("input_size", "hidden_size", "num_layers", "bias", "batch_first", "dropout"),
    "RNNCell": _same("input_size", "hidden_size", "bias", "nonlinearity"),
    "LSTMCell": _same("input_size", "hidden_size", "bias"),
    "GRUCell": _same("input_size", "hidden_size", "bias"),
    "MultiheadAttention": _same("embed_dim", "num_heads", "dropout", "batch_first"),
}
_CONTAINERS = ("Sequential", "ModuleList", "ModuleDict")


def _convert(module: Any, target: Any, direction: str) -> Any:
    """The same module built from ``target`` (torch.nn or tensorgrad.nn), sub-modules included."""
    kind = _container_kind(module) or type(module).__name__
    if kind in _CONTAINERS:
        children = list(module.named_children())
        converted = [(name, _convert(child, target, direction)) for name, child in children]
        if kind == "ModuleDict":
            return target.ModuleDict(dict(converted))
        if kind == "ModuleList":
            return target.ModuleList([c for _, c in converted])
        if all(name == str(i) for i, (name, _) in enumerate(converted)):
            return target.Sequential(*[c for _, c in converted])
        return target.Sequential(OrderedDict(converted))
    if kind not in _LAYERS or not hasattr(target, kind) or type(module).__module__.split(".")[0] not in ("torch", "tensorgrad"):
        raise InputTypeError(
            f"{direction}: no {'PyTorch' if direction == 'to_torch' else 'tensorgrad'} equivalent for {kind}; a "
            "Sequential of standard layers converts as a whole. For a model class of your own, write the same "
            "class in the other library and load the weights: other_model.load_state_dict(state_dict)")
    return getattr(target, kind)(**_LAYERS[kind](module))


def _container_kind(module: Any) -> str | None:
    """"Sequential", "ModuleList" or "ModuleDict" for such a container of either library, or a
    subclass of one that keeps its forward (document 003's DocumentCNN is a Sequential)."""
    for cls in type(module).__mro__:
        if cls.__name__ in _CONTAINERS and cls.__module__.split(".")[0] in ("torch", "tensorgrad"):
            return cls.__name__ if type(module).forward is cls.forward else None
    return None


def to_torch(module: nn.Module) -> Any:
    """The ``torch.nn`` module equivalent to ``module`` (standard layers and their containers),
    with every parameter and buffer copied, in the same dtype and training mode."""
    torch = _torch()
    converted = _convert(module, torch.nn, "to_torch")
    state = module.state_dict()
    floats = [a.dtype for a in state.values() if a.dtype.kind == "f"]
    if floats:
        converted = converted.to(getattr(torch, str(floats[0])))
    converted.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in state.items()})
    return converted.train(module.training)


def from_torch(module: Any) -> nn.Module:
    """The tensorgrad module equivalent to a ``torch.nn`` module (standard layers and their
    containers), with every parameter and buffer copied."""
    converted = _convert(module, nn, "from_torch")
    state = {k: v.detach().cpu().numpy() for k, v in module.state_dict().items()}
    floats = [a.dtype for a in state.values() if a.dtype.kind == "f"]
    if floats:
        converted.to(floats[0])
    converted.load_state_dict(state)
    return converted.train(module.training)

