"""The static HTML report of a run directory.

`build_report` writes ``report.html``: one self-contained page (inline
CSS, figures embedded as base64 PNG data URIs, no external resources) that can
be mailed or archived on its own.  The page is a title followed by a list of
`Section` objects.  Each section renders itself from the run directory
and returns ``None`` when its inputs are missing, so a partial run still gets a
report.  Sections that other commands add (explanations, attacks ...) are data
in the run directory, ``sections.json`` written through `cnnlab.runs`, so
the report imports none of those commands; any PNG in ``figures/`` that no
section shows is appended under "Other figures".

Run directory files read: ``config.yaml``, ``meta.json``, ``history.jsonl``,
``sections.json``, ``metrics.json (a `cnnlab.metrics.classification_report` dictionary,
or several under split keys such as ``{"val": {...}, "test": {...}}``) and
``figures/*.png``.
"""

from __future__ import annotations

import base64
import datetime
import html
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cnnlab import runs
from cnnlab.errors import CheckpointError, CnnlabError
from cnnlab.fileio import read_regular, write_text
from cnnlab.report.figures import figure_to_png, plot_confusion_matrix, plot_learning_curves


@dataclass(frozen=True)
class Section:
    """One titled part of the report.

    Parameters
    ----------
    title : str
        Heading (plain text; escaped when rendered).
    render : callable(run_dir) -> str or None
        Returns the section body as an HTML fragment (every piece of text in it
        escaped), or None to leave the section out.
    figures : tuple of str
        File names in ``figures/`` this section shows, so that "Other figures"
        does not repeat them.
    """

    title: str
    render: Callable[[Path], str | None]
    figures: tuple[str, ...] = ()


def png_img(data: bytes, alt: str) -> str:
    """An ``<img>`` element embedding PNG bytes as a data URI."""
    encoded = base64.b64encode(data).decode("ascii")
    return f'<img src="data:image/png;base64,{encoded}" alt="{html.escape(alt)}">'


