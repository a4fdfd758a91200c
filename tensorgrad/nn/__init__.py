"""Layers, models and losses with PyTorch's names: ``tg.nn.Linear``, ``tg.nn.Sequential``, ...

``tg.nn.functional`` has the same operations as functions; ``tg.nn.init`` the initialisers.
"""
from . import functional, init, utils
from .activations import ELU, Identity, LeakyReLU, Mish, SiLU, Softplus
from .adaptive_pool import AdaptiveAvgPool2d, AdaptiveMaxPool2d
from .attention import MultiheadAttention
from .embedding import Dropout2d, Embedding
from .normalization import BatchNorm1d, BatchNorm2d, GroupNorm, LayerNorm
from .recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell
from .layers import (
    GELU, AvgPool2d, BCELoss, BCEWithLogitsLoss, Conv1d, Conv2d, ConvTranspose2d, HuberLoss, KLDivLoss, L1Loss,
    SmoothL1Loss, CrossEntropyLoss, Dropout, Flatten, Linear,
    LogSoftmax, MaxPool2d, MSELoss, NLLLoss, ReLU, Sigmoid, Softmax, Tanh,
)
from .module import Module, ModuleDict, ModuleList, Parameter, ParameterList, Sequential

__all__ = [
    "functional", "init", "Module", "ModuleList", "Parameter", "Sequential", "Linear", "Conv2d",
    "MaxPool2d", "AvgPool2d", "Flatten", "Dropout", "ReLU", "Sigmoid", "Tanh", "GELU", "Softmax",
    "LogSoftmax", "CrossEntropyLoss", "NLLLoss", "MSELoss", "BCELoss", "BCEWithLogitsLoss",
    "utils", "ModuleDict", "ParameterList", "BatchNorm1d", "BatchNorm2d", "LayerNorm", "GroupNorm",
    "Embedding", "Dropout2d", "Identity", "LeakyReLU", "ELU", "SiLU", "Softplus", "Mish",
    "AdaptiveAvgPool2d", "AdaptiveMaxPool2d", "MultiheadAttention", "RNNCell", "LSTMCell", "GRUCell",
    "RNN", "LSTM", "GRU", "Conv1d", "ConvTranspose2d", "L1Loss", "HuberLoss", "SmoothL1Loss", "KLDivLoss",
]
