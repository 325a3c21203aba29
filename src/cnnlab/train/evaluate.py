"""Evaluating a run: predictions over a split, class mapping, metrics and figures.

``evaluate_run`` is what ``cnnlab evaluate`` and the end of ``cnnlab train``
call: it writes ``metrics.json``, the confusion-matrix figures, the gallery of
the most confidently misclassified images, and rebuilds ``report.html``.
``evaluate_ensemble`` averages the probabilities of several runs (model
averaging, Krizhevsky et al. 2012, Sec. 6: five CNNs averaged cut the top-5
error from 18.2 % to 16.4 %).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from cnnlab import runs
from cnnlab.data import load_data, make_loader
from cnnlab.errors import DataError
from cnnlab.fileio import update_json
from cnnlab.metrics import classification_report
from cnnlab.report import build_report
from cnnlab.report.figures import (
    plot_confusion_matrix,
    plot_learning_curves,
    plot_misclassified,
    save_figure,
)
from cnnlab.train.tta import tta_probabilities

SPLITS = ("train", "val", "test")


def fit_to_input(images: torch.Tensor, input_shape: tuple[int, int, int]) -> torch.Tensor:
    """Convert a batch in [0, 1] to the model's channels and size.

    Grey → RGB repeats the channel, RGB → grey takes the ITU-R BT.601 luma;
    a different size is resized bilinearly (with antialiasing when shrinking).
    """
    channels, height, width = input_shape
    if images.shape[1] != channels:
        if images.shape[1] == 1:
            images = images.expand(-1, channels, -1, -1)
        elif images.shape[1] == 3 and channels == 1:
            luma = torch.tensor([0.299, 0.587, 0.114], device=images.device)
            images = (images * luma[:, None, None]).sum(1, keepdim=True)
        else:
            raise DataError(
                f"Cannot convert {images.shape[1]}-channel images to the model's {channels} "
                "channels; give images with 1 or 3 channels."
            )
    if images.shape[-2:] != (height, width):
        images = F.interpolate(
            images, size=(height, width), mode="bilinear", align_corners=False, antialias=True
        )
    return images


def class_index_map(model_classes: list[str], data_classes: list[str]) -> torch.Tensor:
    """For each data-set label, the index of the class with the same name in the model."""
    missing = [name for name in data_classes if name not in model_classes]
    if missing:
        raise DataError(
            f"The data set has classes the model was not trained on: {missing}. The model "
            f"knows {model_classes}. Evaluate on a data set whose class names are a subset "
            "of the model's."
        )
    return torch.tensor([model_classes.index(name) for name in data_classes])


@torch.inference_mode()
def predict_dataset(
    model: nn.Module,
    dataset,
    input_shape: tuple[int, int, int],
    batch_size: int = 512,
    device: str | torch.device = "cpu",
    tta: str | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Return (images, probabilities, labels) of ``model`` on every image of ``dataset``.

    ``tta`` averages the probabilities over test-time views (see :mod:`cnnlab.train.tta`).
    """
    model.eval()
    images, probs, labels = [], [], []
    for x, y in make_loader(dataset, batch_size, shuffle=False, device=device):
        x = fit_to_input(x, input_shape)
        probs.append(tta_probabilities(model, x, tta).cpu())
        images.append((x * 255).round().to(torch.uint8).cpu())
        labels.append(y.cpu())
    return torch.cat(images), torch.cat(probs), torch.cat(labels)


def evaluate_run(
    run_dir: str | os.PathLike,
    *,
    dataset: str | None = None,
    data_dir: str | None = None,
    split: str = "test",
    device: str = "cpu",
    tta: str | None = None,
) -> dict[str, Any]:
    """Evaluate the best weights of ``run_dir`` on ``split``; write metrics, figures, report.

    With ``tta`` the results are stored under ``"<split>+tta-<mode>"`` in metrics.json.
    """
    run = runs.load_run(run_dir)
    name = dataset or run.config.dataset
    images, probs, labels = _predict_split(run, dataset, data_dir, split, device, tta)
    report = classification_report(labels, probs.argmax(1), scores=probs, class_names=run.classes)
    report.update({"dataset": name, "split": split, "num_images": len(labels), "tta": tta})
    key = split if name == run.config.dataset else f"{name}/{split}"
    update_json(run.path / runs.METRICS, (key + (f"+tta-{tta}" if tta else ""),), report)
    _write_figures(run.path, report, images, probs, labels, run.classes)
    build_report(run.path)
    return report


