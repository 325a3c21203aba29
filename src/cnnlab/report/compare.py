"""One page comparing several runs: curves overlaid, a metrics table, the settings that differ.

``cnnlab report RUN1 RUN2 ...`` writes it.  Like a run's report it is a single
self-contained HTML file built from the run directories alone (their
``history.jsonl``, ``metrics.json``, ``meta.json`` and ``config.yaml``).
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from matplotlib.ticker import MaxNLocator

from cnnlab import runs
from cnnlab.errors import CheckpointError
from cnnlab.fileio import write_text
from cnnlab.report.figures import figure_to_png, new_figure
from cnnlab.report.html import CSS, html_table, metric_splits, png_img, run_config, run_meta


def plot_compared_curves(histories: dict[str, list[dict[str, Any]]]):
    """Validation loss and accuracy per epoch, one line per run (training dashed)."""
    fig = new_figure(11, 4.2)
    axes = fig.subplots(1, 2)
    for index, (name, history) in enumerate(histories.items()):
        colour = f"C{index % 10}"
        epochs = [row.get("epoch", i + 1) for i, row in enumerate(history)]
        for ax, quantity in zip(axes, ("loss", "acc"), strict=True):
            for split, style in (("val", "-"), ("train", ":")):
                values = [row.get(f"{split}_{quantity}") for row in history]
                if any(v is not None for v in values):
                    label = name if split == "val" else None
                    ax.plot(epochs, values, style, color=colour, label=label)
    for ax, title in zip(
        axes, ("Loss (validation solid, training dotted)", "Accuracy"), strict=True
    ):
        ax.set(title=title, xlabel="epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        if ax.has_data():
            ax.legend(fontsize=8)
    return fig


def _metrics_row(name: str, run_dir: Path) -> list[Any]:
    meta = run_meta(run_dir)
    splits = metric_splits(runs.read_metrics(run_dir))
    split = "test" if "test" in splits else next(iter(splits), None)
    report = splits.get(split, {})
    interval = report.get("accuracy_interval")
    accuracy = "" if "accuracy" not in report else f"{report['accuracy']:.4f}"
    if accuracy and isinstance(interval, list) and len(interval) == 2:
        accuracy += f" [{interval[0]:.3f}, {interval[1]:.3f}]"
    seconds = sum(float(row.get("time", 0.0)) for row in runs.read_history(run_dir))
    cost = meta.get("cost") if isinstance(meta.get("cost"), dict) else {}
    return [
        name,
        meta.get("model", ""),
        meta.get("dataset", ""),
        split or "",
        accuracy,
        meta.get("epoch", ""),
        cost.get("parameters", ""),
        f"{seconds:.1f}",
    ]


def _differences(configs: dict[str, dict[str, Any]]) -> str:
    """A table of the settings whose values are not the same in every run."""
    keys = list(dict.fromkeys(key for config in configs.values() for key in config))
    differing = [
        key
        for key in keys
        if len({json.dumps(c.get(key), sort_keys=True) for c in configs.values()}) > 1
    ]
    if not differing:
        return "<p>Every run has the same settings.</p>"
    head = "".join(f"<th>{html.escape(name)}</th>" for name in configs)
    body = "".join(
        f"<tr><td>{html.escape(key)}</td>"
        + "".join(
            f"<td class='diff'>{html.escape(json.dumps(c.get(key)))}</td>" for c in configs.values()
        )
        + "</tr>"
        for key in differing
    )
    return f"<table><thead><tr><th>setting</th>{head}</tr></thead><tbody>{body}</tbody></table>"


def build_comparison(run_dirs: Sequence[str | os.PathLike], out: str | os.PathLike) -> Path:
    """Write the comparison page of ``run_dirs`` to ``out`` and return its path."""
    paths = [Path(d) for d in run_dirs]
    for path in paths:
        if not (path / runs.CONFIG).is_file():
            raise CheckpointError(
                f"{path} is not a run directory (no {runs.CONFIG}); pass folders that "
                "`cnnlab train` created."
            )
    names = [path.name for path in paths]
    if len(set(names)) < len(names):  # runs/a/x and runs/b/x: tell them apart
        names = [str(path) for path in paths]
    histories = {name: runs.read_history(path) for name, path in zip(names, paths, strict=True)}
    parts = []
    if any(histories.values()):
        curves = figure_to_png(plot_compared_curves(histories))
        parts.append(
            f"<section><h2>Learning curves</h2>{png_img(curves, 'learning curves')}</section>"
        )
    header = [
        "run",
        "model",
        "data set",
        "split",
        "accuracy [95 % interval]",
        "best epoch",
        "parameters",
        "training s",
    ]
    rows = [_metrics_row(name, path) for name, path in zip(names, paths, strict=True)]
    parts.append(f"<section><h2>Results</h2>{html_table(header, rows)}</section>")
    configs = {name: run_config(path) for name, path in zip(names, paths, strict=True)}
    parts.append(f"<section><h2>Settings that differ</h2>{_differences(configs)}</section>")
    title = f"Comparison of {len(paths)} runs"
    page = (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{CSS}td.diff{{background:#fff5d6}}</style>"
        f"</head><body><h1>{html.escape(title)}</h1>{''.join(parts)}</body></html>\n"
    )
    out = Path(out)
    write_text(out, page)
    return out
