"""Residual networks for CIFAR (32x32 inputs, 10 classes): the ResNets and plain networks
of He et al. (2016a), the pre-activation ResNets of He et al. (2016b) and Wide ResNets.

* ResNet-20/32/44/56/110/1202 and Plain-20/32/44/56/110: He, Zhang, Ren & Sun
  (2016a), "Deep residual learning for image recognition", Sec. 4.2 and
  Table 6.  6n + 2 layers: a 3x3 convolution with 16 filters, three stages of
  n basic units with 16, 32 and 64 filters on 32x32, 16x16 and 8x8 maps,
  global average pooling and a linear classifier.  Shortcuts are option A
  (identity, zero-padded where the width doubles), so that a ResNet has
  exactly the parameters of the plain network of its depth.  Table 6 gives
  0.27M, 0.46M, 0.66M, 0.85M, 1.7M and 19.4M parameters.
* Pre-activation ResNet-110/164/1001: He, Zhang, Ren & Sun (2016b), "Identity
  mappings in deep residual networks", Sec. 4-5 and Table 4: BN-ReLU-conv
  units; ResNet-164 and -1001 use bottleneck units (9n + 2 layers, n = 18 and
  111) with 64, 128, 256 output channels (1.7M and 10.2M parameters in Table 4;
  built here: 1.70M and 10.33M, of which 1.68M and 10.18M are convolution and
  classifier weights, apparently what Table 4 counts).
* WRN-d-k: Zagoruyko & Komodakis (2016), "Wide residual networks", Table 1:
  pre-activation basic units, (d − 4)/6 per stage, 16k, 32k, 64k filters,
  1x1 projections where the width changes, optional dropout between the two
  convolutions of a unit (``dropout=0.3`` in the paper's "-dropout" runs).
  Table 4: WRN-40-4 8.9M, WRN-16-8 11.0M, WRN-28-10 36.5M parameters.

The networks are `ResNet` rows with the CIFAR
stem; every option of `cnnlab.models.resnet` applies
(``create_model("resnet56", drop_path=0.5)`` is the stochastic-depth network
of Huang et al. 2016).
"""

from __future__ import annotations

from cnnlab.models.registry import Reference, register_model
from cnnlab.models.resnet import ResNet, ResNetConfig, build_resnet
from cnnlab.nn.residual import BlockOptions

HE_A = "He et al. 2016a, 'Deep residual learning for image recognition'"
HE_B = "He et al. 2016b, 'Identity mappings in deep residual networks'"
WRN = "Zagoruyko & Komodakis 2016, 'Wide residual networks', Table 4"
CIFAR10 = {"input_shape": (3, 32, 32), "num_classes": 10}
WIDTHS = (16, 32, 64)

# Table 6: depth -> (parameters, the unit of their last printed digit, CIFAR-10 test
# error %).  "1.7M" for ResNet-110's 1,727,962 is 1.6 % off but within its rounding.
TABLE6 = {
    20: (0.27e6, 1e4, 8.75),
    32: (0.46e6, 1e4, 7.51),
    44: (0.66e6, 1e4, 7.17),
    56: (0.85e6, 1e4, 6.97),
    110: (1.7e6, 1e5, 6.43),
    1202: (19.4e6, 1e5, 7.93),
}
PLAIN_DEPTHS = (20, 32, 44, 56, 110)  # Sec. 4.2 and Fig. 6 (left)
PREACT_DEPTHS = (110, 164, 1001)  # He et al. 2016b, Tables 3 and 4
# Zagoruyko & Komodakis 2016, Table 4: (depth, widening factor k) -> parameters.
WRN_TABLE4 = {(40, 4): 8_900_000, (16, 8): 11_000_000, (28, 10): 36_500_000}


def cifar_resnet(depth: int, shortcut: str = "A") -> ResNetConfig:
    """The 6n + 2-layer network of He et al. (2016a), Sec. 4.2."""
    n = (depth - 2) // 6
    return ResNetConfig(
        "basic", (n, n, n), WIDTHS, 16, "cifar", options=BlockOptions(shortcut=shortcut)
    )


