"""Evaluating a classification run: metrics and figures of its predictions on a split.

``evaluate_run`` is what ``cnnlab evaluate`` and the end of ``cnnlab train``
call: it writes ``metrics.json``, the confusion-matrix figures, precision and
recall against the decision threshold, the gallery of the most confidently
misclassified images, and rebuilds ``report.html``.  Besides
`classification_report`'s metrics it records the
balanced accuracy (the mean per-class recall, Brodersen et al. 2010), which
an imbalanced test set cannot inflate, and Cohen's κ (Cohen 1960): the
agreement with the true labels beyond what chance would give,
κ = (p_o − p_e)/(1 − p_e), both from scikit-learn.
``evaluate_ensemble`` averages the probabilities of several runs (model
averaging, Krizhevsky et al. 2012, Sec. 6: five CNNs averaged cut the top-5
error from 18.2 % to 16.4 %) and writes them into an ensemble folder of their own.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from sklearn.metrics import balanced_accuracy_score, cohen_kappa_score

from cnnlab import runs
from cnnlab.errors import DataError
from cnnlab.metrics import classification_report, one_vs_rest_pr_curves
from cnnlab.report import build_report, figure_to_png
from cnnlab.report.figures import plot_confusion_matrix, plot_misclassified, save_figure
from cnnlab.report.threshold_figures import plot_precision_recall_vs_threshold

THRESHOLD_FIGURE = "precision_recall_threshold.png"


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
    report = _report(labels, probs, run.classes)
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
    out: str | os.PathLike | None = None,
) -> dict[str, Any]:
    """Average the class probabilities of several runs on ``split``.

    The runs must know the same classes; the data set (by default the first
    run's) is resized to each model's input.  The report adds each member's
    own accuracy under ``"members"`` (a list of ``{"run", "accuracy"}``).
    With ``out`` it is written into that folder as a run-like directory:
    ``metrics.json``, the evaluation figures, a members table and ``report.html``.
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
        images, probs, labels = _predict_split(run, source, directory, split, device, tta)
        accuracy = float((probs.argmax(1) == labels).float().mean())
        accuracies.append({"run": str(run.path), "accuracy": accuracy})
        total = probs if total is None else total + probs
    probs = total / len(members)
    report = _report(labels, probs, classes)
    report.update({"split": split, "num_images": len(labels), "tta": tta, "members": accuracies})
    if out is not None:
        _write_ensemble(Path(out), report, images, probs, labels, classes)
    return report


def _report(labels: torch.Tensor, probs: torch.Tensor, classes: list[str]) -> dict[str, Any]:
    """classification_report plus the balanced accuracy and Cohen's κ (scikit-learn)."""
    predicted = probs.argmax(1)
    report = classification_report(labels, predicted, scores=probs, class_names=classes)
    report["balanced_accuracy"] = float(balanced_accuracy_score(labels.numpy(), predicted.numpy()))
    report["cohen_kappa"] = float(cohen_kappa_score(labels.numpy(), predicted.numpy()))
    return report


def _write_ensemble(
    folder: Path,
    report: dict[str, Any],
    images: torch.Tensor,
    probs: torch.Tensor,
    labels: torch.Tensor,
    classes: list[str],
) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    runs.update_metrics(folder, (report["split"],), report)
    _write_figures(folder, report, images, probs, labels, classes)
    rows = [[member["run"], member["accuracy"]] for member in report["members"]]
    rows.append([f"ensemble of {len(rows)} (probabilities averaged)", report["accuracy"]])
    runs.add_table(
        folder,
        "Ensemble",
        "members",
        ["run", "accuracy"],
        rows,
        caption="Each member's own accuracy on the split, and the ensemble's.",
    )
    build_report(folder)


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
    curves = one_vs_rest_pr_curves(labels.numpy(), probs.numpy(), len(classes))
    runs.add_figure(
        run_dir,
        "Precision and recall against the threshold",
        THRESHOLD_FIGURE,
        figure_to_png(plot_precision_recall_vs_threshold(curves, classes)),
        caption="A sample counts as class c when its probability of c is at least the "
        "threshold (one vs rest); the black line is the mean over the classes.",
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
