"""Optional dependencies of deployment, imported on first use with an error naming the extra."""

from __future__ import annotations

import importlib
from types import ModuleType

from cnnlab.errors import ConfigError

EXTRA = "export"


def require(module: str) -> ModuleType:
    """Import ``module`` (onnx, onnxruntime, onnxscript) or say how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ConfigError(
            f"{module} is not installed; ONNX export and onnxruntime inference need the "
            f"'{EXTRA}' extra: pip install 'cnnlab[{EXTRA}]'."
        ) from exc