def html_table(header: Sequence[Any], rows: Sequence[Sequence[Any]]) -> str:
    """An escaped HTML table; floats are shown with 4 decimals."""

    def cell(value: Any, tag: str) -> str:
        text = f"{value:.4f}" if isinstance(value, float) else str(value)
        return f"<{tag}>{html.escape(text)}</{tag}>"

    head = "".join(cell(h, "th") for h in header)
    body = "".join("<tr>" + "".join(cell(v, "td") for v in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def read_json(path: Path) -> Any:
    """The parsed JSON file at ``path``, or None when it does not exist."""
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def metric_splits(metrics: Any) -> dict[str, dict[str, Any]]:
    """``metrics.json`` as ``{split: report}``; a bare report becomes ``{"evaluation": report}``."""
    if not isinstance(metrics, dict):
        return {}
    if "accuracy" in metrics:
        return {"evaluation": metrics}
    return {k: v for k, v in metrics.items() if isinstance(v, dict) and "accuracy" in v}


def _primary(splits: dict[str, dict[str, Any]]) -> tuple[str, dict[str, Any]] | None:
    """The test split when there is one, else the first."""
    if not splits:
        return None
    name = "test" if "test" in splits else next(iter(splits))
    return name, splits[name]


MAX_FIGURE_BYTES = 32 << 20  # a PNG figure; larger files are left out of the report


def _figure_file(run_dir: Path, filename: str) -> bytes | None:
    """The bytes of ``figures/<filename>``; None when missing, not a regular file inside
    the run directory (a link out of it, a FIFO, a device) or too large."""
    folder = run_dir / runs.FIGURES
    try:
        return read_regular(folder / filename, limit=MAX_FIGURE_BYTES, inside=folder)
    except CnnlabError:
        return None


def figure_section(title: str, filename: str) -> Section:
    """A section showing ``figures/<filename>`` when that file exists."""

    def render(run_dir: Path) -> str | None:
        data = _figure_file(run_dir, filename)
        return None if data is None else png_img(data, title)

    return Section(title, render, figures=(filename,))


def run_config(run_dir: Path) -> dict[str, Any]:
    """``config.yaml`` as a mapping (`cnnlab.runs.read_config`); empty when missing
    or unreadable, so that a damaged file drops only what needs it."""
    try:
        return runs.read_config(run_dir)
    except CnnlabError:
        return {}


def run_meta(run_dir: Path) -> dict[str, Any]:
    """``meta.json`` (`cnnlab.runs.read_meta`); empty when missing or unreadable."""
    try:
        meta = runs.read_meta(run_dir)
    except CnnlabError:
        return {}
    return meta if isinstance(meta, dict) else {}


def _configuration(run_dir: Path) -> str | None:
    """The settings that differ from the defaults (folded), the whole file one click away."""
    path = run_dir / runs.CONFIG
    if not path.is_file():
        return None
    full = (
        "<details><summary>config.yaml (every setting; re-run it with "
        f"<code>cnnlab train --config</code>)</summary><pre>"
        f"{html.escape(path.read_text(encoding='utf-8'))}</pre></details>"
    )
    changes = run_meta(run_dir).get("config_changes")
    if not isinstance(changes, dict):
        return full
    if not changes:
        return f"<p>Every setting is the default.</p>{full}"
    rows = [[key, json.dumps(value)] for key, value in changes.items()]
    return (
        f"<details><summary>{len(changes)} settings differ from the defaults</summary>"
        f"{html_table(['setting', 'value'], rows)}{full}</details>"
    )


def _amount(value: float) -> str:
    """61706 → 61.7K, 4.1e9 → 4.10G: the size of parameter and operation counts."""
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:.3g}{unit}"
    return f"{value:g}"


def _summary(run_dir: Path) -> str | None:
    """The answer first: the test metric with its uncertainty, the model's cost, the time."""
    meta, config = run_meta(run_dir), run_config(run_dir)
    primary = _primary(metric_splits(read_json(run_dir / runs.METRICS)))
    history = runs.read_history(run_dir)
    cards: list[tuple[str, str, str]] = []  # (label, value as HTML, element id)
    if primary is not None:
        split, report = primary
        accuracy = report["accuracy"]
        value = f"{accuracy:.2%}"
        interval = report.get("accuracy_interval")
        if isinstance(interval, list) and len(interval) == 2:
            value += f" <small>(95 % interval {interval[0]:.1%} to {interval[1]:.1%})</small>"
        count = report.get("num_images", report.get("num_samples"))
        kind = "pixel accuracy" if "miou" in report else "accuracy"
        label = f"{split} {kind}" + (f", {count} images" if count else "")
        value = f"<span data-value='{accuracy!r}'>{value}</span>"
        cards.append((label, value, "headline-accuracy"))
        if isinstance(report.get("miou"), float):
            cards.append((f"{split} mean IoU", f"{report['miou']:.3f}", "miou"))
    cards.append(("task", html.escape(str(meta.get("task", "classification"))), "task"))
    for key, label in (("model", "model"), ("dataset", "data set")):
        name = _lookup_name(meta.get(key), config.get(key))
        if name:
            cards.append((label, html.escape(name), key))
    cost = meta.get("cost")
    if isinstance(cost, dict):
        if "parameters" in cost:
            cards.append(("parameters", _amount(cost["parameters"]), "parameters"))
        if "macs" in cost:
            cards.append(("multiply-adds per image", _amount(cost["macs"]), "macs"))
    if history:
        seconds = sum(float(row.get("time", 0.0)) for row in history)
        best = meta.get("epoch")
        epochs = f"{len(history)} epochs" + (f", best {best}" if best else "")
        cards.append(("training time", f"{seconds:.1f} s <small>({epochs})</small>", "time"))
    if config.get("device"):
        cards.append(("device", html.escape(str(config["device"])), "device"))
    if len(cards) <= 1:
        return None
    return (
        "<div class='cards'>"
        + "".join(
            f"<div class='card' id='{card_id}'><div class='label'>{html.escape(label)}</div>"
            f"<div class='value'>{value}</div></div>"
            for label, value, card_id in cards
        )
        + "</div>"
    )


def _training_loss_note(config: dict[str, Any]) -> str | None:
    """Why the training loss is not measured like the validation loss, if it is not."""
    terms = []
    if config.get("label_smoothing"):
        terms.append(f"label smoothing {config['label_smoothing']:g}")
    if config.get("mixup"):
        terms.append("Mixup")
    if config.get("cutmix"):
        terms.append("CutMix")
    if config.get("adv_train") not in (None, "none"):
        terms.append(f"adversarial training ({config['adv_train']})")
    if config.get("l1"):
        terms.append("an L1 penalty")
    if not terms:
        return None
    return (
        f"The training loss includes {', '.join(terms)}; the validation loss is the plain "
        "cross-entropy of clean images. The gap between the two curves is therefore not only "
        "overfitting: compare the accuracies, which are measured alike."
    )


def _learning_curves(run_dir: Path) -> str | None:
    history = runs.read_history(run_dir)
    data = _figure_file(run_dir, "learning_curves.png")
    if data is None and history:
        data = figure_to_png(plot_learning_curves(history))
    parts = [] if data is None else [png_img(data, "learning curves")]
    note = _training_loss_note(run_config(run_dir))
    if note and data is not None:
        parts.append(f"<p class='caption'>{html.escape(note)}</p>")
    if history:
        keys = list(dict.fromkeys(k for row in history for k in row))
        rows = [[row.get(k, "") for k in keys] for row in history]
        parts.append(
            f"<details><summary>History ({len(history)} epochs)</summary>"
            f"{html_table(keys, rows)}</details>"
        )
    return "".join(parts) or None


def _scalars(report: dict[str, Any]) -> dict[str, float]:
    """Numbers of a report, with one level of nesting flattened ("macro f1")."""
    out = {}
    for key, value in report.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out[key] = value
        elif isinstance(value, dict):
            for inner, number in value.items():
                if isinstance(number, (int, float)) and not isinstance(number, bool):
                    out[f"{key} {inner}"] = number
    return out


REPEATED = ("micro precision", "micro recall", "micro f1")


def _final_metrics(run_dir: Path) -> str | None:
    """One row per metric and a column per split; nothing shown twice."""
    splits = metric_splits(read_json(run_dir / runs.METRICS))
    if not splits:
        return None
    scalars = {}
    for name, report in splits.items():
        values = _scalars(report)
        if "num_images" in values:
            values.pop("num_samples", None)  # the same count under its older name
        scalars[name] = {k: v for k, v in values.items() if k not in REPEATED}
    keys = list(dict.fromkeys(k for values in scalars.values() for k in values))
    rows = [[key, *(scalars[name].get(key, "") for name in splits)] for key in keys]
    return html_table(["metric", *splits], rows) + (
        "<p class='caption'>Micro-averaged precision, recall and F1 equal the accuracy for "
        "single-label classification and are not repeated.</p>"
    )


def _per_class(run_dir: Path) -> str | None:
    splits = metric_splits(read_json(run_dir / runs.METRICS))
    parts = []
    for name, report in splits.items():
        per_class = report.get("per_class")
        if not per_class:
            continue
        columns = list(dict.fromkeys(key for row in per_class for key in row))
        table = html_table(columns, [[row.get(c, "") for c in columns] for row in per_class])
        parts.append(f"<h3>{html.escape(name)}</h3><div class='scroll'>{table}</div>")
    return "".join(parts) or None


def _confusion_matrices(run_dir: Path) -> str | None:
    variants = (("confusion_matrix.png", False), ("confusion_matrix_normalized.png", True))
    primary = _primary(metric_splits(read_json(run_dir / runs.METRICS)))
    parts = []
    for filename, normalize in variants:
        data = _figure_file(run_dir, filename)
        if data is None and primary is not None and "confusion_matrix" in primary[1]:
            report = primary[1]
            fig = plot_confusion_matrix(
                report["confusion_matrix"], report.get("class_names"), normalize=normalize
            )
            data = figure_to_png(fig)
        if data is not None:
            kind = "row-normalized" if normalize else "counts"
            parts.append(png_img(data, f"confusion matrix ({kind})"))
    return "".join(parts) or None


def _robustness(run_dir: Path) -> str | None:
    """Every attack recorded in ``metrics.json`` (``cnnlab attack``), one row each."""
    attacks = read_json(run_dir / runs.METRICS) or {}
    attacks = attacks.get("attacks") if isinstance(attacks, dict) else None
    if not isinstance(attacks, dict) or not attacks:
        return None
    header = [
        "attack",
        "norm",
        "ε",
        "steps",
        "images",
        "clean accuracy",
        "robust accuracy",
        "success rate",
        "mean L∞ of δ",
        "mean L2 of δ",
    ]
    keys = [
        "norm",
        "eps",
        "steps",
        "num_images",
        "clean_accuracy",
        "robust_accuracy",
        "success_rate",
        "mean_linf",
        "mean_l2",
    ]
    rows = [
        [name, *(("" if m.get(k) is None else m.get(k)) for k in keys)]
        for name, m in attacks.items()
        if isinstance(m, dict)
    ]
    return html_table(header, rows) + (
        "<p class='caption'>Robust accuracy: the share of the images still classified "
        "correctly after the attack; success rate: the share of the correctly classified "
        "images the attack fooled. δ is measured in pixel units ([0, 1]).</p>"
    )


SECTIONS: list[Section] = [
    Section("Summary", _summary),
    Section("Learning curves", _learning_curves, figures=("learning_curves.png",)),
    Section("Final metrics", _final_metrics),
    Section("Per-class metrics", _per_class),
    Section(
        "Confusion matrices",
        _confusion_matrices,
        figures=("confusion_matrix.png", "confusion_matrix_normalized.png"),
    ),
    figure_section("Most confidently misclassified test images", "misclassified.png"),
    Section("Robustness", _robustness),
]


CONFIGURATION = Section("Configuration", _configuration)


def _recorded_entry(run_dir: Path, entry: dict[str, Any]) -> str:
    caption = html.escape(str(entry.get("caption", "")))
    if "figure" in entry:
        data = _figure_file(run_dir, entry["figure"])
        if data is None:
            return ""
        name = Path(entry["figure"]).stem.replace("_", " ")
        return (
            f"<figure>{png_img(data, caption or name)}"
            f"<figcaption>{caption or html.escape(name)}</figcaption></figure>"
        )
    table = entry.get("table", {})
    body = html_table(table.get("header", []), table.get("rows", []))
    return f"<figure>{body}<figcaption>{caption}</figcaption></figure>"


def recorded_sections(run_dir: Path) -> list[Section]:
    """The sections that commands recorded in ``sections.json`` (see `cnnlab.runs`)."""
    recorded = []
    for title, entries in runs.read_sections(run_dir).items():
        figures = tuple(e["figure"] for e in entries if "figure" in e)

        def render(run_dir: Path, entries: list[dict[str, Any]] = entries) -> str | None:
            return "".join(_recorded_entry(run_dir, e) for e in entries) or None

        recorded.append(Section(title, render, figures=figures))
    return recorded


def _other_figures(run_dir: Path, shown: set[str]) -> str | None:
    folder = run_dir / runs.FIGURES
    paths = sorted(folder.glob("*.png")) if folder.is_dir() else []
    figures = [(p, _figure_file(run_dir, p.name)) for p in paths if p.name not in shown]
    parts = [
        f"<figure>{png_img(data, p.stem)}"
        f"<figcaption>{html.escape(p.stem.replace('_', ' '))}</figcaption></figure>"
        for p, data in figures
        if data is not None
    ]
    return "".join(parts) or None


def _lookup_name(*candidates: Any) -> str | None:
    """The first candidate that is a string, or a dict with a string "name"."""
    for value in candidates:
        if isinstance(value, dict):
            value = value.get("name")
        if isinstance(value, str) and value:
            return value
    return None


def _title(run_dir: Path) -> str:
    meta, config = run_meta(run_dir), run_config(run_dir)
    model = _lookup_name(meta.get("model"), meta.get("model_name"), config.get("model"))
    dataset = _lookup_name(
        meta.get("dataset"), config.get("dataset"), config.get("data"), meta.get("data")
    )
    times = [p.stat().st_mtime for p in run_dir.iterdir() if p.is_file() and p.name != runs.REPORT]
    date = datetime.datetime.fromtimestamp(max(times) if times else 0).strftime("%Y-%m-%d %H:%M")
    heading = " on ".join(html.escape(x) for x in (model, dataset) if x) or html.escape(
        run_dir.name
    )
    return (
        f"<h1>{heading}</h1><p class='meta'>Run <code>{html.escape(run_dir.name)}</code>"
        f" &middot; {html.escape(date)}</p>"
    )


CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;
margin:2em auto;padding:0 1em;color:#222;line-height:1.4}
h1{margin-bottom:.2em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
.meta{color:#666}pre{background:#f6f8fa;padding:1em;overflow:auto;font-size:.85em}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}
th,td{border:1px solid #ddd;padding:.25em .6em;text-align:right}
th:first-child,td:first-child{text-align:left}thead th{background:#f0f0f0}
.scroll{max-height:30em;overflow:auto}img{max-width:100%;height:auto}
figure{display:inline-block;margin:.5em}.note{color:#a33}.caption{color:#555;font-size:.9em}
.cards{display:flex;flex-wrap:wrap;gap:.6em}.card{border:1px solid #ddd;border-radius:6px;
padding:.5em .9em;min-width:9em}.card .label{color:#666;font-size:.8em}
.card .value{font-size:1.25em;font-weight:600}#headline-accuracy .value{font-size:1.6em}
details summary{cursor:pointer}
"""


def _render(section: Section, run_dir: Path) -> str:
    try:
        body = section.render(run_dir)
    except Exception as error:  # one unreadable input must not cost the whole report
        reason = html.escape(f"{type(error).__name__}: {error}")
        body = f"<p class='note'>Could not render this section: {reason}</p>"
    if body is None:
        return ""
    return f"<section><h2>{html.escape(section.title)}</h2>{body}</section>"


def build_report(run_dir: str | os.PathLike, sections: Sequence[Section] | None = None) -> Path:
    """Write ``report.html`` into ``run_dir`` and return its path.

    Parameters
    ----------
    run_dir : path-like
        A run directory (see ``DESIGN.md``); missing files only drop the
        sections that need them.
    sections : sequence of Section, optional
        The sections to show, in order; defaults to `SECTIONS` followed
        by the sections recorded in the run's ``sections.json``.  Pass
        ``[*SECTIONS, extra]`` to add one for this report only.

    Returns
    -------
    Path
        The written ``report.html``.

    Raises
    ------
    CheckpointError
        If ``run_dir`` is not a directory.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise CheckpointError(
            f"Run directory {str(run_dir)!r} does not exist; pass the folder train created."
        )
    if sections is None:
        sections = [*SECTIONS, *recorded_sections(run_dir), CONFIGURATION]
    sections = list(sections)
    shown = {name for section in sections for name in section.figures}
    sections.append(Section("Other figures", lambda d: _other_figures(d, shown)))
    body = "".join(_render(section, run_dir) for section in sections)
    page = (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(run_dir.name)} report</title><style>{CSS}</style></head>"
        f"<body>{_title(run_dir)}{body}</body></html>\n"
    )
    path = run_dir / runs.REPORT
    write_text(path, page)
    return path
