"""What is learned: one `Task` per kind of problem.

``create_task(config, data)`` builds the task ``config.task`` names;
``evaluate_run`` evaluates a finished run with the evaluation of the task it
was trained for; ``evaluate_ensemble`` averages classification runs.
"""

from __future__ import annotations

import os
from typing import Any

from cnnlab import runs
from cnnlab.data import DataSplits
from cnnlab.errors import ConfigError, check_choice
from cnnlab.tasks import classification_eval
from cnnlab.tasks.classification import Classification
from cnnlab.tasks.detection import Detection, evaluate_detection
from cnnlab.tasks.metric_learning import Embedding
from cnnlab.tasks.metric_learning_eval import evaluate_embedding
from cnnlab.tasks.reconstruction import Autoencoder, Denoise, Noise2Void
from cnnlab.tasks.reconstruction_eval import evaluate_reconstruction
from cnnlab.tasks.segmentation import Segmentation, evaluate_segmentation
from cnnlab.train.config import TrainConfig
from cnnlab.train.task import Task

TASKS = {
    "classification": Classification,
    "segmentation": Segmentation,
    "detection": Detection,
    "embedding": Embedding,
    "autoencoder": Autoencoder,
    "denoise": Denoise,
    "noise2void": Noise2Void,
}
EVALUATIONS = {
    "classification": classification_eval.evaluate_run,
    "segmentation": evaluate_segmentation,
    "detection": evaluate_detection,
    "embedding": evaluate_embedding,
    "autoencoder": evaluate_reconstruction,
    "denoise": evaluate_reconstruction,
    "noise2void": evaluate_reconstruction,
}


def create_task(config: TrainConfig, data: DataSplits) -> Task:
    """The task ``config.task`` names, for ``data``."""
    return TASKS[config.task](config, data)


def evaluate_run(run_dir: str | os.PathLike, **options: Any) -> dict[str, Any]:
    """Evaluate the best weights of ``run_dir`` on a split (``split="test"``, ``dataset``,
    ``data_dir``, ``device``, ``tta``); writes metrics.json, figures and the report."""
    task = check_choice("task", runs.read_meta(run_dir).get("task", "classification"), EVALUATIONS)
    if task != "classification" and options.pop("tta", None) is not None:
        raise ConfigError(
            f"test-time augmentation is for classification runs; {run_dir} is a {task} run: "
            "drop --tta."
        )
    return EVALUATIONS[task](run_dir, **options)


evaluate_ensemble = classification_eval.evaluate_ensemble

__all__ = [
    "TASKS",
    "Autoencoder",
    "Classification",
    "Denoise",
    "Detection",
    "Embedding",
    "Noise2Void",
    "Segmentation",
    "create_task",
    "evaluate_ensemble",
    "evaluate_run",
]
