"""The training configuration: every knob of a run in one visible place.

A :class:`TrainConfig` is saved as ``config.yaml`` in the run directory and can
be given back with ``cnnlab train --config FILE``; command-line flags override
the values in the file.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from cnnlab.attack.defense import AdversarialTraining
from cnnlab.data.transforms import Augment
from cnnlab.errors import ConfigError, check_choice, check_positive
from cnnlab.train.init import INITS
from cnnlab.train.optim import OPTIMIZERS, SCHEDULERS

NORMALIZATIONS = ("channel", "image", "none")
MONITORS = ("val_acc", "val_loss")
PRECISIONS = ("fp32", "bf16", "fp16")
FREEZE_MODES = ("none", "partial", "features")  # see cnnlab.train.transfer


@dataclass
class TrainConfig:
    """Hyper-parameters of one training run (see ``cnnlab train --help``).

    The default recipe (Adam 4e-3, batches of 96, one warm-up epoch and a
    cosine decay over 11 epochs, label smoothing 0.1, no augmentation) is the
    shortest one found that serves both of the foundation issue's targets:
    LeNet-5 on the digits default above 97 % test accuracy, and on
    Fashion-MNIST the PyTorch tutorial baseline's accuracy in a fifth of its
    time (``benchmarks/lenet.py``; the search is in ``benchmarks/RESULTS.md``).
    Longer runs and larger data sets want more epochs and augmentation.
    """

    model: str = "lenet5"
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    dataset: str = "digits"
    data_dir: str | None = None
    classes: list[str] | None = None  # train on these classes only
    per_class: int | None = None  # labelled images per class (train + val)
    val_fraction: float = 0.1
    test_fraction: float | None = None  # held-out test share where no official split exists
    normalization: str = "channel"
    augment: list[str] = field(default_factory=list)  # or "flip,crop:4", split on creation
    mixup: float = 0.0  # Beta(α, α) of Mixup; 0 = off
    cutmix: float = 0.0  # Beta(α, α) of CutMix; 0 = off
    epochs: int = 11
    batch_size: int = 96
    optimizer: str = "adam"
    lr: float = 4e-3
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 0.0
    no_bias_decay: bool = False  # exempt biases and normalization parameters from weight_decay
    scheduler: str = "cosine"
    warmup_epochs: float = 1.0
    step_epochs: int = 30  # scheduler 'step': multiply the rate by gamma every step_epochs
    gamma: float = 0.1  # decay factor of 'step' (and of 'plateau')
    label_smoothing: float = 0.1
    grad_clip: float | None = None
    l1: float = 0.0  # L1 penalty on conv/linear weights
    max_norm: float | None = None  # max-norm constraint on each unit's weights
    ema: float | None = None  # decay of the exponential moving average of the weights
    accumulate: int = 1  # batches per optimizer step (gradient accumulation)
    sam: float = 0.0  # ρ of sharpness-aware minimization (Foret et al. 2021); 0 = off
    precision: str = "fp32"  # fp32, bf16 (autocast) or fp16 (autocast + gradient scaler, GPU)
    compile: bool = False  # torch.compile the model for training
    init: str | None = None  # re-initialise the weights (see cnnlab.train.init.INITS)
    pretrained: str | None = None  # run directory or weights file to start from
    freeze: str = "none"  # none, partial (all but the last block), features (head only)
    lr_decay: float = 1.0  # discriminative rates: block k from the top gets lr / lr_decay**k
    teacher: str | None = None  # run directory of a teacher to distil from
    distill_temperature: float = 4.0
    distill_alpha: float = 0.9  # weight of the soft (teacher) term
    adv_train: str = "none"  # none, fgsm-rs, pgd or trades (cnnlab.attack.defense)
    adv_eps: float = 8 / 255  # L∞ radius of the training attack, in pixel units [0, 1]
    adv_steps: int = 10
    trades_beta: float = 6.0
    early_stopping: int | None = None
    monitor: str = "val_acc"
    seed: int = 0
    device: str = "cpu"
    channels_last: bool = True
    download: bool = False

    def __post_init__(self) -> None:
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        check_choice("scheduler", self.scheduler, SCHEDULERS)
        check_choice("normalization", self.normalization, NORMALIZATIONS)
        check_choice("monitor", self.monitor, MONITORS)
        self.augment = Augment(self.augment).specs  # validated; "flip,crop:4" is split
        check_choice("precision", self.precision, PRECISIONS)
        AdversarialTraining(self.adv_train, self.adv_eps, self.adv_steps, self.trades_beta)
        if self.adv_train == "trades" and (self.mixup > 0 or self.cutmix > 0):
            raise ConfigError(
                "TRADES needs hard labels: drop --mixup/--cutmix or use --adv-train pgd."
            )
        check_choice("freeze mode", self.freeze, FREEZE_MODES)
        if self.pretrained is None and (self.freeze != "none" or self.lr_decay != 1.0):
            raise ConfigError(
                "freeze and lr_decay apply to a pretrained network: give pretrained "
                "(cnnlab finetune RUN ...)."
            )
        if self.pretrained is not None and self.init is not None:
            raise ConfigError("init would overwrite the pretrained weights; give one of the two.")
        if self.lr_decay < 1.0:
            raise ConfigError(f"lr_decay must be >= 1 (1: one rate), got {self.lr_decay}.")
        check_positive("distill_temperature", self.distill_temperature)
        if not 0.0 <= self.distill_alpha <= 1.0:
            raise ConfigError(f"distill_alpha must be in [0, 1], got {self.distill_alpha}.")
        if self.per_class is not None:
            check_positive("per_class", self.per_class)
        if self.init is not None:
            check_choice("initialization", self.init, INITS)
        check_positive("l1", self.l1, allow_zero=True)
        check_positive("accumulate", self.accumulate)
        if self.max_norm is not None:
            check_positive("max_norm", self.max_norm)
        if self.ema is not None and not 0.0 < self.ema < 1.0:
            raise ConfigError(f"ema is a decay in (0, 1) such as 0.999, got {self.ema}.")
        check_positive("sam", self.sam, allow_zero=True)
        if self.sam > 0 and self.accumulate > 1:
            raise ConfigError(
                "sam needs the whole batch's gradient before its ascent step; it cannot be "
                "combined with accumulate > 1. Use a smaller batch without accumulation."
            )
        if self.sam > 0 and self.precision == "fp16":
            raise ConfigError(
                "sam with fp16 would step to w + ε̂ along an overflowed (inf) gradient; "
                "use --precision bf16 or fp32 with --sam."
            )
        check_positive("mixup", self.mixup, allow_zero=True)
        check_positive("cutmix", self.cutmix, allow_zero=True)
        check_positive("epochs", self.epochs)
        check_positive("batch_size", self.batch_size)
        check_positive("lr", self.lr)
        check_positive("weight_decay", self.weight_decay, allow_zero=True)
        check_positive("warmup_epochs", self.warmup_epochs, allow_zero=True)
        check_positive("step_epochs", self.step_epochs)
        if not 0.0 < self.gamma < 1.0:
            raise ConfigError(f"gamma (the decay factor) must be in (0, 1), got {self.gamma}.")
        if not 0.0 < self.val_fraction < 1.0:
            raise ConfigError(f"val_fraction must be in (0, 1), got {self.val_fraction}.")
        if self.test_fraction is not None and not 0.0 <= self.test_fraction < 1.0:
            raise ConfigError(f"test_fraction must be in [0, 1), got {self.test_fraction}.")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ConfigError(f"label_smoothing must be in [0, 1), got {self.label_smoothing}.")
        if self.grad_clip is not None:
            check_positive("grad_clip", self.grad_clip)
        if self.early_stopping is not None:
            check_positive("early_stopping", self.early_stopping)

    def data_options(self) -> dict[str, Any]:
        """The keyword arguments of :func:`cnnlab.data.load_data` that fix this run's splits."""
        return {
            "val_fraction": self.val_fraction,
            "test_fraction": self.test_fraction,
            "seed": self.seed,
            "classes": self.classes,
            "per_class": self.per_class,
        }

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ConfigError(
                f"Unknown configuration keys {unknown}. Valid keys are: {', '.join(sorted(names))}."
            )
        try:
            return cls(**values)
        except TypeError as exc:
            raise ConfigError(f"Bad configuration: {exc}.") from exc

    @classmethod
    def from_yaml(cls, path: str | os.PathLike) -> TrainConfig:
        path = Path(path)
        try:
            values = yaml.safe_load(path.read_text())
        except OSError as exc:
            raise ConfigError(f"Cannot read config file {path}: {exc.strerror}.") from exc
        except yaml.YAMLError as exc:
            raise ConfigError(f"Config file {path} is not valid YAML: {exc}.") from exc
        if not isinstance(values, dict):
            raise ConfigError(f"Config file {path} must hold a mapping of keys to values.")
        return cls.from_dict(values)

    def replace(self, **overrides: Any) -> TrainConfig:
        return dataclasses.replace(self, **overrides)
