"""What is learned: one :class:`~cnnlab.train.task.Task` per kind of problem.

``create_task(config, data)`` builds the task ``config.task`` names;
``evaluate_run`` and ``evaluate_ensemble`` evaluate finished classification runs.
"""

from __future__ import annotations

from cnnlab.data import DataSplits
from cnnlab.tasks import classification_eval
from cnnlab.tasks.classification import Classification
from cnnlab.train.config import TrainConfig
from cnnlab.train.task import Task

TASKS = {"classification": Classification}


def create_task(config: TrainConfig, data: DataSplits) -> Task:
    """The task ``config.task`` names, for ``data``."""
    return TASKS[config.task](config, data)


evaluate_run = classification_eval.evaluate_run
evaluate_ensemble = classification_eval.evaluate_ensemble

__all__ = ["TASKS", "Classification", "create_task", "evaluate_ensemble", "evaluate_run"]
