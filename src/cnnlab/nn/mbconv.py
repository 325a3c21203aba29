"""Mobile convolution blocks: depthwise-separable and inverted residual (MBConv).

* `DepthwiseSeparable` (Howard et al. 2017, "MobileNets", Sec. 3.1 and
  Fig. 3): a 3x3 depthwise conv-BN-ReLU filters each channel, a 1x1 pointwise
  conv-BN-ReLU combines them; D_K²·M·D_F² + M·N·D_F² multiply-adds (eq. 4)
  instead of D_K²·M·N·D_F² (eq. 2), 8 to 9 times fewer for 3x3 kernels.
* `InvertedResidual` (Sandler et al. 2018, "MobileNetV2", Table 1 and
  Fig. 3b): a 1x1 expansion to t·k channels, a depthwise k x k convolution and
  a *linear* 1x1 projection back to a thin bottleneck (no activation: a ReLU in
  the low-dimensional space destroys information, Sec. 3.2), with an identity
  shortcut between bottlenecks when stride = 1 and the widths agree.  MnasNet
  (Tan et al. 2019) calls it MBConv; MobileNetV3 (Howard et al. 2019, Sec. 5.3,
  Fig. 4) inserts squeeze-and-excitation after the depthwise convolution and
  uses hard-swish; EfficientNet (Tan & Le 2019, Table 1) uses swish, SE and
  stochastic depth on the residual branch.

Every convolution is a `ConvNormAct` (children ``conv``,
``bn``, ``act``), so `fuse_conv_bn` folds all of them.

The helpers at the end serve the networks built from these blocks: the
TensorFlow batch-norm settings of the ported reference models, and renaming
rules from torchvision's layer names (see `cnnlab.models.weights`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import torch
from torch import nn

from cnnlab.errors import ConfigError, check_choice
from cnnlab.nn.conv import ConvNormAct
from cnnlab.nn.drop import DropPath

TORCHVISION_LAYOUTS = ("mobilenet_v2", "sequential", "flat")


class DepthwiseSeparable(nn.Sequential):
    """Depthwise k x k conv-BN-act (children ``dw``), then pointwise 1x1 conv-BN-act (``pw``).

    MobileNet v1 (Howard et al. 2017, Fig. 3 right) uses ReLU after both;
    MnasNet's first "SepConv" (Tan et al. 2019, Fig. 7) has a linear pointwise
    convolution: ``pointwise_act=None``.
    """

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        kernel: int = 3,
        stride: int = 1,
        act: str = "relu",
        pointwise_act: str | None = "relu",
    ):
        super().__init__()
        self.dw = ConvNormAct(in_ch, in_ch, kernel, stride, groups=in_ch, act=act)
        self.pw = ConvNormAct(in_ch, out_ch, 1, act=pointwise_act)


class InvertedResidual(nn.Module):
    """Expand 1x1 → depthwise k x k → [squeeze-excite] → linear 1x1 projection, + shortcut.

    Parameters
    ----------
    in_ch, out_ch : int
        Bottleneck widths before and after the block.
    expanded : int
        Width of the expanded representation (t·in_ch, rounded as the family
        rounds it); when it equals ``in_ch`` there is no expansion layer.
    kernel, stride : int
        Of the depthwise convolution.
    act : str
        Activation after expansion and depthwise convolution (``'relu6'``,
        ``'relu'``, ``'hard_swish'``, ``'silu'``).
    se : nn.Module, optional
        Squeeze-and-excitation applied to the expanded maps, e.g.
        `SqueezeExcite`.
    drop_path : float
        Stochastic-depth probability of the residual branch (Huang et al. 2016);
        only blocks with a shortcut have one.

    Children: ``expand`` (absent without expansion), ``dw``, ``se`` (optional),
    ``project``, ``drop_path`` (only with a shortcut).
    """

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        expanded: int,
        kernel: int = 3,
        stride: int = 1,
        act: str = "relu6",
        se: nn.Module | None = None,
        drop_path: float = 0.0,
    ):
        super().__init__()
        if stride not in (1, 2):
            raise ConfigError(f"An inverted residual block has stride 1 or 2, got {stride}.")
        self.expand = ConvNormAct(in_ch, expanded, 1, act=act) if expanded != in_ch else None
        self.dw = ConvNormAct(expanded, expanded, kernel, stride, groups=expanded, act=act)
        self.se = se
        self.project = ConvNormAct(expanded, out_ch, 1, act=None)
        self.has_shortcut = stride == 1 and in_ch == out_ch
        self.drop_path = DropPath(drop_path) if self.has_shortcut else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x if self.expand is None else self.expand(x)
        out = self.dw(out)
        if self.se is not None:
            out = self.se(out)
        out = self.project(out)
        return x + self.drop_path(out) if self.drop_path is not None else out

    def torchvision_names(self, layout: str) -> dict[str, str]:
        """Child-name prefixes of torchvision's block of this shape → ours.

        ``layout`` is how torchvision numbers the block's layers:
        ``'mobilenet_v2'`` (``conv.i``: expansion and depthwise as
        conv-BN-act triples, then the projection's conv and BN as two
        children), ``'sequential'`` (MobileNetV3 and EfficientNet
        ``block.i``: every layer a conv-BN-act triple, SE a child of its own)
        or ``'flat'`` (MnasNet ``layers.i``: conv, BN, act, conv, BN, act,
        conv, BN).
        """
        check_choice("torchvision block layout", layout, TORCHVISION_LAYOUTS)
        parts = [p for p in ("expand", "dw", "se", "project") if getattr(self, p) is not None]
        if layout == "flat":
            names = {}
            for i, part in enumerate(parts):
                names[f"layers.{3 * i}"] = f"{part}.conv"
                names[f"layers.{3 * i + 1}"] = f"{part}.bn"
            return names
        prefix = "conv" if layout == "mobilenet_v2" else "block"
        names = {}
        for i, part in enumerate(parts):
            if part == "se":
                names[f"{prefix}.{i}"] = "se"
            elif part == "project" and layout == "mobilenet_v2":
                names[f"{prefix}.{i}"] = "project.conv"
                names[f"{prefix}.{i + 1}"] = "project.bn"
            else:
                names[f"{prefix}.{i}.0"] = f"{part}.conv"
                names[f"{prefix}.{i}.1"] = f"{part}.bn"
        return names


def prefix_rules(prefixes: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """``torchvision_keys`` rules that replace each literal prefix ``a.`` by ``b.``.

    See `cnnlab.models.weights.load_torchvision_weights`.
    """
    return tuple((rf"^{re.escape(source)}\.", f"{target}.") for source, target in prefixes)


def set_batch_norm(model: nn.Module, eps: float, momentum: float) -> nn.Module:
    """Give every ``BatchNorm2d`` of ``model`` this ``eps`` and ``momentum``; returns ``model``.

    The models trained in TensorFlow (MobileNetV3, MnasNet, EfficientNet-B5..B7
    in torchvision) use ε = 1e-3 and a decay of 0.99 or 0.9997, i.e. a PyTorch
    momentum of 0.01 or 3e-4; ε changes the outputs, so it must match the
    reference for its weights to give the same logits.
    """
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.eps, module.momentum = eps, momentum
    return model


def init_mobile_weights(model: nn.Module, linear: str = "normal") -> nn.Module:
    """The initialisation of the reference implementations; returns ``model``.

    Convolutions: He normal with fan-out (He et al. 2015); batch norm: γ = 1,
    β = 0; linear layers: N(0, 0.01²) (``'normal'``, MobileNets, MnasNet) or
    U(±1/√out) (``'uniform'``, EfficientNet); biases zero.
    """
    check_choice("linear initialisation", linear, ("normal", "uniform"))
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out")
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Linear):
            if linear == "normal":
                nn.init.normal_(module.weight, 0.0, 0.01)
            else:
                bound = 1.0 / module.out_features**0.5
                nn.init.uniform_(module.weight, -bound, bound)
            nn.init.zeros_(module.bias)
    return model
