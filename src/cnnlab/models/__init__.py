"""Model families (one file each) and the registry that builds them by name.

Importing this package registers every family's builders.
"""

from cnnlab.models import lenet, simple  # noqa: F401  (registers the builders)
from cnnlab.models.registry import create_model, list_models, model_description, register_model
from cnnlab.models.summary import LayerRow, count_parameters, format_layer_table, layer_table

__all__ = [
    "LayerRow",
    "count_parameters",
    "create_model",
    "format_layer_table",
    "layer_table",
    "list_models",
    "model_description",
    "register_model",
]