def preact_resnet(depth: int) -> ResNetConfig:
    """Pre-activation ResNet: basic units for 6n + 2 layers, bottlenecks for 9n + 2 ≥ 164."""
    if depth >= 164:
        n = (depth - 2) // 9
        return ResNetConfig("preact_bottleneck", (n, n, n), WIDTHS, 16, "cifar")
    n = (depth - 2) // 6
    return ResNetConfig("preact_basic", (n, n, n), WIDTHS, 16, "cifar")


def wide_resnet(depth: int, k: int) -> ResNetConfig:
    """WRN-depth-k (Zagoruyko & Komodakis 2016, Table 1)."""
    n = (depth - 4) // 6
    return ResNetConfig("preact_basic", (n, n, n), tuple(w * k for w in WIDTHS), 16, "cifar")


CONFIGS: dict[str, ResNetConfig] = {
    **{f"resnet{depth}": cifar_resnet(depth) for depth in TABLE6},
    **{f"plain{depth}": cifar_resnet(depth, shortcut="none") for depth in PLAIN_DEPTHS},
    **{f"preact_resnet{depth}": preact_resnet(depth) for depth in PREACT_DEPTHS},
    **{f"wrn_{depth}_{k}": wide_resnet(depth, k) for depth, k in WRN_TABLE4},
}


def _table6(depth: int) -> Reference:
    params, unit, error = TABLE6[depth]
    return Reference(
        f"{HE_A}, Table 6 (CIFAR-10 test error {error} %)",
        params=int(params),
        top1=100 - error,
        params_rounding=unit,
        **CIFAR10,
    )


def _wrn(depth: int, k: int) -> Reference:
    params = WRN_TABLE4[depth, k]
    return Reference(f"{WRN} ({params / 1e6:.1f}M params)", params=params, **CIFAR10)


PLAIN_REFERENCE = Reference(f"{HE_A}, Sec. 4.2 and Fig. 6 (left)", **CIFAR10)


@register_model(reference=_table6(20), num_classes=10, in_chans=3)
def resnet20(
    num_classes: int = 10, in_chans: int = 3, input_size: int | None = None, **options
) -> ResNet:
    """ResNet-20 for CIFAR (He et al. 2016): 3x3 basic units, 16/32/64 filters, 0.27M params.

    He et al. (2016a), "Deep residual learning for image recognition", Sec. 4.2 and
    Table 6.
    Options: see `build_resnet`.
    """
    return build_resnet(CONFIGS["resnet20"], num_classes, in_chans, input_size, **options)


@register_model(reference=_table6(32), num_classes=10, in_chans=3)
def resnet32(
    num_classes: int = 10, in_chans: int = 3, input_size: int | None = None, **options
) -> ResNet:
    """ResNet-32 for CIFAR (He et al. 2016): 3x5 basic units, 16/32/64 filters, 0.46M params.

    He et al. (2016a), "Deep residual learning for image recognition", Sec. 4.2 and
    Table 6.
    Options: see `build_resnet`.
    """
    return build_resnet(CONFIGS["resnet32"], num_classes, in_chans, input_size, **options)


@register_model(reference=_table6(44), num_classes=10, in_chans=3)
def resnet44(
    num_classes: int = 10, in_chans: int = 3, input_size: int | None = None, **options
) -> ResNet:
    """ResNet-44 for CIFAR (He et al. 2016): 3x7 basic units, 16/32/64 filters, 0.66M params.

    He et al. (2016a), "Deep residual learning for image recognition", Sec. 4.2 and
    Table 6.
    Options: see `build_resnet`.
    """
    return build_resnet(CONFIGS["resnet44"], num_classes, in_chans, input_size, **options)


@register_model(reference=_table6(56), num_classes=10, in_chans=3)
def resnet56(
    num_classes: int = 10, in_chans: int = 3, input_size: int | None = None, **options
) -> ResNet:
    """ResNet-56 for CIFAR (He et al. 2016): 3x9 basic units, 16/32/64 filters, 0.85M params.

    He et al. (2016a), "Deep residual learning for image recognition", Sec. 4.2 and
    Table 6.
    Options: see `build_resnet`.
    """
    return build_resnet(CONFIGS["resnet56"], num_classes, in_chans, input_size, **options)


