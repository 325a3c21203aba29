"""Highway networks: Srivastava, Greff & Schmidhuber (2015), "Highway networks"
(arXiv:1505.00387) and "Training very deep networks" (NIPS 2015).

A highway layer (eq. 3) carries its input through where its transform gate is
closed: y = H(x)·T(x) + x·(1 − T(x)), T(x) = σ(W_T x + b_T).  With b_T
initialised negative every layer starts close to the identity, which lets
plain gradient descent train networks of a hundred layers (Sec. 2.2).  The
layer itself is `cnnlab.nn.residual.Highway`.

* `highway_mlp`: the fully connected networks of the depth experiment
  on MNIST ("Training very deep networks", Sec. 4.1, Fig. 1): a plain first
  layer of ``width`` units followed by ``depth − 1`` highway layers of the same
  width (50 units; depths 10, 20, 50 and 100 in the paper) and the output layer.
* `highway_cnn`: convolutional highway layers (H and T are 3x3
  convolutions that keep the shape, Sec. 2 "Convolutional highway layers") in
  stages separated by 2x2 max pooling, then global average pooling and a linear
  classifier.  The CIFAR-10 networks of Sec. 4.2 follow the FitNets of Romero
  et al. (2015) layer by layer; their exact tables are in the paper's
  supplementary material and are not reproduced: this is a configurable
  network of the same kind, not a copy of those.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

from torch import nn

from cnnlab.errors import ConfigError
from cnnlab.models.base import Classifier
from cnnlab.models.registry import register_model
from cnnlab.nn.act import get_act, maxout_pieces
from cnnlab.nn.conv import ConvNormAct, conv2d
from cnnlab.nn.pool import GlobalAvgPool2d
from cnnlab.nn.residual import Highway


def dense_highway(width: int, act: str = "relu", gate_bias: float = -1.0) -> Highway:
    """A fully connected highway layer of ``width`` units (eq. 3)."""
    pieces = maxout_pieces(act)  # maxout: k linear pieces per unit
    transform = nn.Sequential(OrderedDict(fc=nn.Linear(width, pieces * width), act=get_act(act)))
    return Highway(transform, nn.Linear(width, width), gate_bias)


def conv_highway(
    channels: int, act: str = "relu", norm: str | None = None, gate_bias: float = -1.0
) -> Highway:
    """A convolutional highway layer: H = 3x3 conv(-norm)-act, T = σ(3x3 conv)."""
    transform = ConvNormAct(channels, channels, 3, norm=norm, act=act)
    return Highway(transform, conv2d(channels, channels, 3, padding="same"), gate_bias)


class HighwayMLP(Classifier):
    """Flatten, a plain layer, ``depth − 1`` highway layers, linear output (Sec. 4.1)."""

    def __init__(
        self,
        num_classes: int = 10,
        in_chans: int = 1,
        input_size: int = 28,
        depth: int = 10,
        width: int = 50,
        act: str = "relu",
        gate_bias: float = -1.0,
    ):
        if depth < 1 or width < 1:
            raise ConfigError(f"depth and width must be >= 1, got {depth} and {width}.")
        layers: OrderedDict[str, nn.Module] = OrderedDict(
            flatten=nn.Flatten(),
            fc=nn.Linear(in_chans * input_size * input_size, maxout_pieces(act) * width),
            act=get_act(act),
        )
        for i in range(1, depth):
            layers[f"highway{i}"] = dense_highway(width, act, gate_bias)
        head = nn.Sequential(OrderedDict(fc=nn.Linear(width, num_classes)))
        super().__init__(nn.Sequential(layers), head, (in_chans, input_size, input_size))


class HighwayCNN(Classifier):
    """Stages of a plain 3x3 conv to the stage width and ``depth`` convolutional highway
    layers, 2x2 max pooling between stages, global average pooling, linear classifier."""

    def __init__(
        self,
        num_classes: int = 10,
        in_chans: int = 3,
        widths: Sequence[int] = (32, 64, 128),
        depth: int = 6,
        act: str = "relu",
        norm: str | None = None,
        gate_bias: float = -1.0,
    ):
        if depth < 0 or not widths:
            raise ConfigError(f"Need depth >= 0 and at least one width, got {depth}, {widths}.")
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        channels = in_chans
        for i, width in enumerate(widths, start=1):
            if i > 1:
                # ceil_mode: odd and 1-pixel maps are pooled, not rejected.
                layers[f"pool{i - 1}"] = nn.MaxPool2d(2, ceil_mode=True)
            stage: OrderedDict[str, nn.Module] = OrderedDict(
                conv=ConvNormAct(channels, width, 3, norm=norm, act=act)
            )
            for j in range(1, depth + 1):
                stage[f"highway{j}"] = conv_highway(width, act, norm, gate_bias)
            layers[f"stage{i}"] = nn.Sequential(stage)
            channels = width
        head = nn.Sequential(
            OrderedDict(pool=GlobalAvgPool2d(), fc=nn.Linear(channels, num_classes))
        )
        super().__init__(nn.Sequential(layers), head)


@register_model
def highway_mlp(
    num_classes: int = 10,
    in_chans: int = 1,
    input_size: int = 28,
    depth: int = 10,
    width: int = 50,
    act: str = "relu",
    gate_bias: float = -1.0,
) -> HighwayMLP:
    """Fully connected highway network (Srivastava et al. 2015): a plain layer, then gated layers.

    Srivastava et al. (2015), "Training very deep networks", Sec. 4.1 and Fig. 1.

    ``depth`` counts the plain first layer and the highway layers (10, 20, 50,
    100 in the paper's MNIST experiment); ``gate_bias`` is the initial
    transform-gate bias (negative: start by carrying the input).
    """
    return HighwayMLP(num_classes, in_chans, input_size, depth, width, act, gate_bias)


@register_model
def highway_cnn(
    num_classes: int = 10,
    in_chans: int = 3,
    widths: Sequence[int] = (32, 64, 128),
    depth: int = 6,
    act: str = "relu",
    norm: str | None = None,
    gate_bias: float = -1.0,
) -> HighwayCNN:
    """Convolutional highway network (Srivastava et al. 2015): stages of gated 3x3 conv layers.

    Srivastava et al. (2015), "Training very deep networks", Sec. 2 and Sec. 4.2.

    ``widths`` gives each stage's channels and ``depth`` its number of highway
    layers; ``norm='batch'`` adds batch norm to the transforms.
    """
    return HighwayCNN(num_classes, in_chans, tuple(widths), depth, act, norm, gate_bias)
