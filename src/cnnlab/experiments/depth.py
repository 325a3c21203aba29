"""Plain against residual networks as depth grows: He, Zhang, Ren & Sun (2016), Fig. 1 and 6.

"The deeper network has higher training error, and thus test error" for plain
stacks of 3x3 convolutions on CIFAR-10 (Fig. 1: 20 against 56 layers), while
the residual networks of the same depths train deeper to lower error (Fig. 6).
The four networks (``plainN``, ``resnetN`` for N in ``depths``) are trained
with the same recipe (SGD with Nesterov momentum 0.9, weight decay 5e-4,
one epoch of linear warm-up, as He et al. warm their deepest networks up,
then cosine decay; flips and 4-pixel crops), and the table compares their
final training error and validation accuracy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cnnlab import runs
from cnnlab.compose import Trainer
from cnnlab.report import build_report, figure_to_png
from cnnlab.report.figures import new_figure
from cnnlab.train.config import TrainConfig

SECTION = "Plain vs residual networks (He et al. 2016, Fig. 1 and 6)"
DEPTHS = (20, 56)


def depth_experiment(
    out: Path,
    dataset: str = "cifar10",
    data_dir: str | None = None,
    depths: tuple[int, ...] = DEPTHS,
    epochs: int = 20,
    per_class: int | None = None,
    lr: float = 0.1,
    seed: int = 0,
) -> dict[str, Any]:
    """Train ``plainN`` and ``resnetN`` for each depth N into ``out/<model>`` and compare."""
    results: dict[str, dict[str, Any]] = {}
    for family in ("plain", "resnet"):
        for depth in depths:
            name = f"{family}{depth}"
            config = TrainConfig(
                model=name,
                dataset=dataset,
                data_dir=data_dir,
                per_class=per_class,
                epochs=epochs,
                batch_size=128,
                optimizer="sgd",
                lr=lr,
                momentum=0.9,
                nesterov=True,
                weight_decay=5e-4,
                scheduler="cosine",
                warmup_epochs=1.0,
                augment=["flip", "crop:4"],
                seed=seed,
            )
            Trainer(config, out / name, quiet=True).fit()
            history = runs.read_history(out / name)
            results[name] = {
                "train_error": [1.0 - row["train_acc"] for row in history],
                "val_acc": history[-1].get("val_acc"),
            }
    runs.update_metrics(out, ("depth",), results)
    rows = [
        [
            name,
            round(r["train_error"][-1], 4),
            None if r["val_acc"] is None else round(r["val_acc"], 4),
        ]
        for name, r in results.items()
    ]
    runs.add_table(
        out,
        SECTION,
        "depth",
        ["model", "final training error", "validation accuracy"],
        rows,
        caption=_verdict(results, depths),
    )
    runs.add_figure(out, SECTION, "depth.png", figure_to_png(_figure(results)))
    build_report(out)
    return results


def _verdict(results: dict[str, dict[str, Any]], depths: tuple[int, ...]) -> str:
    if len(depths) < 2:
        return "One depth only: no comparison across depths."
    shallow, deep = min(depths), max(depths)
    error = {name: r["train_error"][-1] for name, r in results.items()}
    plain = "higher" if error[f"plain{deep}"] > error[f"plain{shallow}"] else "not higher"
    residual = "lower" if error[f"resnet{deep}"] < error[f"resnet{shallow}"] else "not lower"
    return (
        f"The {deep}-layer plain network's training error is {plain} than the "
        f"{shallow}-layer one's (He et al.: higher); the {deep}-layer ResNet's is {residual} "
        f"than the {shallow}-layer one's (He et al.: lower)."
    )


def _figure(results: dict[str, dict[str, Any]]):
    fig = new_figure(6, 4)
    ax = fig.add_subplot()
    for name, r in results.items():
        style = "--" if name.startswith("plain") else "-"
        ax.plot(range(1, len(r["train_error"]) + 1), r["train_error"], style, label=name)
    ax.set(xlabel="epoch", ylabel="training error rate", ylim=(0, 1))
    ax.set_title("Plain (dashed) vs residual (solid)")
    ax.legend()
    ax.grid(alpha=0.3)
    return fig
