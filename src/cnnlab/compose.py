"""The Trainer a `TrainConfig` describes, composed.

The loop (`cnnlab.train.trainer.Trainer`) takes a task and a list of
techniques; this module, above every room that contributes one, picks them
from the configuration: the task ``config.task`` names (`cnnlab.tasks`),
the training techniques (`cnnlab.train.techniques.build_techniques`) and
adversarial training (`cnnlab.attack.defense.adversarial_training`).
``cnnlab.Trainer`` is this class.
"""

from __future__ import annotations

import os
from typing import Any

from cnnlab.attack.defense import adversarial_training
from cnnlab.data import DataSplits, load_data
from cnnlab.tasks import create_task
from cnnlab.train import trainer
from cnnlab.train.config import TrainConfig
from cnnlab.train.lr_find import LRFindResult, lr_range_test
from cnnlab.train.recipes import get_recipe
from cnnlab.train.techniques import build_techniques


class Trainer(trainer.Trainer):
    """Train what ``config`` says into ``run_dir``: ``Trainer(TrainConfig(...)).fit()``.

    ``data`` replaces the data set ``config`` names (already split); other
    keyword arguments (``callbacks``, ``quiet``, ``log``) go to the loop.
    """

    def __init__(
        self,
        config: TrainConfig,
        run_dir: str | os.PathLike | None = None,
        *,
        data: DataSplits | None = None,
        **options: Any,
    ):
        # Everything that can fail on bad input happens before the run directory exists.
        data = data or load_data(
            config.dataset, config.data_dir, download=config.download, **config.data_options()
        )
        if config.recipe is not None:
            get_recipe(config.recipe).check_data(data.input_shape, config.dataset)
        techniques = build_techniques(config, adversarial=adversarial_training(config))
        super().__init__(
            config,
            run_dir,
            task=create_task(config, data),
            data=data,
            techniques=techniques,
            **options,
        )


def lr_find(
    config: TrainConfig,
    start_lr: float = 1e-7,
    end_lr: float = 10.0,
    steps: int = 100,
    *,
    beta: float = 0.98,
    divergence: float = 4.0,
    quiet: bool = True,
    data: DataSplits | None = None,
) -> LRFindResult:
    """The learning-rate range test for the model, data and techniques of ``config``.

    The Trainer is built as for training (same seed, so the same initial
    weights); nothing is written to disk.  ``quiet`` hides the progress bar;
    ``data`` reuses already loaded splits.  See
    `cnnlab.train.lr_find.lr_range_test` for the other parameters.
    """
    trainer = Trainer(config, quiet=quiet, data=data)
    return lr_range_test(trainer, start_lr, end_lr, steps, beta=beta, divergence=divergence)
