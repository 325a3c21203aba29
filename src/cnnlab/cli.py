"""The ``cnnlab`` command line: one small function per subcommand, calling the API.

Errors a user can cause (:class:`~cnnlab.errors.CnnlabError`) are printed as
one paragraph without a traceback, with exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

from cnnlab.errors import CnnlabError, ConfigError

EXIT_ERROR, EXIT_INTERRUPTED = 2, 130


def _train(args: argparse.Namespace) -> int:
    from cnnlab.train.config import TrainConfig
    from cnnlab.train.trainer import Trainer

    overrides = training_overrides(args)
    if args.resume:
        unsupported = sorted(set(overrides) - {"epochs", "device"})
        if unsupported or args.config:
            given = ", ".join("--" + k.replace("_", "-") for k in unsupported) or "--config"
            raise ConfigError(
                "--resume continues a run with its own config.yaml; only --epochs and --device "
                f"may change (got {given})."
            )
        trainer = Trainer.resume(args.resume, quiet=args.quiet, **overrides)
        _check_resume_needed(trainer)
    else:
        config = TrainConfig.from_yaml(args.config) if args.config else TrainConfig()
        trainer = Trainer(config.replace(**overrides), args.out, quiet=args.quiet)
    return _fit_and_report(trainer)


def _finetune(args: argparse.Namespace) -> int:
    """Start from a trained run: its model and weights, a new data set, frozen blocks."""
    from cnnlab.runs import read_meta
    from cnnlab.train.config import TrainConfig
    from cnnlab.train.trainer import Trainer

    meta = read_meta(args.run)
    overrides = training_overrides(args)
    overrides.setdefault("model", meta["model"])
    overrides.setdefault("model_kwargs", meta["model_kwargs"])
    overrides.update(pretrained=args.run, freeze=args.freeze, lr_decay=args.lr_decay)
    config = TrainConfig.from_yaml(args.config) if args.config else TrainConfig()
    return _fit_and_report(Trainer(config.replace(**overrides), args.out, quiet=args.quiet))


def _distill(args: argparse.Namespace) -> int:
    """Train a student (--model) on the soft targets of a trained teacher run."""
    from cnnlab.runs import read_meta
    from cnnlab.train.config import TrainConfig
    from cnnlab.train.trainer import Trainer

    meta = read_meta(args.teacher)
    overrides = training_overrides(args)
    overrides.setdefault("dataset", meta["dataset"])
    overrides.update(
        teacher=args.teacher, distill_temperature=args.temperature, distill_alpha=args.alpha
    )
    config = TrainConfig.from_yaml(args.config) if args.config else TrainConfig()
    return _fit_and_report(Trainer(config.replace(**overrides), args.out, quiet=args.quiet))


def _fit_and_report(trainer) -> int:
    from cnnlab.train.evaluate import evaluate_run

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
    split = "test" if len(trainer.data.test) else "val"
    if split == "val":
        print("no test split (test_fraction 0): the final report is on the validation split")
    report = evaluate_run(run_dir, split=split, device=trainer.config.device)
    _print_report(report)
    print(f"run directory: {run_dir}")
    print(f"report: {run_dir / 'report.html'}")
    return 0


def _check_resume_needed(trainer) -> None:
    if trainer.epoch >= trainer.config.epochs:
        raise ConfigError(
            f"{trainer.run_dir} has already trained {trainer.epoch} epochs; pass a larger "
            f"--epochs to continue it."
        )


def training_overrides(args: argparse.Namespace) -> dict[str, Any]:
    names = [
        "model",
        "dataset",
        "data_dir",
        "epochs",
        "batch_size",
        "lr",
        "optimizer",
        "seed",
        "scheduler",
        "weight_decay",
        "momentum",
        "label_smoothing",
        "grad_clip",
        "early_stopping",
        "val_fraction",
        "test_fraction",
        "normalization",
        "warmup_epochs",
        "step_epochs",
        "gamma",
        "device",
        "mixup",
        "cutmix",
        "l1",
        "max_norm",
        "ema",
        "accumulate",
        "sam",
        "precision",
        "init",
        "per_class",
        "adv_train",
        "adv_steps",
        "trades_beta",
    ]
    overrides = {n: getattr(args, n) for n in names if getattr(args, n) is not None}
    if args.nesterov:
        overrides["nesterov"] = True
    if args.no_bias_decay:
        overrides["no_bias_decay"] = True
    if args.no_channels_last:
        overrides["channels_last"] = False
    if args.download:
        overrides["download"] = True
    if args.eps is not None:
        from cnnlab.attack.registry import parse_eps

        overrides["adv_eps"] = parse_eps(args.eps)
    if args.compile:
        overrides["compile"] = True
    if args.classes is not None:
        overrides["classes"] = [name for name in args.classes.split(",") if name]
    if args.augment is not None:
        overrides["augment"] = args.augment  # TrainConfig splits "flip,crop:4"
    if args.model_arg:
        overrides["model_kwargs"] = dict(parse_key_value(kv) for kv in args.model_arg)
    return overrides


def parse_key_value(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise ConfigError(f"--model-arg expects KEY=VALUE, got {text!r}.")
    return key, yaml.safe_load(value)


def _evaluate(args: argparse.Namespace) -> int:
    from cnnlab.train.evaluate import evaluate_ensemble, evaluate_run

    options = dict(
        dataset=args.dataset,
        data_dir=args.data_dir,
        split=args.split,
        device=args.device,
        tta=args.tta,
    )
    if len(args.runs) == 1:
        _print_report(evaluate_run(args.runs[0], **options))
        print(f"metrics: {Path(args.runs[0]) / 'metrics.json'}")
        return 0
    report = evaluate_ensemble(args.runs, **options)
    for member in report["members"]:
        print(f"member {member['run']}: accuracy {member['accuracy']:.4f}")
    print(f"ensemble of {len(args.runs)} runs (probabilities averaged):")
    _print_report(report)
    return 0


def _print_report(report: dict[str, Any]) -> None:
    from cnnlab.metrics import format_classification_report

    print(format_classification_report(report))


def _predict(args: argparse.Namespace) -> int:
    import torch

    from cnnlab.data import load_image
    from cnnlab.runs import load_run

    run = load_run(args.run)
    channels, height, width = run.input_shape
    images = torch.stack([load_image(p, channels, (height, width)) for p in args.images])
    probs = run.predict_proba(images)
    k = min(args.top_k, len(run.classes))
    for path, row in zip(args.images, probs, strict=True):
        top = row.topk(k)
        ranked = ", ".join(
            f"{run.classes[i]} {p:.3f}" for p, i in zip(top.values, top.indices, strict=True)
        )
        print(f"{path}: {ranked}")
    return 0


def _summary(args: argparse.Namespace) -> int:
    from cnnlab.models.registry import create_model_for_input
    from cnnlab.models.summary import format_layer_table, layer_table

    shape = parse_shape(args.input)
    model = create_model_for_input(args.model, args.num_classes, shape)
    print(format_layer_table(layer_table(model, shape)))
    return 0


def parse_shape(text: str) -> tuple[int, int, int]:
    try:
        channels, height, width = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ConfigError(f"--input expects CxHxW such as 3x224x224, got {text!r}.") from None
    if min(channels, height, width) < 1:
        raise ConfigError(f"--input dimensions must be positive, got {text!r}.")
    return channels, height, width


def _models(args: argparse.Namespace) -> int:
    from cnnlab.models import list_models, model_description

    for name in list_models():
        print(f"{name:<24} {model_description(name)}")
    return 0


def _datasets(args: argparse.Namespace) -> int:
    from cnnlab.data import list_datasets

    for name, description in list_datasets():
        print(f"{name:<16} {description}")
    return 0


def _augment(args: argparse.Namespace) -> int:
    import torch

    from cnnlab.data import load_data
    from cnnlab.data.mixing import mix_batch
    from cnnlab.data.transforms import Augment, Samples, training_images
    from cnnlab.report.figures import image_grid, save_figure

    augment = Augment(args.augment)
    data = load_data(args.dataset, data_dir=args.data_dir)
    generator = torch.Generator().manual_seed(args.seed)
    picks = torch.randperm(len(data.train), generator=generator)[: args.count]
    originals = torch.stack([data.train[int(i)][0] for i in picks]).float() / 255
    labels = torch.tensor([data.train[int(i)][1] for i in picks])
    if augment.lighting_std is not None:
        augment.fit(training_images(data.train))
    rows, titles = [originals], [data.classes[int(y)] for y in labels]
    for row in range(args.rows):  # row r as epoch r would show it (for alternating_flip)
        images, targets = augment(originals, generator, Samples(picks, row, args.seed)), None
        if args.mixup > 0 or args.cutmix > 0:
            images, targets = mix_batch(
                images, labels, len(data.classes), generator, args.mixup, args.cutmix
            )
        rows.append(images)
        titles += _target_titles(targets, labels, data.classes)
    out = Path(args.out or f"augment-{args.dataset}.png")
    save_figure(image_grid(torch.cat(rows), titles, ncols=len(originals)), out)
    print(f"first row: originals; {args.rows} augmented rows: {', '.join(augment.specs)}")
    print(f"figure: {out}")
    return 0


def _target_titles(targets, labels, classes: list[str]) -> list[str]:
    """Each image's class, or its two largest mixed target weights."""
    if targets is None:
        return [classes[int(y)] for y in labels]
    top = targets.topk(min(2, targets.shape[1]), dim=1)
    return [
        "\n".join(f"{classes[int(i)]} {w:.2f}" for w, i in zip(ws, ids, strict=True) if w > 0)
        for ws, ids in zip(top.values, top.indices, strict=True)
    ]