def evaluate_ensemble(
    run_dirs: list[str | os.PathLike],
    *,
    dataset: str | None = None,
    data_dir: str | None = None,
    split: str = "test",
    device: str = "cpu",
    tta: str | None = None,
) -> dict[str, Any]:
    """Average the class probabilities of several runs on ``split``; writes nothing.

    The runs must know the same classes; the data set (by default the first
    run's) is resized to each model's input.  The report adds each member's
    own accuracy under ``"members"`` (a list of ``{"run", "accuracy"}``).
    """
    members = [runs.load_run(path) for path in run_dirs]
    classes = members[0].classes
    for run in members[1:]:
        if run.classes != classes:
            raise DataError(
                f"{run.path} predicts {run.classes} but {members[0].path} predicts {classes}; "
                "an ensemble needs runs trained on the same classes in the same order."
            )
    total, accuracies = None, []
    for run in members:
        source = dataset or members[0].config.dataset
        directory = data_dir or (None if dataset else members[0].config.data_dir)
        _, probs, labels = _predict_split(run, source, directory, split, device, tta)
        accuracy = float((probs.argmax(1) == labels).float().mean())
        accuracies.append({"run": str(run.path), "accuracy": accuracy})
        total = probs if total is None else total + probs
    probs = total / len(members)
    report = classification_report(labels, probs.argmax(1), scores=probs, class_names=classes)
    report.update({"split": split, "num_images": len(labels), "tta": tta, "members": accuracies})
    return report


def _predict_split(run, dataset, data_dir, split, device, tta):
    """(images, probabilities, labels in the model's class indices) of ``run`` on ``split``."""
    if split not in SPLITS:
        raise DataError(f"Unknown split {split!r}; choose one of {', '.join(SPLITS)}.")
    config = run.config
    own = dataset is None or dataset == config.dataset
    options = config.data_options()
    if not own:  # another data set: all of its split, whatever this run selected
        options.update(classes=None, per_class=None, test_fraction=None)
    data = load_data(
        dataset or config.dataset, (data_dir or config.data_dir) if own else data_dir, **options
    )
    if len(getattr(data, split)) == 0:
        raise DataError(
            f"The {split} split of {data.name} is empty for this run (test_fraction "
            f"{config.test_fraction}, val_fraction {config.val_fraction}); evaluate another "
            "split (--split val) or another data set (--dataset ... --data-dir ...)."
        )
    mapping = class_index_map(run.classes, data.classes)
    images, probs, labels = predict_dataset(
        run.model.to(device), getattr(data, split), run.input_shape, device=device, tta=tta
    )
    return images, probs, mapping[labels]


def _write_figures(
    run_dir: Path,
    report: dict[str, Any],
    images: torch.Tensor,
    probs: torch.Tensor,
    labels: torch.Tensor,
    classes: list[str],
) -> None:
    figures = run_dir / runs.FIGURES
    history = runs.read_history(run_dir)
    if history:
        save_figure(plot_learning_curves(history), figures / "learning_curves.png")
    cm = report["confusion_matrix"]
    save_figure(plot_confusion_matrix(cm, classes), figures / "confusion_matrix.png")
    save_figure(
        plot_confusion_matrix(cm, classes, normalize=True),
        figures / "confusion_matrix_normalized.png",
    )
    wrong = (probs.argmax(1) != labels).nonzero().flatten()
    if len(wrong):
        confidence = probs[wrong].max(1).values
        worst = wrong[confidence.argsort(descending=True)[:16]]
        top_probs, top_idx = probs[worst].topk(min(3, probs.shape[1]), dim=1)
        save_figure(
            plot_misclassified(
                images[worst].float() / 255, labels[worst], top_idx, top_probs, classes
            ),
            figures / "misclassified.png",
        )
