"""The training configuration: every knob of a run, declared once.

A `TrainConfig` is saved as ``config.yaml`` in the run directory and can
be given back with ``cnnlab train --config FILE``; command-line flags override
the values in the file.

Each field is declared with `knob`: its default, the help text, the
section it belongs to (a technique's knobs form one section: ``sam``, ``ema``,
``adversarial`` ...), how it is written on the command line, and the check that
guards its value.  ``cnnlab train --help`` is generated from these declarations
(`cnnlab.cli.flags`), so a knob is written in one place and its help
cannot drift; rules that tie several fields together are in ``__post_init__``.
"""

from __future__ import annotations

import dataclasses
import math
import os
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cache
from typing import Any

import torch
import yaml

from cnnlab.data.canvas import CANVAS_SOURCES
from cnnlab.data.noise import parse_noise
from cnnlab.data.pk_sampler import parse_pk
from cnnlab.data.transforms import Augment
from cnnlab.errors import ConfigError, check_choice, check_positive
from cnnlab.fileio import read_yaml_mapping
from cnnlab.nn.metric_losses import LOSSES, MININGS
from cnnlab.runs.run import IMAGE_TASKS
from cnnlab.train.init import INITS
from cnnlab.train.optim import OPTIMIZERS, SCHEDULERS
from cnnlab.train.recipes import RECIPES, get_recipe

NORMALIZATIONS = ("channel", "image", "none")
MONITORS = ("val_acc", "val_loss", "val_miou", "val_psnr", "val_ssim")  # val_miou: segmentation
MONITORS += ("val_map50", "val_map")  # detection
MONITORS += ("val_eer",)  # embedding: equal error rate, minimized (cnnlab.runs.best)
PRECISIONS = ("fp32", "bf16", "fp16")
FREEZE_MODES = ("none", "partial", "features")  # see cnnlab.train.transfer
ADVERSARIAL_TRAINING = ("none", "fgsm-rs", "pgd", "trades")  # see cnnlab.attack.defense
TASKS = ("classification", "segmentation", "detection")  # see cnnlab.tasks
TASKS += ("embedding",)  # metric learning: cnnlab.tasks.metric_learning
RECONSTRUCTION_TASKS = IMAGE_TASKS  # autoencoder, denoise, noise2void: cnnlab.tasks.reconstruction
TASKS += RECONSTRUCTION_TASKS
RECONSTRUCTION_LOSSES = ("mse", "l1")

Check = Callable[[str, Any], None]


def knob(
    default: Any,
    help: str,
    *,
    section: str,
    check: Check | None = None,
    choices: tuple[str, ...] | None = None,
    metavar: str | None = None,
    flag: str | None = None,
    command_line: bool = True,
) -> Any:
    """A `TrainConfig` field with what the CLI and validation need to know about it.

    ``check(name, value)`` raises `ConfigError` for a bad value (it is not
    called for ``None``); ``choices`` are the allowed strings; ``flag`` overrides
    the generated ``--field-name``; ``command_line=False`` keeps a field off
    ``cnnlab train`` (it is set by another subcommand, e.g. ``finetune``).
    """
    metadata = {
        "help": help,
        "section": section,
        "check": check,
        "choices": choices,
        "metavar": metavar,
        "flag": flag,
        "command_line": command_line,
    }
    if isinstance(default, (list, dict)):
        return field(default_factory=type(default), metadata=metadata)
    return field(default=default, metadata=metadata)


def positive(name: str, value: float) -> None:
    check_positive(name, value)


def non_negative(name: str, value: float) -> None:
    check_positive(name, value, allow_zero=True)


def unit_open(name: str, value: float) -> None:
    """A value in (0, 1), such as a decay factor."""
    if not 0.0 < value < 1.0:
        raise ConfigError(f"{name} must be in (0, 1), got {value!r}.")


def unit_half_open(name: str, value: float) -> None:
    """A value in [0, 1), such as a share or a smoothing."""
    if not 0.0 <= value < 1.0:
        raise ConfigError(f"{name} must be in [0, 1), got {value!r}.")


