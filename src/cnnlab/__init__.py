"""cnnlab: convolutional neural networks, end to end.

The public API:

    from cnnlab import create_model, list_models, load_run, Trainer, TrainConfig
    run_dir = Trainer(TrainConfig(model="lenet5", dataset="digits")).fit()
    run = load_run(run_dir)

The names are imported on first use (PEP 562), so that importing one room
(``cnnlab.report``, ``cnnlab.nn`` ...) does not load all the others.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from cnnlab.version import __version__

if TYPE_CHECKING:
    from cnnlab.compose import Trainer
    from cnnlab.errors import CnnlabError
    from cnnlab.models import create_model, list_models
    from cnnlab.runs import Run, load_run
    from cnnlab.train.config import TrainConfig

_HOMES = {
    "CnnlabError": "cnnlab.errors",
    "Run": "cnnlab.runs",
    "TrainConfig": "cnnlab.train.config",
    "Trainer": "cnnlab.compose",
    "create_model": "cnnlab.models",
    "list_models": "cnnlab.models",
    "load_run": "cnnlab.runs",
}

__all__ = [
    "CnnlabError",
    "Run",
    "TrainConfig",
    "Trainer",
    "__version__",
    "create_model",
    "list_models",
    "load_run",
]


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'cnnlab' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)
