"""``cnnlab attack`` beyond one attack at one radius: the accuracy–ε curve and a
universal perturbation, on classification runs.

* ``--eps 0,1/255,2/255,4/255,8/255`` (a list): the robust accuracy of
  ``--method`` at every radius (ε = 0 is the clean accuracy), printed as a
  table, recorded under ``attacks/curve-<method>-<norm>`` and drawn as the
  accuracy–ε curve in the report (`cnnlab.attack.evaluate.accuracy_curve`).
* ``--method universal --eps XI``: one image-agnostic perturbation v with
  ‖v‖ ≤ ξ (Moosavi-Dezfooli et al. 2017, Algorithm 1, DeepFool inside),
  fitted on ``--fit-images`` images of the training split for at most
  ``--steps`` passes, and its fooling rate on the attacked split, recorded
  under ``attacks/universal-<norm>-eps<XI>`` with an example figure; v itself
  is saved as ``RUN/attacks/universal-<norm>-eps<XI>.safetensors`` (key
  ``perturbation``, C×H×W), to add to other images or models
  (`cnnlab.attack.universal`).
"""

from __future__ import annotations

import argparse
import itertools
from typing import Any

from safetensors.torch import save

from cnnlab import runs
from cnnlab.attack.evaluate import accuracy_curve, predict
from cnnlab.attack.registry import create_attack, parse_eps
from cnnlab.attack.universal import fooling_rate, universal_perturbation
from cnnlab.errors import ConfigError, check_choice
from cnnlab.fileio import write_bytes
from cnnlab.report import build_report
from cnnlab.report.attack_figures import plot_accuracy_curves, plot_adversarial_examples
from cnnlab.report.figures import figure_to_png

SECTION = "Attacks"
UNIVERSAL_NORMS = ("linf", "l2")


def is_eps_list(text: str | None) -> bool:
    """Whether ``--eps`` names several radii (``0,2/255,8/255``)."""
    return text is not None and "," in text


def _split_images(run: runs.Run, args: argparse.Namespace, split: str, limit: int):
    """A fixed draw of ``split`` in [0, 1] at the model's input, and its labels (run's indices)."""
    chosen = run.load_split(split, dataset=args.dataset, data_dir=args.data_dir, limit=limit)
    images, _, labels = runs.predict_dataset(
        run.model, chosen.images, run.input_shape, device=args.device
    )
    return images.to(args.device).float() / 255, chosen.class_map[labels].to(args.device)


def curve_command(args: argparse.Namespace) -> int:
    """``--eps A,B,C``: robust accuracy against ε; table, metrics and figure."""
    if args.targeted is not None:
        raise ConfigError("--eps with several radii measures untargeted attacks; drop --targeted.")
    values = [parse_eps(text) for text in args.eps.split(",") if text.strip()]
    if any(b <= a for a, b in itertools.pairwise(values)) or values[0] < 0:
        raise ConfigError(
            f"--eps {args.eps}: give increasing radii from 0 or more, e.g. 0,2/255,4/255,8/255."
        )
    positive = [eps for eps in values if eps > 0]

    def make(eps: float):
        return create_attack(args.method, eps=eps, norm=args.norm, steps=args.steps, seed=args.seed)

    if positive:
        make(positive[0])  # the method's options are checked before the run loads
    run = runs.load_run(args.run)
    model = run.model.to(args.device)
    images, labels = _split_images(run, args, args.split, args.limit)
    accuracies = accuracy_curve(model, make, values, images, labels, batch_size=args.batch_size)
    norm = args.norm or "linf"
    key = f"curve-{args.method}-{norm}" + (f"-steps{args.steps}" if args.steps else "")
    metrics = {
        "method": args.method,
        "norm": norm,
        "steps": args.steps,
        "eps": values,
        "robust_accuracy": accuracies,
        "num_images": len(labels),
        "dataset": args.dataset or run.dataset,
        "split": args.split,
    }
    runs.update_metrics(run.path, ("attacks", key), metrics)
    texts = [text.strip() for text in args.eps.split(",") if text.strip()]
    runs.add_table(
        run.path,
        SECTION,
        key,
        ["ε", *texts],
        [["robust accuracy", *(round(a, 4) for a in accuracies)]],
        caption=f"{args.method} ({norm}) on {len(labels)} images of the {args.split} split; "
        "ε = 0 is the clean accuracy.",
    )
    figure = plot_accuracy_curves({args.method: (values, accuracies)}, xlabel=f"ε ({norm})")
    path = runs.add_figure(run.path, SECTION, f"attack_{key}.png", figure_to_png(figure), key)
    build_report(run.path)
    print(f"attack: {args.method} ({norm}), {len(labels)} images of the {args.split} split")
    print(f"{'ε':>10}  robust accuracy")
    for text, accuracy in zip(texts, accuracies, strict=True):
        print(f"{text:>10}  {accuracy:.4f}")
    print(f"figure: {path}")
    print(f"metrics: {run.path / runs.METRICS} (attacks/{key})")
    return 0


