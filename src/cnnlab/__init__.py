"""cnnlab: convolutional neural networks, end to end.

The public API::

    from cnnlab import create_model, list_models, load_run, Trainer, TrainConfig
    run_dir = Trainer(TrainConfig(model="lenet5", dataset="digits")).fit()
    run = load_run(run_dir)
"""

from cnnlab.compose import Trainer
from cnnlab.errors import CnnlabError
from cnnlab.models import create_model, list_models
from cnnlab.runs import Run, load_run
from cnnlab.train.config import TrainConfig
from cnnlab.version import __version__

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
