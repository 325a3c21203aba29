"""Building blocks shared by all models: geometry, convolutions, pooling, activations."""

from cnnlab.nn.act import Maxout, ScaledTanh, get_act, list_acts
from cnnlab.nn.attention import CBAM, SqueezeExcite, make_divisible
from cnnlab.nn.conv import (
    ConvNormAct,
    PartialConv2d,
    SeparableConv2d,
    conv2d,
    conv_transpose2d,
)
from cnnlab.nn.drop import DropConnectLinear, DropPath, drop_path_rates
from cnnlab.nn.fuse import fuse_conv_bn, reparameterize
from cnnlab.nn.geometry import (
    conv_output_size,
    conv_transpose_output_size,
    pool_output_size,
    receptive_field,
    same_padding,
)
from cnnlab.nn.norm import Normalize, get_norm
from cnnlab.nn.pool import (
    FractionalMaxPool2d,
    GlobalAvgPool2d,
    SpatialPyramidPool,
    Subsample2d,
    get_pool,
)

__all__ = [
    "CBAM",
    "ConvNormAct",
    "DropConnectLinear",
    "DropPath",
    "FractionalMaxPool2d",
    "GlobalAvgPool2d",
    "Maxout",
    "Normalize",
    "PartialConv2d",
    "ScaledTanh",
    "SeparableConv2d",
    "SpatialPyramidPool",
    "SqueezeExcite",
    "Subsample2d",
    "conv2d",
    "conv_output_size",
    "conv_transpose2d",
    "conv_transpose_output_size",
    "drop_path_rates",
    "fuse_conv_bn",
    "get_act",
    "get_norm",
    "get_pool",
    "list_acts",
    "make_divisible",
    "pool_output_size",
    "receptive_field",
    "reparameterize",
    "same_padding",
]
