"""Residual and highway blocks: the shared vocabulary of ResNet, ResNeXt, Wide ResNet,
pre-activation ResNet, SE-/CBAM-ResNet and highway networks.

* Post-activation units (He, Zhang, Ren & Sun 2016, "Deep residual learning for
  image recognition", eq. 1 and Fig. 5): y = ReLU(F(x) + shortcut(x)), with F
  built from conv-BN-ReLU layers.  `BasicBlock` is two 3x3 convolutions;
  `Bottleneck` is 1x1 (reduce), 3x3, 1x1 (expand 4x).
* Pre-activation units (He, Zhang, Ren & Sun 2016, "Identity mappings in deep
  residual networks", eq. 3 and Fig. 4e): y = F(x) + x with F built from
  BN-ReLU-conv layers and nothing after the addition, so that the identity path
  runs unchanged through the whole network (`PreActBasicBlock`,
  `PreActBottleneck`).  A projection shortcut sees the pre-activated
  input, as in the authors' code.
* Width and cardinality (one family, two knobs): the 3x3 convolution of a
  bottleneck has ⌊planes · d/64⌋ · C channels in C groups (Xie, Girshick,
  Dollár, Tu & He 2017, "Aggregated residual transformations", Fig. 3c and
  Table 1).  ResNet: C = 1, d = 64; ResNeXt-50 32x4d: C = 32, d = 4; Wide
  ResNet-50-2 (Zagoruyko & Komodakis 2016): C = 1, d = 128.
* Shortcuts (He et al. 2016a, Sec. 3.3): ``'A'`` identity, zero-padded and
  subsampled where the shape changes (no parameters); ``'B'`` identity, a
  1x1 projection (conv-BN) where the shape changes; ``'C'`` a projection
  everywhere; ``'none'`` no shortcut at all (the *plain* networks of Sec. 4).
* Options on the residual branch, before the addition: squeeze-and-excitation
  (Hu, Shen & Sun 2018, Fig. 3) or CBAM (Woo et al. 2018, Fig. 3); dropout
  before the last convolution (Zagoruyko & Komodakis 2016, Sec. 2.4); stochastic
  depth (Huang et al. 2016).
* `Highway` (Srivastava, Greff & Schmidhuber 2015, "Highway networks",
  eq. 3): y = H(x)·T(x) + x·(1 − T(x)) with a transform gate T = σ(W_T x + b_T).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from cnnlab.errors import ConfigError, check_choice
from cnnlab.nn.attention import CBAM, SqueezeExcite
from cnnlab.nn.conv import ConvNormAct, conv2d
from cnnlab.nn.drop import DropPath

SHORTCUTS = ("A", "B", "C", "none")
ATTENTIONS = ("se", "cbam")


@dataclass(frozen=True)
class BlockOptions:
    """What a residual unit may vary besides its channels and stride.

    groups / width_per_group
        Cardinality C and width d of a bottleneck's 3x3 convolution (see module
        docs); basic blocks need the defaults (C = 1, d = 64).
    shortcut
        ``'A'``, ``'B'``, ``'C'`` or ``'none'`` (He et al. 2016a, Sec. 3.3).
    stride_in_1x1
        Subsample in a bottleneck's first 1x1 convolution, as the original
        ResNet (and SE-ResNet) did, instead of in its 3x3 convolution
        (torchvision's "ResNet v1.5").
    attention / reduction
        ``'se'`` or ``'cbam'`` on the residual branch, with bottleneck ratio r.
    dropout
        Dropout probability before the branch's last convolution (WRN).
    conv1_ratio
        Width of a bottleneck's first 1x1 convolution relative to its 3x3
        convolution (SENet-154 halves it: Hu et al. 2018, Appendix (a)).
    projection_kernel
        Kernel of a subsampling projection shortcut: 1, or 3 as in SENet-154
        (Hu et al. 2018, Appendix (c)).
    """

    groups: int = 1
    width_per_group: int = 64
    shortcut: str = "B"
    stride_in_1x1: bool = False
    attention: str | None = None
    reduction: int = 16
    dropout: float = 0.0
    conv1_ratio: float = 1.0
    projection_kernel: int = 1

    def __post_init__(self):
        check_choice("shortcut", self.shortcut, SHORTCUTS)
        if self.attention is not None:
            check_choice("attention", self.attention, ATTENTIONS)
        for name in ("groups", "width_per_group", "reduction"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}.")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout}.")
        if self.conv1_ratio <= 0:
            raise ConfigError(f"conv1_ratio must be > 0, got {self.conv1_ratio}.")
        if self.projection_kernel not in (1, 3):
            raise ConfigError(f"projection_kernel must be 1 or 3, got {self.projection_kernel}.")


class ZeroPadShortcut(nn.Module):
    """Option A: subsample by taking every ``stride``-th pixel, append zero channels.

    He et al. (2016a), Sec. 3.3 and 4.2: "the shortcut still performs identity
    mapping, with extra zero entries padded for increasing dimensions"; no
    parameters, so a CIFAR ResNet has as many as the plain network of its depth.
    """

    def __init__(self, in_ch: int, out_ch: int, stride: int = 1):
        super().__init__()
        if out_ch < in_ch:
            raise ConfigError(
                f"A zero-padding shortcut can only add channels, got {in_ch} -> {out_ch}; "
                "use shortcut='B' (projection) instead."
            )
        self.extra, self.stride = out_ch - in_ch, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pad(x[:, :, :: self.stride, :: self.stride], (0, 0, 0, 0, 0, self.extra))

    def extra_repr(self) -> str:
        return f"extra_channels={self.extra}, stride={self.stride}"


class NormActConv(nn.Sequential):
    """BN → ReLU → (dropout) → convolution: a pre-activation layer, children ``bn``,
    ``act``, ``drop``, ``conv`` (He et al. 2016b, Fig. 4e)."""

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        kernel: int = 3,
        stride: int = 1,
        groups: int = 1,
        dropout: float = 0.0,
    ):
        super().__init__()
        self.bn = nn.BatchNorm2d(in_ch)
        self.act = nn.ReLU(inplace=True)
        if dropout > 0:
            self.drop = nn.Dropout(dropout)
        self.conv = conv2d(in_ch, out_ch, kernel, stride, "same", groups=groups, bias=False)


def norm_act(channels: int) -> nn.Sequential:
    """BN → ReLU, children ``bn`` and ``act``: the activation of a pre-activation unit."""
    return nn.Sequential(OrderedDict(bn=nn.BatchNorm2d(channels), act=nn.ReLU(inplace=True)))


class ResidualBlock(nn.Module):
    """A residual unit: ``branch`` (the residual function F), ``shortcut`` and the merge.

    Subclasses build the branch's convolutions (`convolutions`); this
    class adds the attention, stochastic depth and shortcut and merges them:
    post-activation y = ReLU(F(x) + s(x)), pre-activation y = F(a) + s(x or a)
    with a = ReLU(BN(x)).  With ``shortcut='none'`` y = ReLU(F(x)) (plain).
    """

    expansion = 1
    preactivation = False

    def __init__(
        self,
        in_ch: int,
        planes: int,
        stride: int = 1,
        options: BlockOptions | None = None,
        drop_path: float = 0.0,
    ):
        super().__init__()
        options = options or BlockOptions()
        self.out_channels = out_ch = planes * self.expansion
        if self.preactivation:
            self.preact = norm_act(in_ch)
        layers = self.convolutions(in_ch, planes, stride, options)
        if options.attention == "se":
            layers["attention"] = SqueezeExcite(out_ch, max(1, out_ch // options.reduction))
        elif options.attention == "cbam":
            layers["attention"] = CBAM(out_ch, options.reduction)
        if drop_path > 0:
            if options.shortcut == "none":
                raise ConfigError("Stochastic depth (drop_path) needs a shortcut to fall back on.")
            layers["drop_path"] = DropPath(drop_path)
        self.branch = nn.Sequential(layers)
        self.shortcut = self._shortcut(in_ch, out_ch, stride, options)
        # A projection of a pre-activation unit sees ReLU(BN(x)), as in the authors' code.
        self.project_preactivated = self.preactivation and isinstance(self.shortcut, nn.Conv2d)
        self.act = None if self.preactivation else nn.ReLU(inplace=True)

    def convolutions(
        self, in_ch: int, planes: int, stride: int, options: BlockOptions
    ) -> OrderedDict[str, nn.Module]:
        """The convolutions of the residual branch, in order."""
        raise NotImplementedError

    def _shortcut(
        self, in_ch: int, out_ch: int, stride: int, options: BlockOptions
    ) -> nn.Module | None:
        reshapes = stride != 1 or in_ch != out_ch
        if options.shortcut == "none":
            return None
        if options.shortcut == "C" or (options.shortcut == "B" and reshapes):
            kernel = options.projection_kernel if stride > 1 else 1
            if self.preactivation:
                return conv2d(in_ch, out_ch, kernel, stride, "same", bias=False)
            return ConvNormAct(in_ch, out_ch, kernel, stride, act=None)
        return ZeroPadShortcut(in_ch, out_ch, stride) if reshapes else nn.Identity()

    @torch.no_grad()
    def zero_init_branch(self) -> None:
        """Start the unit as its shortcut: zero the branch's last scale, so that F(x) = 0.

        Post-activation units zero the γ of the branch's last batch norm ("zero γ":
        Goyal et al. 2017, "Accurate, large minibatch SGD", Sec. 5.1; He et al.
        2019, "Bag of tricks", Sec. 3.1); pre-activation units, whose branch ends in
        a convolution, zero that convolution's weights (Zhang et al. 2019, "Fixup
        initialization", Sec. 3).  Each unit then begins as the identity (or the
        shortcut's projection), which eases the first steps of a deep network.
        """
        if self.shortcut is None:
            raise ConfigError(
                "zero_init_residual needs shortcuts: a plain unit with a zeroed branch "
                "outputs zeros. Drop the option or use shortcut 'A', 'B' or 'C'."
            )
        last = [m for name, m in self.branch.named_children() if name.startswith("conv")][-1]
        if isinstance(last, ConvNormAct) and hasattr(last, "bn"):
            last.bn.weight.zero_()  # conv → BN: the BN's scale is the branch's last
        else:
            getattr(last, "conv", last).weight.zero_()  # (BN → ReLU →) conv

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        inner = self.preact(x) if self.preactivation else x
        out = self.branch(inner)
        if self.shortcut is not None:
            out = out + self.shortcut(inner if self.project_preactivated else x)
        return out if self.act is None else self.act(out)


def _relu() -> nn.Module:
    return nn.ReLU(inplace=True)


def _bottleneck_widths(planes: int, options: BlockOptions) -> tuple[int, int]:
    """(first 1x1 width, 3x3 width) = (ratio · w, w) with w = ⌊planes · d/64⌋ · C."""
    width = int(planes * options.width_per_group / 64) * options.groups
    return max(1, int(width * options.conv1_ratio)), width


def _check_basic(options: BlockOptions) -> None:
    if options.groups != 1 or options.width_per_group != 64:
        raise ConfigError(
            "Basic blocks have no bottleneck to widen or group: groups and width_per_group "
            f"must be 1 and 64, got {options.groups} and {options.width_per_group}. "
            "Use a bottleneck variant (resnet50, resnext50_32x4d, ...)."
        )


class BasicBlock(ResidualBlock):
    """Two 3x3 conv-BN layers, ReLU between and after the sum (He et al. 2016a, Fig. 5 left)."""

    def convolutions(self, in_ch, planes, stride, options):
        _check_basic(options)
        layers = OrderedDict(conv1=ConvNormAct(in_ch, planes, 3, stride, act=_relu()))
        if options.dropout > 0:
            layers["drop"] = nn.Dropout(options.dropout)
        layers["conv2"] = ConvNormAct(planes, planes, 3, act=None)
        return layers


class Bottleneck(ResidualBlock):
    """1x1 reduce, 3x3 (grouped), 1x1 expand ×4, each with BN (He et al. 2016a, Fig. 5 right;
    Xie et al. 2017, Fig. 3c)."""

    expansion = 4

    def convolutions(self, in_ch, planes, stride, options):
        first, width = _bottleneck_widths(planes, options)
        s1, s3 = (stride, 1) if options.stride_in_1x1 else (1, stride)
        layers = OrderedDict(
            conv1=ConvNormAct(in_ch, first, 1, s1, act=_relu()),
            conv2=ConvNormAct(first, width, 3, s3, groups=options.groups, act=_relu()),
        )
        if options.dropout > 0:
            layers["drop"] = nn.Dropout(options.dropout)
        layers["conv3"] = ConvNormAct(width, planes * self.expansion, 1, act=None)
        return layers


class PreActBasicBlock(ResidualBlock):
    """BN-ReLU-conv3x3, BN-ReLU-(dropout)-conv3x3 (He et al. 2016b, Fig. 4e; Zagoruyko &
    Komodakis 2016, Fig. 1d)."""

    preactivation = True

    def convolutions(self, in_ch, planes, stride, options):
        _check_basic(options)
        return OrderedDict(
            conv1=conv2d(in_ch, planes, 3, stride, "same", bias=False),
            conv2=NormActConv(planes, planes, 3, dropout=options.dropout),
        )


class PreActBottleneck(ResidualBlock):
    """BN-ReLU-conv1x1, BN-ReLU-conv3x3, BN-ReLU-conv1x1 ×4 (He et al. 2016b, Sec. 4 and
    Appendix: the bottleneck unit of ResNet-164 and ResNet-1001)."""

    expansion = 4
    preactivation = True

    def convolutions(self, in_ch, planes, stride, options):
        first, width = _bottleneck_widths(planes, options)
        s1, s3 = (stride, 1) if options.stride_in_1x1 else (1, stride)
        return OrderedDict(
            conv1=conv2d(in_ch, first, 1, s1, bias=False),
            conv2=NormActConv(first, width, 3, s3, groups=options.groups),
            conv3=NormActConv(width, planes * self.expansion, 1, dropout=options.dropout),
        )


BLOCKS: dict[str, type[ResidualBlock]] = {
    "basic": BasicBlock,
    "bottleneck": Bottleneck,
    "preact_basic": PreActBasicBlock,
    "preact_bottleneck": PreActBottleneck,
}


class Highway(nn.Module):
    """y = H(x)·T(x) + x·(1 − T(x)), T(x) = σ(gate(x)) (Srivastava et al. 2015, eqs. 2-3).

    ``transform`` is H (e.g. a linear or convolutional layer with its
    nonlinearity) and ``gate`` the affine map of the transform gate; both must
    keep the shape of x.  The gate's bias starts at ``gate_bias`` < 0 so that
    every layer starts close to carrying its input through (Sec. 2.2: a
    negative value "e.g. −1, −3").
    """

    def __init__(self, transform: nn.Module, gate: nn.Module, gate_bias: float = -1.0):
        super().__init__()
        self.transform = transform
        self.gate = gate
        if getattr(gate, "bias", None) is None:
            raise ConfigError("A highway gate needs a bias (its initial value biases T to carry).")
        nn.init.constant_(gate.bias, gate_bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = torch.sigmoid(self.gate(x))
        return x + t * (self.transform(x) - x)
