"""The commands that take the training flags: ``train``, ``finetune``, ``distill``
and ``lr-find``.

The training flags are generated from `TrainConfig`
(`cnnlab.cli.flags`); a ``--config`` file gives the starting values and
the flags given override them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from cnnlab import Trainer
from cnnlab.cli.evaluate import print_report
from cnnlab.cli.flags import add_field_flag, add_training_flags, overrides
from cnnlab.compose import lr_find
from cnnlab.errors import ConfigError
from cnnlab.models.pretrained import find_weights_file, is_weights_name, pretrained_weights
from cnnlab.models.registry import model_info
from cnnlab.report.figures import save_figure
from cnnlab.report.lr_range import plot_lr_find
from cnnlab.runs import evaluation_finished, read_meta
from cnnlab.train.config import TrainConfig
from cnnlab.train.loggers import LOG_DIR, LOGGERS, Progress, build_loggers

EXIT_INTERRUPTED = 130

#: Training fields the range test does not read: it sets the rate of every step itself
#: (no lr, schedule or warm-up), takes --steps optimizer steps (no epochs), and neither
#: evaluates nor keeps weights (no early stopping, monitored metric or EMA).
LR_FIND_IGNORES = frozenset(
    {
        "epochs",
        "lr",
        "scheduler",
        "warmup_epochs",
        "step_epochs",
        "gamma",
        "ema",
        "early_stopping",
        "monitor",
    }
)


def add_parsers(subparsers: Any) -> None:
    """Add ``train``, ``finetune``, ``distill`` and ``lr-find``."""
    train = subparsers.add_parser("train", help="train a model; writes a run directory")
    _add_run_options(train)
    train.add_argument("--resume", metavar="DIR", help="continue the run in DIR")
    add_training_flags(train)
    train.set_defaults(func=train_command)

    finetune = subparsers.add_parser(
        "finetune",
        help="transfer a trained run, or torchvision's pretrained weights, to a new data set",
    )
    finetune.add_argument(
        "pretrained", metavar="RUN", nargs="?", help="the pretrained run directory"
    )
    transfer = finetune.add_argument_group("transfer")
    transfer.add_argument(
        "--weights",
        metavar="NAME|FILE",
        help="start from these weights of --model instead of a RUN: torchvision's by name "
        "(DEFAULT, IMAGENET1K_V1, ...; looked up in $CNNLAB_WEIGHTS, then "
        "$TORCH_HOME/hub/checkpoints, never downloaded) or a state-dict file",
    )
    add_field_flag(transfer, "freeze", default="partial")
    add_field_flag(transfer, "lr_decay")
    add_field_flag(transfer, "refit_normalization")
    _add_run_options(finetune)
    add_training_flags(finetune)
    finetune.set_defaults(func=finetune_command)

    distill = subparsers.add_parser(
        "distill", help="train a student on a teacher run's soft targets"
    )
    distill.add_argument("teacher", metavar="TEACHER_RUN", help="the teacher's run directory")
    distillation = distill.add_argument_group("distillation")
    add_field_flag(distillation, "distill_temperature", flag="--temperature")
    add_field_flag(distillation, "distill_alpha", flag="--alpha")
    _add_run_options(distill)
    add_training_flags(distill)
    distill.set_defaults(func=distill_command)

    lr_find = subparsers.add_parser(
        "lr-find",
        help="learning-rate range test: suggest a learning rate",
        description=(
            "Train from the initial weights while the learning rate grows geometrically "
            "from --start-lr to --end-lr (Smith 2017, Sec. 3.3); print the suggested rate "
            "and plot the loss against the rate. Takes the model, data, optimizer and "
            "regularization flags of `cnnlab train` (not those of the schedule, the epochs "
            "or the evaluation, which the test does not use); nothing is trained or saved."
        ),
    )
    lr_find.add_argument("--start-lr", type=float, default=1e-7, help="first rate (default 1e-7)")
    lr_find.add_argument("--end-lr", type=float, default=10.0, help="last rate (default 10)")
    lr_find.add_argument("--steps", type=int, default=100, help="optimizer steps (default 100)")
    lr_find.add_argument(
        "--out", metavar="PNG", help="figure path (default lr-find-MODEL-DATASET.png)"
    )
    lr_find.add_argument("--config", metavar="FILE", help="YAML config (flags override it)")
    lr_find.add_argument("--quiet", action="store_true", help="no progress output")
    add_training_flags(lr_find, skip=LR_FIND_IGNORES)
    lr_find.set_defaults(func=lr_find_command)


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    """The options of every command that writes a run directory, besides the training flags."""
    parser.add_argument("--out", help="run directory to create (default runs/MODEL-DATASET-TIME)")
    parser.add_argument("--config", metavar="FILE", help="YAML config (flags override it)")
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    parser.add_argument(
        "--log",
        metavar="LOGGERS",
        type=lambda text: [name.strip() for name in text.split(",") if name.strip()],
        default=[],
        help=f"also log to {', '.join(LOGGERS)} (comma-separated), in RUN/{LOG_DIR}; "
        "tensorboard needs pip install 'cnnlab[tensorboard]'",
    )
    parser.add_argument(
        "--log-histograms",
        action="store_true",
        help="with --log tensorboard: a histogram of every parameter at each epoch",
    )


def _callbacks(args: argparse.Namespace) -> list[Any]:
    """The loggers ``--log`` names, and the progress messages unless ``--quiet``."""
    callbacks = build_loggers(args.log, histograms=args.log_histograms)
    return callbacks if args.quiet else [*callbacks, Progress()]


def _trainer(config: TrainConfig, args: argparse.Namespace) -> Trainer:
    """The Trainer of a new run, saying which data set it loads (large ones take seconds)."""
    callbacks = _callbacks(args)  # a missing optional dependency fails before the data loads
    if not args.quiet:
        print(
            f"device {config.device}; loading the {config.dataset} data set ...",
            file=sys.stderr,
            flush=True,
        )
    return Trainer(config, args.out, quiet=args.quiet, callbacks=callbacks)


def _config(args: argparse.Namespace, inherited: dict[str, Any] | None = None) -> TrainConfig:
    """The ``--config`` file (or the defaults), replaced by what a source run passes on
    (``inherited``), then by the fields the arguments set (`overrides`)."""
    config = TrainConfig.from_yaml(args.config) if args.config else TrainConfig()
    return config.replace(**{**(inherited or {}), **overrides(args)})


def train_command(args: argparse.Namespace) -> int:
    """``cnnlab train``: a new run, or ``--resume DIR`` to continue one."""
    if not args.resume:
        return _fit_and_report(_trainer(_config(args), args))
    given = overrides(args)
    unsupported = sorted(set(given) - {"epochs", "device"})
    if unsupported or args.config:
        flags = ", ".join("--" + k.replace("_", "-") for k in unsupported) or "--config"
        raise ConfigError(
            "--resume continues a run with its own config.yaml; only --epochs and --device "
            f"may change (got {flags})."
        )
    trainer = Trainer.resume(args.resume, quiet=args.quiet, callbacks=_callbacks(args), **given)
    if trainer.epoch >= trainer.config.epochs:
        trainer.release_run_dir()
        if not evaluation_finished(trainer.run_dir):
            raise ConfigError(
                f"{trainer.run_dir} has trained all its {trainer.epoch} epochs, but its final "
                f"evaluation did not finish (interrupted?). Complete it with: "
                f"cnnlab evaluate {trainer.run_dir}"
            )
        raise ConfigError(
            f"{trainer.run_dir} has already trained {trainer.epoch} epochs; pass a larger "
            f"--epochs to continue it."
        )
    return _fit_and_report(trainer)


def finetune_command(args: argparse.Namespace) -> int:
    """``cnnlab finetune``: a trained run's model and weights (or ``--weights`` of
    ``--model``), a new data set, frozen blocks."""
    if (args.pretrained is None) == (args.weights is None):
        raise ConfigError(
            "finetune starts from a run directory (cnnlab finetune RUN ...) or from weights "
            "of a model (cnnlab finetune --model resnet18 --weights DEFAULT ...): give one "
            "of the two."
        )
    if args.weights is None:
        meta = read_meta(args.pretrained)
        config = _config(args, {"model": meta["model"], "model_kwargs": meta["model_kwargs"]})
    else:
        config = _config(args, {"pretrained": args.weights})
        if is_weights_name(args.weights):  # a missing file fails before the data loads
            info = model_info(config.model)
            find_weights_file(pretrained_weights(config.model, info.torchvision, args.weights))
    return _fit_and_report(_trainer(config, args))


def distill_command(args: argparse.Namespace) -> int:
    """``cnnlab distill``: a student (--model) on the soft targets of a trained teacher run."""
    meta = read_meta(args.teacher)
    config = _config(args, {"dataset": meta["dataset"]})
    return _fit_and_report(_trainer(config, args))


def _fit_and_report(trainer) -> int:
    """Train and print the final evaluation, on the test split (the validation split
    without one), that `Trainer.fit` ends with."""
    try:
        run_dir = trainer.fit()
    except KeyboardInterrupt:
        print(
            f"\nInterrupted. The last completed epoch is saved in {trainer.run_dir}.\n"
            f"Resume with: cnnlab train --resume {trainer.run_dir}",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    if not trainer.dist.is_main:  # under torchrun, rank 0 evaluates and reports
        return 0
    if not len(trainer.data.test):
        print("no test split (test_fraction 0): the final report is on the validation split")
    print_report(trainer.final_metrics)
    print(f"run directory: {run_dir}")
    print(f"report: {run_dir / 'report.html'}")
    return 0


def lr_find_command(args: argparse.Namespace) -> int:
    """``cnnlab lr-find``: print the suggested learning rate and plot the loss against it."""
    config = _config(args)
    result = lr_find(config, args.start_lr, args.end_lr, args.steps, quiet=args.quiet)
    out = Path(args.out or f"lr-find-{config.model}-{config.dataset}.png")
    save_figure(plot_lr_find(result), out)
    if len(result.lrs) < args.steps:
        print(f"stopped after {len(result.lrs)} of {args.steps} steps: the loss diverged")
    print(f"suggested learning rate: {result.suggestion:.2e} (steepest descent of the loss)")
    print(f"minimum-loss rate / 10:  {result.min_loss_lr:.2e}")
    print(f"figure: {out}")
    return 0
