"""Evaluating a classification run: metrics and figures of its predictions on a split.

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

from cnnlab import runs
from cnnlab.errors import DataError
from cnnlab.metrics import classification_report
from cnnlab.report import build_report
from cnnlab.report.figures import plot_confusion_matrix, plot_misclassified, save_figure


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
    name = dataset or run.dataset
    images, probs, labels = _predict_split(run, dataset, data_dir, split, device, tta)
    report = classification_report(labels, probs.argmax(1), scores=probs, class_names=run.classes)
    report.update({"dataset": name, "split": split, "num_images": len(labels), "tta": tta})
    key = split if name == run.dataset else f"{name}/{split}"
    runs.update_metrics(run.path, (key + (f"+tta-{tta}" if tta else ""),), report)
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
        source = dataset or members[0].dataset
        directory = data_dir or (None if dataset else members[0].config.get("data_dir"))
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
    chosen = run.load_split(split, dataset=dataset, data_dir=data_dir)
    images, probs, labels = runs.predict_dataset(
        run.model.to(device),
        chosen.images,
        run.input_shape,
        device=device,
        tta=tta,
        augment=run.config.get("augment") or [],
    )
    return images, probs, chosen.class_map[labels]


def _write_figures(
    run_dir: Path,
    report: dict[str, Any],
    images: torch.Tensor,
    probs: torch.Tensor,
    labels: torch.Tensor,
    classes: list[str],
) -> None:
    figures = run_dir / runs.FIGURES
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
