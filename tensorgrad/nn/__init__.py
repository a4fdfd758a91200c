"""Layers, models and losses with PyTorch's names: ``tg.nn.Linear``, ``tg.nn.Sequential``, ...

``tg.nn.functional`` has the same operations as functions; ``tg.nn.init`` the initialisers.
"""
from . import functional, init
from .layers import (
    GELU, AvgPool2d, BCELoss, BCEWithLogitsLoss, Conv2d, CrossEntropyLoss, Dropout, Flatten, Linear,
    LogSoftmax, MaxPool2d, MSELoss, NLLLoss, ReLU, Sigmoid, Softmax, Tanh,
)
from .module import Module, ModuleList, Parameter, Sequential

__all__ = [
    "functional", "init", "Module", "ModuleList", "Parameter", "Sequential", "Linear", "Conv2d",
    "MaxPool2d", "AvgPool2d", "Flatten", "Dropout", "ReLU", "Sigmoid", "Tanh", "GELU", "Softmax",
    "LogSoftmax", "CrossEntropyLoss", "NLLLoss", "MSELoss", "BCELoss", "BCEWithLogitsLoss",
]