@register_model(reference=_table6(110), num_classes=10, in_chans=3)
def resnet110(
    num_classes: int = 10, in_chans: int = 3, input_size: int | None = None, **options
) -> ResNet:
    """ResNet-110 for CIFAR (He et al. 2016): 3x18 basic units, 16/32/64 filters, 1.7M params.

    He et al. (2016a), "Deep residual learning for image recognition", Sec. 4.2 and
    Table 6.
    Options: see `build_resnet`.
    """
    return build_resnet(CONFIGS["resnet110"], num_classes, in_chans, input_size, **options)


@register_model(reference=_table6(1202), num_classes=10, in_chans=3)
def resnet1202(
    num_classes: int = 10, in_chans: int = 3, input_size: int | None = None, **options
) -> ResNet:
    """ResNet-1202 for CIFAR (He et al. 2016): 3x200 basic units, 16/32/64 filters, 19.4M params.

    He et al. (2016a), "Deep residual learning for image recognition", Sec. 4.2 and
    Table 6.
    Options: see `build_resnet`.
    """
    return build_resnet(CONFIGS["resnet1202"], num_classes, in_chans, input_size, **options)


@register_model(reference=PLAIN_REFERENCE, num_classes=10, in_chans=3)
def plain20(
    num_classes: int = 10, in_chans: int = 3, input_size: int | None = None, **options
) -> ResNet:
    """Plain-20 for CIFAR (He et al. 2016): ResNet-20 without shortcuts.

    He et al. (2016a), "Deep residual learning for image recognition", Sec. 4.2 and
    Fig. 6 (left).
    Options: see `build_resnet`.
    """
    return build_resnet(CONFIGS["plain20"], num_classes, in_chans, input_size, **options)


@register_model(reference=PLAIN_REFERENCE, num_classes=10, in_chans=3)
def plain32(
    num_classes: int = 10, in_chans: int = 3, input_size: int | None = None, **options
) -> ResNet:
    """Plain-32 for CIFAR (He et al. 2016): ResNet-32 without shortcuts.

    He et al. (2016a), "Deep residual learning for image recognition", Sec. 4.2 and
    Fig. 6 (left).
    Options: see `build_resnet`.
    """
    return build_resnet(CONFIGS["plain32"], num_classes, in_chans, input_size, **options)


@register_model(reference=PLAIN_REFERENCE, num_classes=10, in_chans=3)
def plain44(
    num_classes: int = 10, in_chans: int = 3, input_size: int | None = None, **options
) -> ResNet:
    """Plain-44 for CIFAR (He et al. 2016): ResNet-44 without shortcuts.

    He et al. (2016a), "Deep residual learning for image recognition", Sec. 4.2 and
    Fig. 6 (left).
    Options: see `build_resnet`.
    """
    return build_resnet(CONFIGS["plain44"], num_classes, in_chans, input_size, **options)


@register_model(reference=PLAIN_REFERENCE, num_classes=10, in_chans=3)
def plain56(
    num_classes: int = 10, in_chans: int = 3, input_size: int | None = None, **options
) -> ResNet:
    """Plain-56 for CIFAR (He et al. 2016): ResNet-56 without shortcuts.

    He et al. (2016a), "Deep residual learning for image recognition", Sec. 4.2 and
    Fig. 6 (left).
    Options: see `build_resnet`.
    """
    return build_resnet(CONFIGS["plain56"], num_classes, in_chans, input_size, **options)


@register_model(reference=PLAIN_REFERENCE, num_classes=10, in_chans=3)
def plain110(
    num_classes: int = 10, in_chans: int = 3, input_size: int | None = None, **options
) -> ResNet:
    """Plain-110 for CIFAR (He et al. 2016): ResNet-110 without shortcuts.

    He et al. (2016a), "Deep residual learning for image recognition", Sec. 4.2 and
    Fig. 6 (left).
    Options: see `build_resnet`.
    """
    return build_resnet(CONFIGS["plain110"], num_classes, in_chans, input_size, **options)


