"""A BadNets backdoor planted by data poisoning, and how well two detectors find it.

A share ``rate`` of the training images (drawn from the classes other than
``target``) get a checkerboard patch in their bottom-right corner and the
label ``target`` (Gu, Dolan-Gavitt & Garg 2017, BadNets, arXiv:1708.06733,
Sec. 3-4).  The same model and recipe are trained on the clean and on the
poisoned training set; the table compares their clean test accuracy and the
attack success rate (the share of the other classes' test images that the
trigger turns into ``target``).

The detectors look only at the poisoned training set and the poisoned model:

* spectral signatures (Tran, Li & Madry 2018, NeurIPS, Algorithm 1): the
  ⌈1.5·ε·n⌉ highest scores of each label, ε the target label's poisoned share;
* activation clustering (Chen et al. 2019, arXiv:1811.03728, Sec. 3): PCA of
  each label's penultimate activations to 10 dimensions, 2-means, and the
  smaller cluster of every label whose smaller cluster holds at most 35 % of it.

Their recall (the share of the poisoned images flagged) and precision (the
share of the flagged images that are poisoned) are measured against the
planted poison.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from cnnlab import runs
from cnnlab.attack.clustering import activation_clustering
from cnnlab.attack.evaluate import predict
from cnnlab.attack.poison import (
    Trigger,
    attack_success_rate,
    flag_outliers,
    poison_dataset,
    spectral_signature_scores,
)
from cnnlab.compose import Trainer
from cnnlab.data import DataSplits, load_data
from cnnlab.report import build_report, figure_to_png
from cnnlab.report.attack_figures import plot_adversarial_examples
from cnnlab.train.config import TrainConfig

SECTION = "Backdoor: BadNets poisoning and its detection"


def backdoor_experiment(
    out: Path,
    dataset: str = "digits",
    data_dir: str | None = None,
    rate: float = 0.05,
    target: int = 0,
    model: str = "lenet5_modern",
    epochs: int = 8,
    patch: int | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Train ``model`` on the clean and the poisoned training set into ``out/clean`` and
    ``out/poisoned``; measure the backdoor and the two detectors (module docstring).

    ``patch`` is the trigger's side in pixels, by default max(3, side // 7): 4 on the
    digits (32x32) and on Fashion-MNIST (28x28).
    """
    data = load_data(dataset, data_dir, seed=seed)
    trigger = Trigger("patch", size=patch or max(3, data.input_shape[-1] // 7))
    poisoned_train, chosen = poison_dataset(data.train, trigger, target, rate, seed=seed)
    poisoned = DataSplits(data.name, poisoned_train, data.val, data.test, data.classes)
    config = TrainConfig(model=model, dataset=dataset, data_dir=data_dir, epochs=epochs, seed=seed)
    test_images, test_labels = data.test.images.float() / 255, data.test.labels
    rows, networks = {}, {}
    for name, splits in (("clean", data), ("poisoned", poisoned)):
        Trainer(config, out / name, data=splits, quiet=True).fit()
        network = networks[name] = runs.load_run(out / name).model.eval()
        accuracy = (predict(network, test_images) == test_labels).float().mean().item()
        success = attack_success_rate(network, test_images, test_labels, trigger, target)
        rows[name] = {"clean_accuracy": accuracy, "attack_success_rate": success}
    images, labels = poisoned_train.images.float() / 255, poisoned_train.labels
    is_poisoned = torch.zeros(len(labels), dtype=torch.bool)
    is_poisoned[chosen] = True
    detections = _detections(networks["poisoned"], images, labels, len(chosen), target, seed)
    metrics = {
        "dataset": data.name,
        "target": data.classes[target],
        "rate": rate,
        "poisoned_images": len(chosen),
        "trigger": f"{trigger.size}x{trigger.size} checkerboard patch, bottom-right",
        "models": rows,
        "detection": {name: _scores(flagged, is_poisoned) for name, flagged in detections.items()},
    }
    runs.update_metrics(out, ("backdoor",), metrics)
    _report(out, metrics, data, trigger, networks["poisoned"], test_images, test_labels, target)
    return metrics


def _detections(
    model: torch.nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    poisoned: int,
    target: int,
    seed: int,
) -> dict[str, torch.Tensor]:
    """What each detector flags among the poisoned training images."""
    bound = min(poisoned / (labels == target).sum().item(), 0.5)
    spectral = flag_outliers(spectral_signature_scores(model, images, labels), labels, bound)
    clusters = activation_clustering(model, images, labels, seed=seed)
    return {"spectral_signatures": spectral, "activation_clustering": clusters.flagged()}


def _scores(flagged: torch.Tensor, is_poisoned: torch.Tensor) -> dict[str, Any]:
    caught = int((flagged & is_poisoned).sum())
    count = int(flagged.sum())
    return {
        "flagged": count,
        "poisoned_flagged": caught,
        "recall": caught / int(is_poisoned.sum()),
        "precision": caught / count if count else None,
    }


def _report(out, metrics, data, trigger, model, images, labels, target) -> None:
    rows = [
        [f"{name} training set", round(r["clean_accuracy"], 4), round(r["attack_success_rate"], 4)]
        for name, r in metrics["models"].items()
    ]
    runs.add_table(
        out,
        SECTION,
        "backdoor",
        ["model", "clean test accuracy", "attack success rate"],
        rows,
        caption=f"{metrics['poisoned_images']} training images ({metrics['rate']:.0%}) carry "
        f"the trigger ({metrics['trigger']}) and the label {metrics['target']!r}.",
    )
    detection_rows = [
        [
            name.replace("_", " "),
            d["flagged"],
            d["poisoned_flagged"],
            round(d["recall"], 4),
            None if d["precision"] is None else round(d["precision"], 4),
        ]
        for name, d in metrics["detection"].items()
    ]
    runs.add_table(
        out,
        SECTION,
        "detection",
        ["detector", "images flagged", "poisoned among them", "recall", "precision"],
        detection_rows,
        caption="Spectral signatures: the ⌈1.5·ε·n⌉ highest scores of each label. Activation "
        "clustering: PCA to 10 dimensions, 2-means, labels whose smaller cluster is ≤ 35 %.",
    )
    others = (labels != target).nonzero().flatten()[:8]
    triggered = trigger.apply(images[others])
    figure = plot_adversarial_examples(
        images[others],
        triggered,
        predict(model, images[others]).tolist(),
        predict(model, triggered).tolist(),
        data.classes,
    )
    runs.add_figure(
        out,
        SECTION,
        "backdoor_examples.png",
        figure_to_png(figure),
        caption="Test images, the trigger, and the poisoned model's prediction with it.",
    )
    build_report(out)