def unit_closed(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ConfigError(f"{name} must be in [0, 1], got {value!r}.")


def pixel_radius(name: str, value: float) -> None:
    """An L∞ radius in pixel units: images are in [0, 1]."""
    if not 0.0 < value <= 1.0:
        raise ConfigError(
            f"{name} must be in (0, 1] (pixels are in [0, 1]), got {value!r}; "
            "write 8/255 rather than 8."
        )


def at_least_one(name: str, value: float) -> None:
    if value < 1.0:
        raise ConfigError(f"{name} must be >= 1 (1: one rate), got {value!r}.")


SEED_MAX = 2**32 - 1  # NumPy's and most tools' seed range
INT_MAX = 2**32 - 1  # no count of a run comes near; beyond, torch's int64 arithmetic overflows
RESERVED_MODEL_KWARGS = {
    "num_classes": "the number of classes comes from the data (choose them with --classes)",
    "in_chans": "the number of input channels comes from the images",
}


def seed_range(name: str, value: int) -> None:
    if not 0 <= value <= SEED_MAX:
        raise ConfigError(f"{name} must be an integer in [0, {SEED_MAX}], got {value!r}.")


def model_options(name: str, value: dict[str, Any]) -> None:
    """Options of the model builder; those the data decides are refused."""
    for key, reason in RESERVED_MODEL_KWARGS.items():
        if key in value:
            raise ConfigError(f"{name} cannot set {key}: {reason}.")


def noise_model(name: str, value: str) -> None:
    """A noise model ``kind:param`` (`cnnlab.data.noise.parse_noise`)."""
    parse_noise(value)


def pk_batches_spec(name: str, value: str) -> None:
    """``auto``, ``off`` or ``P,K`` (`cnnlab.data.pk_sampler.parse_pk`)."""
    if value not in ("auto", "off"):
        parse_pk(value)


def odd_window(name: str, value: int) -> None:
    if value < 3 or value % 2 == 0:
        raise ConfigError(f"{name} must be an odd window side >= 3 (e.g. 5), got {value!r}.")


def auto_device() -> str:
    """The device ``--device auto`` picks: CUDA when there is a GPU, then MPS, then the CPU."""
    if torch.cuda.is_available():
        return "cuda"
    if torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def device_name(name: str, value: str) -> None:
    """A torch device string that this machine has (cpu, cuda, cuda:1, mps ...)."""
    try:
        device = torch.device(value)
    except (RuntimeError, ValueError):
        raise ConfigError(
            f"{name} {value!r} is not a device; use cpu, cuda, cuda:1 or mps."
        ) from None
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ConfigError(
                f"{name} {value!r}: no CUDA GPU is available on this machine; use --device cpu."
            )
        if device.index is not None and device.index >= count:
            raise ConfigError(
                f"{name} {value!r}: this machine has {count} CUDA device(s), "
                f"cuda:0 to cuda:{count - 1}."
            )
    elif device.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"{name} {value!r}: MPS is not available here; use --device cpu.")
    elif device.type not in ("cpu", "cuda", "mps"):
        raise ConfigError(f"{name} {value!r}: cnnlab trains on cpu, cuda or mps.")