@register_model(
    reference=Reference(f"{HE_B}, Table 3 (CIFAR-10 test error 6.37 %)", top1=93.63, **CIFAR10),
    num_classes=10,
    in_chans=3,
)
def preact_resnet110(
    num_classes: int = 10, in_chans: int = 3, input_size: int | None = None, **options
) -> ResNet:
    """Pre-activation ResNet-110 for CIFAR (He et al. 2016b): BN-ReLU-conv basic units.

    He et al. (2016b), "Identity mappings in deep residual networks", Sec. 4 and
    Table 3.
    Options: see `build_resnet`.
    """
    return build_resnet(CONFIGS["preact_resnet110"], num_classes, in_chans, input_size, **options)


@register_model(
    reference=Reference(
        f"{HE_B}, Table 4 (1.7M params, CIFAR-10 test error 5.46 %)",
        params=1_700_000,
        top1=94.54,
        params_rounding=1e5,
        **CIFAR10,
    ),
    num_classes=10,
    in_chans=3,
)
def preact_resnet164(
    num_classes: int = 10, in_chans: int = 3, input_size: int | None = None, **options
) -> ResNet:
    """Pre-activation ResNet-164 for CIFAR (He et al. 2016b): bottleneck units, 1.7M params.

    He et al. (2016b), "Identity mappings in deep residual networks", Sec. 4 and
    Table 4.
    Options: see `build_resnet`.
    """
    return build_resnet(CONFIGS["preact_resnet164"], num_classes, in_chans, input_size, **options)


@register_model(
    reference=Reference(
        f"{HE_B}, Table 4 (10.2M params, CIFAR-10 test error 4.92 %); not checked: "
        "the unit of Sec. 4 and Appendix gives 10,327,706, 0.13M (1.3 %) more, beyond "
        "the figure's rounding; the convolution and classifier weights alone (10.18M) "
        "round to 10.2M",
        top1=95.08,
        **CIFAR10,
    ),
    num_classes=10,
    in_chans=3,
)
def preact_resnet1001(
    num_classes: int = 10, in_chans: int = 3, input_size: int | None = None, **options
) -> ResNet:
    """Pre-activation ResNet-1001 for CIFAR (He et al. 2016b): bottleneck units, 10.3M params.

    He et al. (2016b), "Identity mappings in deep residual networks", Sec. 4,
    Appendix and Table 4.
    Options: see `build_resnet`.
    """
    return build_resnet(CONFIGS["preact_resnet1001"], num_classes, in_chans, input_size, **options)


@register_model(reference=_wrn(40, 4), num_classes=10, in_chans=3)
def wrn_40_4(
    num_classes: int = 10, in_chans: int = 3, input_size: int | None = None, **options
) -> ResNet:
    """Wide ResNet WRN-40-4 for CIFAR (Zagoruyko & Komodakis 2016): 8.9M params.

    Zagoruyko & Komodakis (2016), "Wide residual networks", Table 1 (architecture)
    and Table 4.
    Options: see `build_resnet`.
    """
    return build_resnet(CONFIGS["wrn_40_4"], num_classes, in_chans, input_size, **options)


@register_model(reference=_wrn(16, 8), num_classes=10, in_chans=3)
def wrn_16_8(
    num_classes: int = 10, in_chans: int = 3, input_size: int | None = None, **options
) -> ResNet:
    """Wide ResNet WRN-16-8 for CIFAR (Zagoruyko & Komodakis 2016): 11.0M params.

    Zagoruyko & Komodakis (2016), "Wide residual networks", Table 1 (architecture)
    and Table 4.
    Options: see `build_resnet`.
    """
    return build_resnet(CONFIGS["wrn_16_8"], num_classes, in_chans, input_size, **options)


@register_model(reference=_wrn(28, 10), num_classes=10, in_chans=3)
def wrn_28_10(
    num_classes: int = 10, in_chans: int = 3, input_size: int | None = None, **options
) -> ResNet:
    """Wide ResNet WRN-28-10 for CIFAR (Zagoruyko & Komodakis 2016): 36.5M params.

    Zagoruyko & Komodakis (2016), "Wide residual networks", Table 1 (architecture)
    and Table 4.
    Options: see `build_resnet`.
    """
    return build_resnet(CONFIGS["wrn_28_10"], num_classes, in_chans, input_size, **options)
