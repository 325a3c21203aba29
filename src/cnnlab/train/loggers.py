"""Loggers and progress messages as Trainer callbacks.

- `TensorBoardLogger` writes a TensorBoard event file with
  `torch.utils.tensorboard.SummaryWriter` (``pip install
  cnnlab[tensorboard]``): the loss and learning rate of every step, every
  history column at every epoch, the images of the first batch as training
  sees them (augmented and mixed), and, on request, parameter histograms.
- `CSVLogger` appends each epoch's history row to a CSV file.

Under ``torchrun`` only rank 0 writes.  The step loss is read with
``loss.item()``, one device synchronisation per step while TensorBoard logs.
- `Progress` prints what the epoch lines do not say: the time left for
  the whole run and the start of the final evaluation.

``cnnlab train --log tensorboard,csv`` builds them (`build_loggers`);
``tensorboard --logdir RUN/logs`` shows the event file.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from cnnlab.errors import ConfigError, check_choice
from cnnlab.train.callbacks import Callback

if TYPE_CHECKING:
    from cnnlab.train.trainer import Trainer

LOGGERS = ("tensorboard", "csv")
LOG_DIR = "logs"  # inside the run directory
IMAGES_SHOWN = 32  # of the first batch


def _batches_per_epoch(trainer: Trainer) -> int:
    loader, _ = trainer.training_epoch(trainer.epoch)
    return len(loader)


class TensorBoardLogger(Callback):
    """Scalars per step and per epoch, first-batch images and histograms for TensorBoard.

    Tags: ``step/loss`` and ``step/lr`` at each optimizer step (x axis: steps
    since the start of the run); ``epoch/<column>`` for every column of
    ``history.jsonl`` (x axis: epochs, from 1); ``images/first_batch``; with
    ``histograms``, ``weights/<parameter>`` at each epoch.
    """

    def __init__(self, log_dir: str | Path | None = None, histograms: bool = False):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as error:  # tensorboard is an optional dependency
            raise ConfigError(
                "--log tensorboard needs the tensorboard package: "
                "pip install 'cnnlab[tensorboard]' (or drop --log tensorboard)."
            ) from error
        self._writer_type = SummaryWriter
        self.log_dir, self.histograms = log_dir, histograms
        self.writer: Any = None
        self.global_step = 0

    def _open(self, trainer: Trainer) -> None:
        log_dir = self.log_dir or trainer.run_dir / LOG_DIR
        self.writer = self._writer_type(log_dir=str(log_dir))
        self.global_step = trainer.epoch * _batches_per_epoch(trainer)  # resumed runs go on
        if trainer.epoch == 0:
            self._first_batch_images(trainer)

    def _first_batch_images(self, trainer: Trainer) -> None:
        """The first training batch, rebuilt from its seed (the run's stream is untouched)."""
        loader, generator = trainer.training_epoch(0)
        batch = next(iter(trainer.training_batches(loader, generator)))
        images = batch.inputs[:IMAGES_SHOWN].detach().float().cpu()
        if images.ndim == 4 and images.shape[1] in (1, 3):
            self.writer.add_images("images/first_batch", images.clamp(0, 1), 0)

    def on_batch_end(self, trainer: Trainer, step: int, loss: torch.Tensor) -> None:
        if not trainer.dist.is_main:  # under torchrun, rank 0 logs
            return
        if self.writer is None:
            self._open(trainer)
        self.global_step += 1
        self.writer.add_scalar("step/loss", loss.item(), self.global_step)
        self.writer.add_scalar("step/lr", trainer.optimizer.param_groups[0]["lr"], self.global_step)

    def on_epoch_end(self, trainer: Trainer, row: dict[str, Any]) -> None:
        if self.writer is None:  # not rank 0
            return
        for key, value in row.items():
            if key != "epoch":
                self.writer.add_scalar(f"epoch/{key}", value, row["epoch"])
        if self.histograms:
            for name, parameter in trainer.model.named_parameters():
                self.writer.add_histogram(f"weights/{name}", parameter.detach().cpu(), row["epoch"])
        self.writer.flush()

    def on_fit_end(self, trainer: Trainer) -> None:
        if self.writer is not None:
            self.writer.close()


class CSVLogger(Callback):
    """Each epoch's history row appended to ``RUN/logs/history.csv`` (header written once)."""

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path is not None else None

    def on_epoch_end(self, trainer: Trainer, row: dict[str, Any]) -> None:
        if not trainer.dist.is_main:
            return
        path = self.path or trainer.run_dir / LOG_DIR / "history.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        new = not path.is_file() or path.stat().st_size == 0
        with path.open("a", newline="", encoding="utf-8") as file:
            writer = csv.DictWriter(file, fieldnames=list(row))
            if new:
                writer.writeheader()
            writer.writerow(row)


def _duration(seconds: float) -> str:
    minutes, seconds = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {seconds:02d} s" if minutes else f"{seconds} s"


class Progress(Callback):
    """The estimated time left for the run after each epoch, and the final evaluation's start.

    The estimate is the mean time of the epochs trained in this process times
    the epochs left (the final evaluation not included).
    """

    def __init__(self) -> None:
        self.started: float | None = None
        self.first_epoch = 0

    def on_batch_end(self, trainer: Trainer, step: int, loss: torch.Tensor) -> None:
        if self.started is None:
            self.started, self.first_epoch = time.perf_counter(), trainer.epoch

    def on_epoch_end(self, trainer: Trainer, row: dict[str, Any]) -> None:
        done = trainer.epoch - self.first_epoch
        left = trainer.config.epochs - trainer.epoch
        if self.started is None or done <= 0 or left <= 0:
            return
        elapsed = time.perf_counter() - self.started
        trainer.log(
            f"run: {trainer.epoch}/{trainer.config.epochs} epochs, about "
            f"{_duration(elapsed / done * left)} left"
        )

    def on_fit_end(self, trainer: Trainer) -> None:
        split = "test" if len(trainer.data.test) else "val"
        images = len(getattr(trainer.data, split))
        trainer.log(f"final evaluation on the {split} split ({images} images) ...")


def build_loggers(names: Sequence[str], *, histograms: bool = False) -> list[Callback]:
    """The callbacks for ``--log NAME,...`` (``tensorboard``, ``csv``)."""
    callbacks: list[Callback] = []
    for name in dict.fromkeys(names):
        check_choice("logger", name, LOGGERS)
        callbacks.append(
            TensorBoardLogger(histograms=histograms) if name == "tensorboard" else CSVLogger()
        )
    if histograms and "tensorboard" not in names:
        raise ConfigError("--log-histograms writes to TensorBoard: add --log tensorboard.")
    return callbacks