def parse_number(text: str) -> float:
    """A number written as a decimal or a fraction: ``'0.3'``, ``'8/255'``."""
    try:
        return float(Fraction(str(text).strip()))
    except (ValueError, ZeroDivisionError, OverflowError):
        raise ConfigError(
            f"expected a finite number or a fraction such as 0.1 or 8/255, got {text!r}."
        ) from None


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

    recipe: str | None = knob(
        None,
        "start from a named recipe's settings (fast: airbench-style, 28x28 grey images; "
        "see cnnlab.train.recipes); the other flags override them",
        section="model",
        choices=tuple(RECIPES),
    )
    # model
    task: str = knob("classification", "what is learned", section="model", choices=TASKS)
    model: str = knob("lenet5", "model name (see `cnnlab models`)", section="model")
    model_kwargs: dict[str, Any] = knob(
        {},
        "model option, e.g. bn=true (repeatable)",
        section="model",
        check=model_options,
        flag="--model-arg",
        metavar="KEY=VALUE",
    )
    init: str | None = knob(
        None,
        "re-initialise the weights",
        section="model",
        choices=INITS,
    )
    # data
    dataset: str = knob("digits", "data set name (see `cnnlab datasets`)", section="data")
    data_dir: str | None = knob(None, "where the data set's files are", section="data")
    download: bool = knob(False, "download missing data files", section="data")
    classes: list[str] | None = knob(
        None,
        "train on these classes only (a,b,c)",
        section="data",
        metavar="LIST",
    )
    per_class: int | None = knob(
        None,
        "labelled images per class (train + val)",
        section="data",
        check=positive,
        metavar="N",
    )
    val_fraction: float = knob(
        0.1,
        "share of the training data held out for validation",
        section="data",
        check=unit_open,
    )
    test_fraction: float | None = knob(
        None,
        "share of each class held out as the test set where the data set has no official "
        "one (digits, imagefolder; 0.2 when not given, 0 for none)",
        section="data",
        check=unit_half_open,
    )
    holdout_classes: list[str] | None = knob(
        None,
        "embedding task: classes kept out of training; the test split holds only them "
        "(one-shot recognition of new identities)",
        section="data",
        metavar="LIST",
    )
    canvas_source: str | None = knob(
        None,
        "seg-canvas and det-canvas: draw the glyphs from this data set, read from --data-dir "
        "(digits when not given)",
        section="data",
        choices=tuple(CANVAS_SOURCES),
    )
    normalization: str = knob(
        "channel",
        "channel (mean/std), image (mean image) or none",
        section="data",
        choices=NORMALIZATIONS,
    )
    augment: list[str] = knob(
        [],
        "batched augmentations, e.g. flip,crop:4 ('' for none)",
        section="data",
        metavar="LIST",
    )
    # optimization
    epochs: int = knob(11, "epochs to train", section="optimization", check=positive)
    batch_size: int = knob(96, "global batch size", section="optimization", check=positive)
    optimizer: str = knob("adam", "optimizer", section="optimization", choices=OPTIMIZERS)
    lr: float = knob(4e-3, "(peak) learning rate", section="optimization", check=positive)
    momentum: float = knob(
        0.9, "momentum (sgd, rmsprop)", section="optimization", check=unit_half_open
    )
    nesterov: bool = knob(False, "Nesterov momentum (sgd)", section="optimization")
    weight_decay: float = knob(
        0.0,
        "L2 weight decay",
        section="optimization",
        check=non_negative,
    )
    no_bias_decay: bool = knob(
        False,
        "no weight decay on biases and normalization parameters",
        section="optimization",
    )
    accumulate: int = knob(
        1,
        "batches per optimizer step (gradient accumulation)",
        section="optimization",
        check=positive,
        metavar="N",
    )
    grad_clip: float | None = knob(
        None,
        "clip the gradient norm to this value",
        section="optimization",
        check=positive,
    )
    # schedule
    scheduler: str = knob(
        "cosine", "learning-rate schedule", section="schedule", choices=SCHEDULERS
    )
    warmup_epochs: float = knob(
        1.0,
        "epochs of linear warm-up",
        section="schedule",
        check=non_negative,
    )
    step_epochs: int = knob(
        30,
        "scheduler step: decay the rate every N epochs",
        section="schedule",
        check=positive,
    )
    gamma: float = knob(
        0.1,
        "decay factor of the step and plateau schedules",
        section="schedule",
        check=unit_open,
    )
    # regularization
    label_smoothing: float = knob(
        0.1,
        "label smoothing of the training loss",
        section="regularization",
        check=unit_half_open,
    )
    l1: float = knob(
        0.0,
        "L1 penalty on conv/linear weights",
        section="regularization",
        check=non_negative,
    )
    max_norm: float | None = knob(
        None,
        "max-norm constraint on each unit's weights",
        section="regularization",
        check=positive,
    )
    mixup: float = knob(
        0.0,
        "Mixup with Beta(α, α); 0 = off",
        section="mixing",
        check=non_negative,
        metavar="ALPHA",
    )
    cutmix: float = knob(
        0.0,
        "CutMix with Beta(α, α); 0 = off",
        section="mixing",
        check=non_negative,
        metavar="ALPHA",
    )
    ema: float | None = knob(
        None,
        "average the weights with this decay, e.g. 0.999",
        section="ema",
        check=unit_open,
        metavar="DECAY",
    )
    sam: float = knob(
        0.0,
        "sharpness-aware minimization with radius ρ, e.g. 0.05 (two passes per step; "
        "Foret et al. 2021); 0 = off",
        section="sam",
        check=non_negative,
        metavar="RHO",
    )
    # adversarial training (cnnlab.attack.defense)
    adv_train: str = knob(
        "none",
        "adversarial training (Wong FGSM-RS, Madry PGD-AT, TRADES)",
        section="adversarial",
        choices=ADVERSARIAL_TRAINING,
    )
    adv_eps: float = knob(
        8 / 255,
        "L∞ radius of the training attack in pixel units, e.g. 0.1 or 8/255",
        section="adversarial",
        check=pixel_radius,
        flag="--eps",
    )
    adv_steps: int = knob(10, "steps of the training attack", section="adversarial", check=positive)
    trades_beta: float = knob(6.0, "β of TRADES", section="adversarial", check=non_negative)
    # transfer learning (set by `cnnlab finetune`)
    pretrained: str | None = knob(
        None,
        "run directory or weights file to start from",
        section="transfer",
        command_line=False,
    )
    freeze: str = knob(
        "none",
        "features: train the head only; partial: last block + head; none: everything",
        section="transfer",
        choices=FREEZE_MODES,
        command_line=False,
    )
    lr_decay: float = knob(
        1.0,
        "block k from the top trains at lr / lr_decay**k",
        section="transfer",
        check=at_least_one,
        command_line=False,
    )
    refit_normalization: bool = knob(
        False,
        "with frozen layers, fit the input normalization to the new data instead of "
        "keeping the pretrained run's (which the frozen features were trained on)",
        section="transfer",
        command_line=False,
    )
    # knowledge distillation (set by `cnnlab distill`)
    teacher: str | None = knob(
        None,
        "run directory of a teacher to distil from",
        section="distillation",
        command_line=False,
    )
    distill_temperature: float = knob(
        4.0,
        "softmax temperature of the distillation term",
        section="distillation",
        check=positive,
        command_line=False,
    )
    distill_alpha: float = knob(
        0.9,
        "weight of the soft (teacher) term",
        section="distillation",
        check=unit_closed,
        command_line=False,
    )
    # reconstruction (autoencoder, denoise, noise2void)
    noise: str | None = knob(
        None,
        "noise of restoration tasks: gaussian:SIGMA, poisson:PEAK or salt-pepper:AMOUNT",
        section="reconstruction",
        check=noise_model,
        metavar="KIND:PARAM",
    )
    recon_loss: str = knob(
        "mse",
        "loss of autoencoder and denoise",
        section="reconstruction",
        choices=RECONSTRUCTION_LOSSES,
    )
    n2v_fraction: float = knob(
        0.016,
        "noise2void: share of pixels masked per image (one per stratum)",
        section="reconstruction",
        check=unit_open,
    )
    n2v_window: int = knob(
        5,
        "noise2void: side of the window a masked pixel's replacement comes from",
        section="reconstruction",
        check=odd_window,
    )
    # embedding (metric learning, cnnlab.tasks.metric_learning)
    loss: str = knob(
        "arcface", "embedding task: metric-learning loss", section="embedding", choices=LOSSES
    )
    embedding_dim: int = knob(
        64,
        "embedding task: size of the L2-normalized embedding",
        section="embedding",
        check=positive,
    )
    embedding_scales: int = knob(
        1,
        "embedding task: how many of the network's last feature maps are pooled and "
        "concatenated under the embedding",
        section="embedding",
        check=positive,
    )
    margin: float | None = knob(
        None,
        "embedding task: the loss's margin (contrastive 1.0, triplet 0.2, arcface 0.5 rad, "
        "cosface 0.35, sphereface 4 when not given)",
        section="embedding",
        check=positive,
    )
    scale: float = knob(
        30.0,
        "embedding task: scale s of arcface/cosface/sphereface logits",
        section="embedding",
        check=positive,
    )
    mining: str = knob(
        "semi-hard",
        "embedding task: triplet mining (batch-hard can collapse early, FaceNet Sec. 3.2)",
        section="embedding",
        choices=MININGS,
    )
    pk: str = knob(
        "auto",
        "embedding task: batches of P identities x K images, 'P,K' with P*K = --batch-size "
        "(Hermans et al. 2017); auto: on for contrastive and triplet (P = min(identities, "
        "batch/4)), off for the others; off: random batches",
        section="embedding",
        check=pk_batches_spec,
        metavar="P,K",
    )
    # run
    early_stopping: int | None = knob(
        None,
        "stop after this many epochs without improvement",
        section="run",
        check=positive,
        metavar="PATIENCE",
    )
    monitor: str = knob(
        "val_acc",
        "validation metric that chooses the best epoch (left at val_acc: val_psnr for "
        "autoencoder and denoise, val_loss for noise2void)",
        section="run",
        choices=MONITORS,
    )
    seed: int = knob(
        0, "seed of weights, splits, order and augmentation", section="run", check=seed_range
    )
    device: str = knob(
        "auto",
        "auto (CUDA, then MPS, then the CPU), cpu, cuda, cuda:1, mps ...; config.yaml "
        "records the device auto chose",
        section="run",
        check=device_name,
    )
    precision: str = knob(
        "fp32",
        "fp32, bf16 (autocast) or fp16 (autocast + gradient scaler, GPU)",
        section="run",
        choices=PRECISIONS,
    )
    channels_last: bool = knob(
        True,
        "NHWC memory layout (faster convolutions on CPUs)",
        section="run",
    )
    compile: bool = knob(False, "torch.compile the model for training", section="run")

    def __post_init__(self) -> None:
        kinds = _field_kinds()
        for spec in dataclasses.fields(self):
            value = getattr(self, spec.name)
            if value is not None:
                setattr(self, spec.name, _typed(spec.name, kinds[spec.name], value))
        self.augment = Augment(self.augment).specs  # validated; "flip,crop:4" is split
        if self.device == "auto":
            self.device = auto_device()
        for spec in dataclasses.fields(self):
            value = getattr(self, spec.name)
            if value is None:
                continue
            if spec.metadata["choices"] is not None:
                check_choice(spec.name.replace("_", " "), value, spec.metadata["choices"])
            if spec.metadata["check"] is not None:
                spec.metadata["check"](spec.name, value)
        if self.task == "detection" and self.monitor == "val_acc":
            self.monitor = "val_map50"  # detection measures no accuracy
        if self.task in RECONSTRUCTION_TASKS and self.monitor == "val_acc":
            # Reconstruction measures no accuracy.  Noise2Void chooses its epoch by its own
            # blind-spot loss on noisy images: a clean-image PSNR would leak clean data.
            self.monitor = "val_loss" if self.task == "noise2void" else "val_psnr"
        if self.holdout_classes is not None and self.task != "embedding":
            raise ConfigError(
                "holdout_classes keeps classes out of training to test one-shot recognition "
                "of them; it is for --task embedding."
            )
        if self.nesterov and (self.optimizer != "sgd" or self.momentum == 0):
            raise ConfigError(
                f"nesterov is a form of SGD's momentum; optimizer {self.optimizer} with momentum "
                f"{self.momentum} would ignore it. Use --optimizer sgd with a momentum > 0, "
                "or drop --nesterov."
            )
        if self.adv_train == "trades" and (self.mixup > 0 or self.cutmix > 0):
            raise ConfigError(
                "TRADES needs hard labels: drop --mixup/--cutmix or use --adv-train pgd."
            )
        if self.pretrained is None and (self.freeze != "none" or self.lr_decay != 1.0):
            raise ConfigError(
                "freeze and lr_decay apply to a pretrained network: give pretrained "
                "(cnnlab finetune RUN ...)."
            )
        if self.pretrained is not None and self.init is not None:
            raise ConfigError("init would overwrite the pretrained weights; give one of the two.")
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

    def data_options(self) -> dict[str, Any]:
        """The keyword arguments of `cnnlab.data.load_data` that fix this run's splits."""
        return {
            "val_fraction": self.val_fraction,
            "test_fraction": self.test_fraction,
            "seed": self.seed,
            "classes": self.classes,
            "per_class": self.per_class,
            "canvas_source": self.canvas_source,
            "holdout_classes": self.holdout_classes,
        }

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def changes(self) -> dict[str, Any]:
        """The fields whose values differ from the defaults (what the report lists)."""
        defaults = TrainConfig().to_dict()
        return {key: value for key, value in self.to_dict().items() if value != defaults[key]}

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
    def from_recipe(cls, name: str, **overrides: Any) -> TrainConfig:
        """The settings of recipe ``name`` (`cnnlab.train.recipes`), then ``overrides``."""
        return cls.from_dict({**get_recipe(name).settings, "recipe": name, **overrides})

    @classmethod
    def from_yaml(cls, path: str | os.PathLike) -> TrainConfig:
        return cls.from_dict(read_yaml_mapping(path, ConfigError, "Config file"))

    def replace(self, **overrides: Any) -> TrainConfig:
        return dataclasses.replace(self, **overrides)


