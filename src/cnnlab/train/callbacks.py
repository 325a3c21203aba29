"""Callbacks: small objects the Trainer calls after each batch, each epoch and the fit.

Every hook is optional; a callback may set ``trainer.stop_requested = True`` to
end training after the current epoch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from cnnlab.train.trainer import Trainer


class Callback:
    """Base class with no-op hooks; override the ones you need."""

    def on_batch_end(self, trainer: Trainer, step: int, loss: torch.Tensor) -> None:
        """After the backward pass (and optimizer step) of training batch ``step``."""

    def on_epoch_end(self, trainer: Trainer, row: dict[str, Any]) -> None:
        """After an epoch's history ``row`` is recorded and its checkpoints written."""

    def on_fit_end(self, trainer: Trainer) -> None:
        """After the last epoch, before the final evaluation."""
