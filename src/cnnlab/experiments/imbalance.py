"""Accuracy's pitfall on an imbalanced split (95/5): accuracy against balanced accuracy.

Two classes of a data set are kept, and the second (the minority) is thinned
to ``minority_share`` of each split (train, validation and test alike, so
that the test set has the deployment's prior).  A classifier that always
answers the majority class already scores 1 − share accuracy; the balanced
accuracy (the mean per-class recall, Brodersen et al. 2010) and Cohen's κ
give it 0.5 and 0.  The trained model's per-class recall and the minority
class's precision-recall curve (Davis & Goadrich 2006) show what it actually
does on the rare class.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from sklearn.metrics import accuracy_score, balanced_accuracy_score, cohen_kappa_score, recall_score

from cnnlab import runs
from cnnlab.compose import Trainer
from cnnlab.data import DataSplits, TensorImageDataset, load_data
from cnnlab.errors import ConfigError
from cnnlab.metrics import one_vs_rest_pr_curves
from cnnlab.report import build_report, figure_to_png
from cnnlab.report.figures import plot_pr_curves
from cnnlab.train.config import TrainConfig

SECTION = "Imbalanced classes: accuracy vs balanced accuracy"


def imbalance_experiment(
    out: Path,
    dataset: str = "fashion-mnist",
    data_dir: str | None = None,
    classes: list[str] | None = None,
    minority_share: float = 0.05,
    model: str = "simple_cnn",
    epochs: int = 3,
    seed: int = 0,
) -> dict[str, Any]:
    """Train on the imbalanced split into ``out/run``; compare with the majority baseline."""
    if not 0 < minority_share < 0.5:
        raise ConfigError(f"minority_share must be in (0, 0.5), got {minority_share}.")
    data = _thin(load_data(dataset, data_dir, classes=classes, seed=seed), minority_share, seed)
    config = TrainConfig(
        model=model,
        dataset=dataset,
        data_dir=data_dir,
        classes=data.classes,
        epochs=epochs,
        seed=seed,
    )
    # The run's own final evaluation uses the two classes' full test split; the table
    # below is computed on the thinned test split, which has the 95/5 prior.
    Trainer(config, out / "run", data=data, quiet=True).fit()
    run = runs.load_run(out / "run")
    _, probs, labels = runs.predict_dataset(run.model, data.test, run.input_shape)
    predicted = probs.argmax(1).numpy()
    majority = {
        "accuracy": float((labels == 0).float().mean()),
        "balanced_accuracy": 0.5,
        "cohen_kappa": 0.0,
        "recall": [1.0, 0.0],
    }
    trained = {
        "accuracy": float(accuracy_score(labels.numpy(), predicted)),
        "balanced_accuracy": float(balanced_accuracy_score(labels.numpy(), predicted)),
        "cohen_kappa": float(cohen_kappa_score(labels.numpy(), predicted)),
        "recall": recall_score(labels.numpy(), predicted, average=None, labels=[0, 1]).tolist(),
    }
    counts = {split: _counts(getattr(data, split)) for split in ("train", "val", "test")}
    metrics = {"classes": data.classes, "counts": counts, "majority": majority, "model": trained}
    out.mkdir(parents=True, exist_ok=True)
    runs.update_metrics(out, ("imbalance",), metrics)
    header = ["classifier", "accuracy", "balanced accuracy", "Cohen's κ", *_recalls(data.classes)]
    rows = [
        [name, *(round(r[k], 4) for k in ("accuracy", "balanced_accuracy", "cohen_kappa"))]
        + [round(v, 4) for v in r["recall"]]
        for name, r in (("always the majority class", majority), (model, trained))
    ]
    runs.add_table(
        out,
        SECTION,
        "accuracy_pitfall",
        header,
        rows,
        caption=f"Test set: {counts['test'][0]} {data.classes[0]} and {counts['test'][1]} "
        f"{data.classes[1]} images; the majority baseline's accuracy comes from the prior alone.",
    )
    curve = one_vs_rest_pr_curves(labels.numpy(), probs.numpy(), 2)[1]
    runs.add_figure(
        out,
        SECTION,
        "minority_pr.png",
        figure_to_png(plot_pr_curves([curve], [data.classes[1]])),
        caption=f"Precision-recall curve of the minority class {data.classes[1]!r}.",
    )
    build_report(out)
    return metrics


def _thin(data: DataSplits, share: float, seed: int) -> DataSplits:
    """Keep all of class 0 and share/(1 − share) as many class-1 images, in every split
    (the other classes, when ``classes`` did not choose two, are dropped)."""
    generator = torch.Generator().manual_seed(seed)

    def thin(split):
        major = (split.labels == 0).nonzero().flatten()
        minor = (split.labels == 1).nonzero().flatten()
        keep = max(1, round(len(major) * share / (1 - share)))
        minor = minor[torch.randperm(len(minor), generator=generator)[:keep]]
        kept = split.subset(torch.cat([major, minor]).sort().values)
        return TensorImageDataset(kept.images, kept.labels, kept.classes[:2])

    splits = (thin(data.train), thin(data.val), thin(data.test))
    return DataSplits(data.name, *splits, data.classes[:2])


def _counts(split) -> list[int]:
    return [int((split.labels == c).sum()) for c in (0, 1)]


def _recalls(classes: list[str]) -> list[str]:
    return [f"recall {name}" for name in classes]