@cache
def _field_kinds() -> dict[str, type]:
    """Each field's annotation reduced to bool, int, float, str, list or dict."""
    kinds = {}
    for name, annotation in typing.get_type_hints(TrainConfig).items():
        if typing.get_origin(annotation) in (typing.Union, types.UnionType):
            (annotation,) = [a for a in typing.get_args(annotation) if a is not type(None)]
        kinds[name] = typing.get_origin(annotation) or annotation
    return kinds


def _typed(name: str, kind: type, value: Any) -> Any:
    """``value`` as the type of field ``name`` (a YAML or Python value), or a
    `ConfigError` that names the field."""
    if kind is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{name} must be true or false, got {value!r}.")
    elif kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{name} must be a whole number, got {value!r}.")
        if abs(value) > INT_MAX:
            raise ConfigError(f"{name} must be at most {INT_MAX}, got {value!r}.")
    elif kind is float:
        if isinstance(value, str):
            try:
                value = parse_number(value)
            except ConfigError as exc:
                raise ConfigError(f"{name}: {exc}") from None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{name} must be a number, got {value!r}.")
        value = float(value)
        if not math.isfinite(value):
            raise ConfigError(f"{name} must be a finite number, got {value!r}.")
    elif kind is str:
        if not isinstance(value, str):
            raise ConfigError(f"{name} must be a string, got {value!r}.")
    elif kind is list:
        if isinstance(value, str):
            value = [item for item in value.split(",") if item]
        if not isinstance(value, (list, tuple)) or not all(
            isinstance(item, (str, int)) and not isinstance(item, bool) for item in value
        ):
            raise ConfigError(f"{name} must be a list of names, got {value!r}.")
        value = [str(item) for item in value]
    elif kind is dict and not (isinstance(value, dict) and all(isinstance(k, str) for k in value)):
        raise ConfigError(f"{name} must be a mapping of names to values, got {value!r}.")
    return value
