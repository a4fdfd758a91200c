"""The documents' networks as ``tg.nn`` modules."""
from __future__ import annotations

from collections import OrderedDict
from typing import Sequence

from tensorgrad import nn

ACTIVATIONS = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "gelu": nn.GELU}
INITIALISERS = {
    "pytorch": None,                           # Linear's own default: uniform ±1/√fan_in
    "lecun": nn.init.lecun_normal_,            # document 000: randn / √fan_in
    "he": nn.init.he_normal_,                  # document 004: randn · √(2/fan_in)
    "glorot": nn.init.glorot_uniform_,         # Keras' default (document 001)
    "small": lambda w: nn.init.normal_(w, std=0.01),  # document 003: randn · 0.01
}


class MLP(nn.Sequential):
    """Fully connected layers ``sizes[0] → sizes[1] → … → sizes[-1]`` with an activation between
    them (none after the last: it outputs logits, the loss applies the softmax).

    Args:
        sizes: layer widths, e.g. (784, 128, 10).
        activation: "relu", "sigmoid", "tanh" or "gelu".
        init: weight initialisation, a key of ``INITIALISERS``; biases start at zero unless "pytorch".
        dropout: dropout probability after each hidden activation (0 = none).
    """

    def __init__(self, sizes: Sequence[int], activation: str = "relu", init: str = "pytorch",
                 dropout: float = 0.0) -> None:
        layers: list[nn.Module] = []
        for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(nn.Linear(fan_in, fan_out))
            if i < len(sizes) - 2:
                layers.append(ACTIVATIONS[activation]())
                if dropout:
                    layers.append(nn.Dropout(dropout))
        super().__init__(*layers)
        initialise_layers(self, init)


def initialise_layers(model: nn.Module, init: str) -> None:
    """Give every Linear and Conv2d of ``model`` the weights of ``INITIALISERS[init]`` and zero
    biases (Keras' way); "pytorch" keeps the layers' own PyTorch-style initialisation."""
    if init not in INITIALISERS:
        raise ValueError(f"init must be one of {sorted(INITIALISERS)}, got {init!r}")
    initialise = INITIALISERS[init]
    if initialise is None:
        return
    for layer in model.modules():
        if isinstance(layer, (nn.Linear, nn.Conv2d)):
            initialise(layer.weight)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)


class DocumentCNN(nn.Sequential):
    """Document 003's Keras CNN: Conv(32, 3×3) ReLU → Conv(64, 3×3) ReLU → MaxPool 2×2 →
    Dropout 0.25 → Flatten → Dense 128 ReLU → Dropout 0.5 → Dense 10 (logits).

    Input (N, 1, 28, 28); 1,199,882 parameters, as the document's summary. ``init`` as for MLP
    ("glorot" is Keras', the document's framework). A Sequential with named layers (conv1, relu1,
    ...); after ``model.fuse()`` each layer and its ReLU run as one node, as Keras'
    ``activation='relu'``, and the second convolution's max pooling too."""

    def __init__(self, conv_channels: tuple[int, int] = (32, 64), hidden: int = 128, dropout: bool = True,
                 init: str = "pytorch") -> None:
        c1, c2 = conv_channels
        super().__init__(OrderedDict([
            ("conv1", nn.Conv2d(1, c1, 3)), ("relu1", nn.ReLU()),
            ("conv2", nn.Conv2d(c1, c2, 3)), ("relu2", nn.ReLU()),
            ("pool", nn.MaxPool2d(2)),
            ("dropout1", nn.Dropout(0.25 if dropout else 0.0)),
            ("flatten", nn.Flatten()),
            ("fc1", nn.Linear(c2 * 12 * 12, hidden)), ("relu3", nn.ReLU()),
            ("dropout2", nn.Dropout(0.5 if dropout else 0.0)),
            ("fc2", nn.Linear(hidden, 10)),
        ]))
        initialise_layers(self, init)


class BatchNormMLP(nn.Sequential):
    """The MLP of the courses after the documents (makemore part 3): each hidden layer a Linear
    without bias (BatchNorm's shift replaces it), BatchNorm1d, then ReLU; logits out.

    Args:
        sizes: layer widths, e.g. (784, 256, 128, 10).
    """

    def __init__(self, sizes: Sequence[int] = (784, 256, 128, 10)) -> None:
        layers: list[nn.Module] = []
        for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            last = i == len(sizes) - 2
            layers.append(nn.Linear(fan_in, fan_out, bias=last))
            if not last:
                layers += [nn.BatchNorm1d(fan_out), nn.ReLU()]
        super().__init__(*layers)


class ResidualBlock(nn.Module):
    """conv 3×3 → BatchNorm → ReLU → conv 3×3 → BatchNorm, added to the block's input, then ReLU
    (a ResNet basic block with the same number of channels in and out)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x):
        out = self.bn1(self.conv1(x)).relu()
        return (self.bn2(self.conv2(out)) + x).relu()


class SmallResNet(nn.Sequential):
    """A small ResNet-style CNN for 28×28 images: a 3×3 stem (16 channels), two residual blocks,
    max pooling, a 3×3 convolution to 32 channels, one residual block, global average pooling
    and a linear classifier (33,082 parameters)."""

    def __init__(self, widths: tuple[int, int] = (16, 32)) -> None:
        w1, w2 = widths
        super().__init__(OrderedDict([
            ("stem", nn.Conv2d(1, w1, 3, padding=1, bias=False)), ("stem_bn", nn.BatchNorm2d(w1)), ("stem_relu", nn.ReLU()),
            ("block1", ResidualBlock(w1)), ("block2", ResidualBlock(w1)),
            ("pool", nn.MaxPool2d(2)),
            ("widen", nn.Conv2d(w1, w2, 3, padding=1, bias=False)), ("widen_bn", nn.BatchNorm2d(w2)), ("widen_relu", nn.ReLU()),
            ("block3", ResidualBlock(w2)),
            ("gap", nn.AdaptiveAvgPool2d(1)), ("flatten", nn.Flatten()),
            ("fc", nn.Linear(w2, 10)),
        ]))


class FastCNN(nn.Sequential):
    """A small CNN that trains to 99% on MNIST in about a minute on two cores: two 3×3
    convolutions (16 then 32 channels, padding 1) each with BatchNorm2d, ReLU and 2×2 max pooling,
    then a hidden layer of 128 with BatchNorm1d and ReLU, then the classifier (207,098 parameters)."""

    def __init__(self, widths: tuple[int, int] = (16, 32), hidden: int = 128) -> None:
        w1, w2 = widths
        super().__init__(OrderedDict([
            ("conv1", nn.Conv2d(1, w1, 3, padding=1, bias=False)), ("bn1", nn.BatchNorm2d(w1)), ("relu1", nn.ReLU()),
            ("pool1", nn.MaxPool2d(2)),
            ("conv2", nn.Conv2d(w1, w2, 3, padding=1, bias=False)), ("bn2", nn.BatchNorm2d(w2)), ("relu2", nn.ReLU()),
            ("pool2", nn.MaxPool2d(2)),
            ("flatten", nn.Flatten()),
            ("fc1", nn.Linear(w2 * 7 * 7, hidden, bias=False)), ("bn3", nn.BatchNorm1d(hidden)), ("relu3", nn.ReLU()),
            ("fc2", nn.Linear(hidden, 10)),
        ]))