def _report(args: argparse.Namespace) -> int:
    from cnnlab.report import build_report
    from cnnlab.runs import read_meta

    read_meta(args.run)
    print(build_report(args.run))
    return 0


def add_training_flags(parser: argparse.ArgumentParser) -> None:
    """The model, data and optimization flags of every command that trains."""
    parser.add_argument("--model", help="model name (see `cnnlab models`; default lenet5)")
    parser.add_argument(
        "--model-arg",
        action="append",
        metavar="KEY=VALUE",
        help="model option, e.g. bn=true (repeatable)",
    )
    parser.add_argument("--dataset", help="data set name (see `cnnlab datasets`; default digits)")
    parser.add_argument("--classes", metavar="LIST", help="train on these classes only (a,b,c)")
    parser.add_argument(
        "--per-class", type=int, metavar="N", help="labelled images per class (train + val)"
    )
    parser.add_argument("--data-dir", help="where the data set's files are")
    parser.add_argument("--download", action="store_true", help="download missing data files")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--lr", type=float, help="(peak) learning rate")
    parser.add_argument("--optimizer", help="sgd, adagrad, adadelta, rmsprop, adam, adamw")
    parser.add_argument("--momentum", type=float)
    parser.add_argument("--nesterov", action="store_true")
    parser.add_argument("--weight-decay", type=float)
    parser.add_argument(
        "--no-bias-decay",
        action="store_true",
        help="no weight decay on biases and normalization parameters",
    )
    parser.add_argument("--scheduler", help="constant, step, cosine, linear, onecycle, plateau")
    parser.add_argument("--warmup-epochs", type=float)
    parser.add_argument(
        "--step-epochs", type=int, help="scheduler step: decay the rate every N epochs"
    )
    parser.add_argument(
        "--gamma", type=float, help="decay factor of the step and plateau schedules"
    )
    parser.add_argument("--label-smoothing", type=float)
    parser.add_argument("--grad-clip", type=float, help="clip the gradient norm to this value")
    parser.add_argument(
        "--early-stopping",
        type=int,
        metavar="PATIENCE",
        help="stop after this many epochs without improvement",
    )
    parser.add_argument("--val-fraction", type=float)
    parser.add_argument(
        "--test-fraction",
        type=float,
        help="share of each class held out as the test set where the data set has no "
        "official one (digits, imagefolder; default 0.2, 0 for none)",
    )
    parser.add_argument("--normalization", help="channel (mean/std), image (mean image), none")
    parser.add_argument(
        "--augment", metavar="LIST", help="batched augmentations, e.g. flip,crop:4 ('' for none)"
    )
    parser.add_argument("--l1", type=float, help="L1 penalty on conv/linear weights")
    parser.add_argument("--max-norm", type=float, help="max-norm constraint per unit")
    parser.add_argument("--ema", type=float, metavar="DECAY", help="average weights, e.g. 0.999")
    parser.add_argument("--accumulate", type=int, metavar="N", help="batches per optimizer step")
    parser.add_argument(
        "--sam",
        type=float,
        metavar="RHO",
        help="sharpness-aware minimization with radius ρ, e.g. 0.05 (two passes per step)",
    )
    parser.add_argument("--precision", choices=("fp32", "bf16", "fp16"))
    parser.add_argument("--compile", action="store_true", help="torch.compile the model")
    parser.add_argument(
        "--init",
        help="normal, xavier_uniform, xavier_normal, kaiming_uniform, kaiming_normal, "
        "orthogonal, lsuv",
    )
    parser.add_argument(
        "--adv-train",
        choices=("none", "fgsm-rs", "pgd", "trades"),
        help="adversarial training (Wong FGSM-RS, Madry PGD-AT, TRADES)",
    )
    parser.add_argument("--eps", help="adversarial training radius, e.g. 0.1 or 8/255")
    parser.add_argument("--adv-steps", type=int, help="steps of the training attack")
    parser.add_argument("--trades-beta", type=float)
    parser.add_argument("--mixup", type=float, metavar="ALPHA", help="Mixup with Beta(α, α)")
    parser.add_argument("--cutmix", type=float, metavar="ALPHA", help="CutMix with Beta(α, α)")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--device")
    parser.add_argument(
        "--no-channels-last",
        action="store_true",
        help="keep NCHW memory layout (default: channels-last, faster on CPU)",
    )
    parser.add_argument("--out", help="run directory to create (default runs/MODEL-DATASET-TIME)")
    parser.add_argument("--config", metavar="FILE", help="YAML config (flags override it)")
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    _show_config_defaults(parser)