def add_universal_arguments(parser: argparse.ArgumentParser) -> None:
    """``--fit-images`` of ``--method universal``."""
    parser.add_argument(
        "--fit-images",
        type=int,
        default=500,
        help="--method universal: fit the perturbation on N training images (default 500)",
    )


def universal_command(args: argparse.Namespace) -> int:
    """``--method universal``: fit v on training images, measure it on the attacked split."""
    norm = check_choice("norm", args.norm or "linf", UNIVERSAL_NORMS)
    if args.targeted is not None:
        raise ConfigError("A universal perturbation is untargeted; drop --targeted.")
    if args.eps is None or is_eps_list(args.eps):
        raise ConfigError("--method universal needs one radius ξ: give --eps, e.g. --eps 0.1.")
    if args.fit_images < 1:
        raise ConfigError(f"--fit-images must be at least 1, got {args.fit_images}.")
    xi = parse_eps(args.eps)
    passes = 10 if args.steps is None else args.steps
    run = runs.load_run(args.run)
    model = run.model.to(args.device)
    fit_images, _ = _split_images(run, args, "train", args.fit_images)
    images, labels = _split_images(run, args, args.split, args.limit)
    result = universal_perturbation(
        model, fit_images, xi=xi, norm=norm, max_passes=passes, seed=args.seed
    )
    adversarial = result.apply(images)
    clean = predict(model, images, args.batch_size)
    after = predict(model, adversarial, args.batch_size)
    metrics = {
        "method": "universal",
        "norm": norm,
        "eps": xi,
        "passes": result.passes,
        "max_passes": passes,
        "num_fit_images": len(fit_images),
        "fooling_rate_fit": result.fooling_rate,
        "fooling_rate": fooling_rate(model, images, result.perturbation),
        "num_images": len(labels),
        "clean_accuracy": (clean == labels).float().mean().item(),
        "robust_accuracy": (after == labels).float().mean().item(),
        "dataset": args.dataset or run.dataset,
        "split": args.split,
    }
    key = f"universal-{norm}-eps{args.eps.replace('/', '_')}"
    saved = run.path / "attacks" / f"{key}.safetensors"
    write_bytes(saved, save({"perturbation": result.perturbation.cpu().contiguous()}))
    metrics["perturbation_file"] = str(saved.relative_to(run.path))
    runs.update_metrics(run.path, ("attacks", key), metrics)
    if args.examples:
        shown = slice(0, args.examples)
        figure = plot_adversarial_examples(
            images[shown], adversarial[shown], clean[shown].tolist(), after[shown].tolist(),
            run.classes, eps=xi,
        )  # fmt: skip
        path = runs.add_figure(run.path, SECTION, f"attack_{key}.png", figure_to_png(figure), key)
    build_report(run.path)
    _print_universal(key, metrics)
    if args.examples:
        print(f"figure: {path}")
    print(f"metrics: {run.path / runs.METRICS} (attacks/{key})")
    return 0


def _print_universal(key: str, metrics: dict[str, Any]) -> None:
    print(
        f"attack:            {key}  (fitted on {metrics['num_fit_images']} training images, "
        f"{metrics['passes']} passes)"
    )
    print(
        f"fooling rate:      {metrics['fooling_rate']:.4f} on {metrics['num_images']} "
        f"{metrics['split']} images ({metrics['fooling_rate_fit']:.4f} on the fitting ones)"
    )
    print(f"clean accuracy:    {metrics['clean_accuracy']:.4f}")
    print(f"robust accuracy:   {metrics['robust_accuracy']:.4f}")
