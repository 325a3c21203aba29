"""The learning-rate range test: train briefly while the rate grows, watch the loss.

Smith (2017), "Cyclical learning rates for training neural networks", Sec. 3.3,
in the form popularized by fastai (Howard & Gugger 2020, ``lr_find``): starting
from the run's initial weights, take ``steps`` optimizer steps on training
batches while the learning rate grows geometrically from ``start_lr`` to
``end_lr``,

    lr_i = start_lr · (end_lr / start_lr)^(i / (steps - 1)),   i = 0 .. steps - 1,

and record the exponentially smoothed, bias-corrected loss (Kingma & Ba 2015,
Sec. 3, applied to the loss)

    m_i = β·m_(i-1) + (1 - β)·loss_i,   m_(-1) = 0,   smoothed_i = m_i / (1 - β^(i+1)).

The test stops early once ``smoothed_i > divergence · min_(j<=i) smoothed_j``
(the loss is blowing up) or the loss is not finite.  Two rates are suggested:
the one where the smoothed loss falls fastest against log lr (the steepest
negative slope), and the rate of the lowest loss divided by 10, the rule of
thumb of fastai.  Afterwards the model, optimizer, gradient scaler, weight
average and random number generators are back in the state they had before,
so that training can start from the same initial weights.

The batches, augmentation, mixing, loss, precision and optimizer step are the
Trainer's: `cnnlab.compose.lr_find` builds a Trainer from a configuration
(without creating its run directory, which only `Trainer.fit` does) and
`lr_range_test` runs the test on it, one `Trainer.train_step` per
step (every technique of the run included).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from cnnlab.errors import ConfigError, TrainingDivergedError, check_positive
from cnnlab.train.task import Batch
from cnnlab.train.trainer import Trainer
from cnnlab.train.transfer import keep_frozen_in_eval


@dataclass
class LRFindResult:
    """The outcome of a learning-rate range test.

    Attributes
    ----------
    lrs
        the learning rate of each step taken (fewer than ``steps`` if the loss diverged).
    losses
        the smoothed, bias-corrected training loss after each of those steps.
    suggestion
        the rate of the steepest descent of ``losses`` against log lr.
    min_loss_lr
        the rate of the lowest smoothed loss, divided by 10.
    """

    lrs: list[float]
    losses: list[float]
    suggestion: float
    min_loss_lr: float


def geometric_lrs(start_lr: float, end_lr: float, steps: int) -> list[float]:
    """``steps`` rates from ``start_lr`` to ``end_lr`` (both included), a constant ratio apart."""
    check_positive("start_lr", start_lr)
    check_positive("end_lr", end_lr)
    if end_lr <= start_lr:
        raise ConfigError(
            f"end_lr ({end_lr:g}) must be larger than start_lr ({start_lr:g}); the range test "
            "raises the rate, e.g. from 1e-7 to 10."
        )
    if steps < 2:
        raise ConfigError(f"steps must be >= 2 to span a range of rates, got {steps}.")
    ratio = end_lr / start_lr
    return [start_lr * ratio ** (i / (steps - 1)) for i in range(steps)]


def _check_beta(beta: float) -> None:
    if not 0.0 <= beta < 1.0:
        raise ConfigError(f"beta (the smoothing factor) must be in [0, 1), got {beta}.")


def smooth_losses(losses: Sequence[float], beta: float = 0.98) -> list[float]:
    """Exponential moving average of ``losses`` with the bias correction ``1 / (1 - β^(i+1))``."""
    _check_beta(beta)
    average, smoothed = 0.0, []
    for i, loss in enumerate(losses):
        average = beta * average + (1.0 - beta) * loss
        smoothed.append(average / (1.0 - beta ** (i + 1)))
    return smoothed


def suggest_lr(lrs: Sequence[float], losses: Sequence[float]) -> tuple[float, float]:
    """``(steepest, min_loss_lr)``: the rate where ``losses`` falls fastest against log10(lr)
    (central differences), and the rate of the lowest loss divided by 10."""
    if len(lrs) != len(losses) or len(lrs) < 2:
        raise ConfigError(
            f"Need at least two (lr, loss) pairs of equal length, got {len(lrs)} rates and "
            f"{len(losses)} losses."
        )
    slopes = np.gradient(np.asarray(losses, dtype=float), np.log10(np.asarray(lrs, dtype=float)))
    steepest = int(np.argmin(slopes))
    lowest = int(np.argmin(losses))
    return float(lrs[steepest]), float(lrs[lowest]) / 10.0


def lr_range_test(
    trainer: Trainer,
    start_lr: float = 1e-7,
    end_lr: float = 10.0,
    steps: int = 100,
    *,
    beta: float = 0.98,
    divergence: float = 4.0,
) -> LRFindResult:
    """Run the range test on ``trainer``'s model and optimizer, then restore both.

    Parameters
    ----------
    trainer
        a `Trainer`, typically fresh (its initial weights are kept).
    start_lr, end_lr
        the first and last learning rate; with layer-wise (discriminative)
        rates every parameter group is scaled by the same factor and the rates reported
        are those of the first group.
    steps
        number of optimizer steps (each over ``config.accumulate`` batches).
    beta
        smoothing factor of the loss' exponential moving average.
    divergence
        stop once the smoothed loss exceeds ``divergence`` times its minimum.

    Returns
    -------
    LRFindResult

    Raises
    ------
    TrainingDivergedError
        If the loss diverged before two steps were recorded (lower ``start_lr``).
    """
    schedule = geometric_lrs(start_lr, end_lr, steps)
    _check_beta(beta)
    if divergence <= 1.0:
        raise ConfigError(f"divergence must be > 1 (fastai uses 4), got {divergence}.")
    saved = _snapshot(trainer)
    try:
        with torch.random.fork_rng(devices=_cuda_devices(trainer.device)):
            lrs, losses = _range_test(trainer, schedule, beta, divergence)
    finally:
        _restore(trainer, saved)
    if len(losses) < 2:
        raise TrainingDivergedError(
            f"The loss diverged within the first steps of the range test (at lr "
            f"{schedule[len(losses)]:.2e}); lower the start rate (--start-lr)."
        )
    suggestion, min_loss_lr = suggest_lr(lrs, losses)
    return LRFindResult(lrs, losses, suggestion, min_loss_lr)


def _range_test(
    trainer: Trainer, schedule: list[float], beta: float, divergence: float
) -> tuple[list[float], list[float]]:
    trainer.model.train()
    keep_frozen_in_eval(trainer.frozen)
    groups = trainer.optimizer.param_groups
    # Layer-wise rates keep their ratios to the first group's rate.
    ratios = [group["lr"] / groups[0]["lr"] for group in groups]
    batches = trainer.batch_stream()
    lrs: list[float] = []
    raw: list[float] = []
    losses: list[float] = []
    best = math.inf
    bar = tqdm(schedule, desc="lr-find", leave=False, disable=True if trainer.quiet else None)
    for lr in bar:
        for group, ratio in zip(groups, ratios, strict=True):
            group["lr"] = lr * ratio
        loss = _step(trainer, batches)
        if not math.isfinite(loss):
            break
        raw.append(loss)
        smoothed = smooth_losses(raw, beta)[-1]
        lrs.append(lr)
        losses.append(smoothed)
        best = min(best, smoothed)
        bar.set_postfix(lr=f"{lr:.1e}", loss=f"{smoothed:.4f}")
        if smoothed > divergence * best:
            break
    bar.close()
    return lrs, losses


def _step(trainer: Trainer, batches: Iterator[tuple[Batch, torch.Generator]]) -> float:
    """One optimizer step of the Trainer over ``accumulate`` batches; their mean loss.

    The step is the Trainer's own (`Trainer.train_step`), with every technique;
    the schedule is left alone, as the test sets the rate itself.
    """
    accumulate = trainer.config.accumulate
    total = 0.0
    for i in range(accumulate):
        batch, generator = next(batches)
        try:
            loss, _, _ = trainer.train_step(
                batch, generator, update=i == accumulate - 1, per_step=False
            )
        except TrainingDivergedError:
            return math.inf
        total += loss.item()
    return total / accumulate


def _cuda_devices(device: torch.device) -> list[int]:
    if device.type != "cuda":
        return []
    return [device.index if device.index is not None else torch.cuda.current_device()]


def _snapshot(trainer: Trainer) -> dict[str, Any]:
    return {
        "model": copy.deepcopy(trainer.model.state_dict()),
        "optimizer": copy.deepcopy(trainer.optimizer.state_dict()),
        "scaler": trainer.scaler.state_dict(),
        "techniques": [copy.deepcopy(t.state_dict()) for t in trainer.techniques],
        "training": trainer.model.training,
    }


def _restore(trainer: Trainer, saved: dict[str, Any]) -> None:
    trainer.model.load_state_dict(saved["model"])
    trainer.optimizer.load_state_dict(saved["optimizer"])
    trainer.optimizer.zero_grad(set_to_none=True)
    trainer.scaler.load_state_dict(saved["scaler"])
    for technique, state in zip(trainer.techniques, saved["techniques"], strict=True):
        if state is not None:
            technique.load_state_dict(state)
    trainer.model.train(saved["training"])
