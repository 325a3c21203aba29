"""Model families (one file each) and the registry that builds them by name.

Importing this package registers every family's builders.
"""

from cnnlab.models import (  # noqa: F401  (registers the builders)
    alexnet,
    autoencoder,
    convnext,
    darknet,
    denoising,
    densenet,
    detection,
    efficientnet,
    fastcnn,
    fcn,
    googlenet,
    highway,
    inception,
    lenet,
    mnasnet,
    mobilenet,
    nasnet,
    nin,
    repvgg,
    resnet,
    resnet_cifar,
    segnet,
    shufflenet,
    simple,
    squeezenet,
    unet,
    vgg,
    xception,
)
from cnnlab.models.features import feature_extractor
from cnnlab.models.registry import (
    Reference,
    create_model,
    list_models,
    model_description,
    model_info,
    register_model,
)
from cnnlab.models.summary import LayerRow, count_parameters, format_layer_table, layer_table
from cnnlab.models.weights import load_torchvision_weights

__all__ = [
    "LayerRow",
    "Reference",
    "count_parameters",
    "create_model",
    "feature_extractor",
    "format_layer_table",
    "layer_table",
    "list_models",
    "load_torchvision_weights",
    "model_description",
    "model_info",
    "register_model",
]
