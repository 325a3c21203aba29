"""ReLU against tanh: Krizhevsky, Sutskever & Hinton (2012), Sec. 3.1 and Fig. 1.

"A four-layer convolutional neural network with ReLUs (solid line) reaches a
25% training error rate on CIFAR-10 six times faster than an equivalent
network with tanh neurons (dashed line)", with no regularization or
normalization and each network's learning rate chosen for speed.  Here the
four layers are three 5x5 convolutions (``simple_cnn`` with ``bn=False``,
each followed by 2x2 max pooling) and a linear classifier after global
average pooling, trained from the same initialisation seed with SGD and
momentum 0.9, no augmentation and no weight decay.  The training error is
the running error of each epoch, as the paper's curve; the result is the
first epoch whose training error is at most ``target_error``, and the ratio
tanh/ReLU of those epochs is compared with the paper's six.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from cnnlab import runs
from cnnlab.compose import Trainer
from cnnlab.report import build_report, figure_to_png
from cnnlab.report.figures import new_figure
from cnnlab.train.config import TrainConfig

SECTION = "ReLU vs tanh (Krizhevsky et al. 2012, Fig. 1)"
PAPER_SPEEDUP = 6.0


def activation_experiment(
    out: Path,
    dataset: str = "cifar10",
    data_dir: str | None = None,
    epochs: int = 30,
    target_error: float = 0.25,
    lr: dict[str, float] | None = None,
    channels: tuple[int, ...] = (32, 32, 64),
    batch_size: int = 128,
    per_class: int | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Train the ReLU and the tanh network into ``out/relu`` and ``out/tanh`` and compare.

    ``lr`` maps each activation to its SGD learning rate (default 0.01 for both).
    """
    rates = {"relu": 0.01, "tanh": 0.01, **(lr or {})}
    errors: dict[str, list[float]] = {}
    for act in ("relu", "tanh"):
        config = TrainConfig(
            model="simple_cnn",
            model_kwargs={"channels": list(channels), "kernel": 5, "bn": False, "act": act},
            dataset=dataset,
            data_dir=data_dir,
            per_class=per_class,
            epochs=epochs,
            batch_size=batch_size,
            optimizer="sgd",
            momentum=0.9,
            lr=rates[act],
            weight_decay=0.0,
            scheduler="constant",
            warmup_epochs=0.0,
            label_smoothing=0.0,
            augment=[],
            seed=seed,
        )
        Trainer(config, out / act, quiet=True).fit()
        errors[act] = [1.0 - row["train_acc"] for row in runs.read_history(out / act)]
    reached = {act: _first_epoch(curve, target_error) for act, curve in errors.items()}
    speedup = reached["tanh"] / reached["relu"] if reached["relu"] and reached["tanh"] else None
    metrics = {
        "target_error": target_error,
        "epoch_reaching_target": reached,
        "train_error": errors,
        "learning_rates": rates,
        "speedup": speedup,
        "paper_speedup": PAPER_SPEEDUP,
        "verdict": _verdict(reached, speedup, epochs),
    }
    runs.update_metrics(out, ("activation",), metrics)
    rows = [
        [act, reached[act] or f"not within {epochs}", round(errors[act][-1], 4), rates[act]]
        for act in ("relu", "tanh")
    ]
    runs.add_table(
        out,
        SECTION,
        "epochs",
        ["activation", f"first epoch with training error <= {target_error:.0%}", "final", "lr"],
        rows,
        caption=metrics["verdict"],
    )
    runs.add_figure(out, SECTION, "relu_vs_tanh.png", figure_to_png(_figure(errors, target_error)))
    build_report(out)
    return metrics


def _first_epoch(curve: list[float], target: float) -> int | None:
    hits = np.flatnonzero(np.asarray(curve) <= target)
    return int(hits[0]) + 1 if len(hits) else None


def _verdict(reached: dict[str, int | None], speedup: float | None, epochs: int) -> str:
    if reached["relu"] is None:
        return f"ReLU did not reach the target within {epochs} epochs: no comparison."
    if speedup is None:
        return (
            f"ReLU reached the target at epoch {reached['relu']}, tanh not within {epochs} "
            f"epochs: tanh is more than {epochs / reached['relu']:.1f}x slower here."
        )
    holds = "reproduces" if speedup >= PAPER_SPEEDUP else "does not reproduce"
    return (
        f"ReLU reached the target at epoch {reached['relu']}, tanh at epoch {reached['tanh']}: "
        f"{speedup:.1f}x; this {holds} the paper's {PAPER_SPEEDUP:.0f}x."
    )


def _figure(errors: dict[str, list[float]], target: float):
    fig = new_figure(6, 4)
    ax = fig.add_subplot()
    for act, style in (("relu", "-"), ("tanh", "--")):
        ax.plot(range(1, len(errors[act]) + 1), errors[act], style, label=act)
    ax.axhline(target, color="grey", linewidth=0.8)
    ax.set(xlabel="epoch", ylabel="training error rate", ylim=(0, 1))
    ax.set_title("ReLU (solid) vs tanh (dashed), no normalization")
    ax.legend()
    ax.grid(alpha=0.3)
    return fig