def _show_config_defaults(parser: argparse.ArgumentParser) -> None:
    """Append ``TrainConfig``'s default to the help of each flag that sets one of its fields.

    Read from the dataclass itself, so that ``--help`` cannot drift from the code.
    """
    from cnnlab.train.config import TrainConfig

    defaults = TrainConfig().to_dict()
    for action in parser._actions:  # argparse has no public list of a parser's actions
        value = defaults.get(action.dest)
        if value is None or isinstance(value, bool) or "default" in (action.help or ""):
            continue
        shown = (",".join(value) or "none") if isinstance(value, list) else value
        action.help = f"{action.help} (default: {shown})" if action.help else f"default: {shown}"


def build_parser() -> argparse.ArgumentParser:
    from cnnlab.attack.cli import add_parser as add_attack_parser
    from cnnlab.explain.cli import add_parser as add_explain_parser
    from cnnlab.nas.cli import add_parser as add_nas_parser
    from cnnlab.train.diagnose_cli import add_parser as add_diagnose_parser
    from cnnlab.train.lr_find_cli import add_parser as add_lr_find_parser

    parser = argparse.ArgumentParser(
        prog="cnnlab", description="Convolutional neural networks: train, evaluate, explain."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = sub.add_parser("train", help="train a model; writes a run directory")
    add_training_flags(train)
    train.add_argument("--resume", metavar="DIR", help="continue the run in DIR")
    train.set_defaults(func=_train)

    finetune = sub.add_parser("finetune", help="transfer a trained run to a new data set")
    finetune.add_argument("run", metavar="RUN", help="the pretrained run directory")
    add_training_flags(finetune)
    finetune.add_argument(
        "--freeze",
        default="partial",
        choices=("features", "partial", "none"),
        help="features: train the head only; partial: last block + head; none: everything",
    )
    finetune.add_argument(
        "--lr-decay", type=float, default=1.0, help="block k from the top trains at lr/decay^k"
    )
    finetune.set_defaults(func=_finetune)

    distill = sub.add_parser("distill", help="train a student on a teacher run's soft targets")
    distill.add_argument("teacher", metavar="TEACHER_RUN")
    add_training_flags(distill)
    distill.add_argument("--temperature", type=float, default=4.0)
    distill.add_argument("--alpha", type=float, default=0.9, help="weight of the teacher term")
    distill.set_defaults(func=_distill)

    evaluate = sub.add_parser(
        "evaluate", help="evaluate a run (several runs: their averaged ensemble) on a split"
    )
    evaluate.add_argument("runs", nargs="+", metavar="RUN")
    evaluate.add_argument("--dataset", help="evaluate on another data set (classes by name)")
    evaluate.add_argument("--data-dir")
    evaluate.add_argument("--split", default="test", choices=("train", "val", "test"))
    evaluate.add_argument("--device", default="cpu")
    evaluate.add_argument("--tta", choices=("flip", "crops"), help="test-time augmentation")
    evaluate.set_defaults(func=_evaluate)

    predict = sub.add_parser("predict", help="top-k classes for image files")
    predict.add_argument("run")
    predict.add_argument("images", nargs="+", metavar="IMAGE")
    predict.add_argument("--top-k", type=int, default=5)
    predict.set_defaults(func=_predict)

    summary = sub.add_parser("summary", help="layer table of a model")
    summary.add_argument("model")
    summary.add_argument("--input", default="1x32x32", metavar="CxHxW")
    summary.add_argument("--num-classes", type=int, default=10)
    summary.set_defaults(func=_summary)

    sub.add_parser("models", help="list the models").set_defaults(func=_models)
    sub.add_parser("datasets", help="list the data sets").set_defaults(func=_datasets)

    augment = sub.add_parser("augment", help="show augmented training examples")
    augment.add_argument("--dataset", default="digits")
    augment.add_argument("--data-dir")
    augment.add_argument("--augment", default="flip,crop:4", metavar="LIST")
    augment.add_argument("--mixup", type=float, default=0.0, metavar="ALPHA")
    augment.add_argument("--cutmix", type=float, default=0.0, metavar="ALPHA")
    augment.add_argument("--show", action="store_true", help="write the grid figure (default)")
    augment.add_argument("--count", type=int, default=8, help="images per row")
    augment.add_argument("--rows", type=int, default=3, help="augmented rows")
    augment.add_argument("--seed", type=int, default=0)
    augment.add_argument("--out", help="PNG path (default augment-DATASET.png)")
    augment.set_defaults(func=_augment)

    report = sub.add_parser("report", help="rebuild a run's report.html")
    report.add_argument("run")
    report.set_defaults(func=_report)
    add_explain_parser(sub)
    add_attack_parser(sub)
    add_lr_find_parser(sub)
    add_diagnose_parser(sub)
    add_nas_parser(sub)
    return parser


def _take_trailing_images(
    parser: argparse.ArgumentParser, args: argparse.Namespace, extra: list[str]
) -> None:
    """Let image paths follow the options (``cnnlab explain RUN --method saliency a.png``).

    argparse sub-commands cannot interleave a variable-length positional with
    options, so the paths it leaves over are appended to ``args.images`` for the
    commands that take images; anything else left over is an error, as usual.
    """
    if isinstance(getattr(args, "images", None), list):
        args.images.extend(item for item in extra if not item.startswith("-"))
        extra = [item for item in extra if item.startswith("-")]
    if extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit status."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    _take_trailing_images(parser, args, extra)
    try:
        return args.func(args)
    except CnnlabError as exc:
        print(f"cnnlab {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
