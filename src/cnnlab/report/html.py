"""The static HTML report of a run directory.

:func:`build_report` writes ``report.html``: one self-contained page (inline
CSS, figures embedded as base64 PNG data URIs, no external resources) that can
be mailed or archived on its own.  The page is a title followed by a list of
:class:`Section` objects.  Each section renders itself from the run directory
and returns ``None`` when its inputs are missing, so a partial run still gets a
report.  Sections that other commands add (explanations, attacks ...) are data
in the run directory, ``sections.json`` written through :mod:`cnnlab.runs`, so
the report imports none of those commands; any PNG in ``figures/`` that no
section shows is appended under "Other figures".

Run directory files read: ``config.yaml``, ``meta.json``, ``history.jsonl``,
``sections.json``, ``metrics.json (a :func:`cnnlab.metrics.classification_report` dictionary,
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

import yaml

from cnnlab import runs
from cnnlab.errors import CheckpointError
from cnnlab.fileio import write_text
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


def _figure_file(run_dir: Path, filename: str) -> bytes | None:
    path = run_dir / runs.FIGURES / filename
    return path.read_bytes() if path.is_file() else None


def figure_section(title: str, filename: str) -> Section:
    """A section showing ``figures/<filename>`` when that file exists."""

    def render(run_dir: Path) -> str | None:
        data = _figure_file(run_dir, filename)
        return None if data is None else png_img(data, title)

    return Section(title, render, figures=(filename,))


def _configuration(run_dir: Path) -> str | None:
    path = run_dir / runs.CONFIG
    if not path.is_file():
        return None
    return f"<pre>{html.escape(path.read_text(encoding='utf-8'))}</pre>"


def _learning_curves(run_dir: Path) -> str | None:
    history = runs.read_history(run_dir)
    data = _figure_file(run_dir, "learning_curves.png")
    if data is None and history:
        data = figure_to_png(plot_learning_curves(history))
    parts = [] if data is None else [png_img(data, "learning curves")]
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


def _final_metrics(run_dir: Path) -> str | None:
    splits = metric_splits(read_json(run_dir / runs.METRICS))
    if not splits:
        return None
    scalars = {name: _scalars(report) for name, report in splits.items()}
    keys = list(dict.fromkeys(k for values in scalars.values() for k in values))
    rows = [[key, *(scalars[name].get(key, "") for name in splits)] for key in keys]
    return html_table(["metric", *splits], rows)


def _per_class(run_dir: Path) -> str | None:
    splits = metric_splits(read_json(run_dir / runs.METRICS))
    parts = []
    for name, report in splits.items():
        per_class = report.get("per_class")
        if not per_class:
            continue
        columns = ["class", "precision", "recall", "f1", "support"]
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


SECTIONS: list[Section] = [
    Section("Configuration", _configuration),
    Section("Learning curves", _learning_curves, figures=("learning_curves.png",)),
    Section("Final metrics", _final_metrics),
    Section("Per-class metrics", _per_class),
    Section(
        "Confusion matrices",
        _confusion_matrices,
        figures=("confusion_matrix.png", "confusion_matrix_normalized.png"),
    ),
    figure_section("Most confidently misclassified test images", "misclassified.png"),
]


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
    """The sections that commands recorded in ``sections.json`` (see :mod:`cnnlab.runs`)."""
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
    parts = [
        f"<figure>{png_img(p.read_bytes(), p.stem)}"
        f"<figcaption>{html.escape(p.stem.replace('_', ' '))}</figcaption></figure>"
        for p in paths
        if p.name not in shown
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
    try:
        meta = read_json(run_dir / runs.META) or {}
        config_path = run_dir / runs.CONFIG
        config = (
            yaml.safe_load(config_path.read_text(encoding="utf-8")) if config_path.is_file() else {}
        )
    except (OSError, ValueError, yaml.YAMLError):
        meta, config = {}, {}
    meta = meta if isinstance(meta, dict) else {}
    config = config if isinstance(config, dict) else {}
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


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;
margin:2em auto;padding:0 1em;color:#222;line-height:1.4}
h1{margin-bottom:.2em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
.meta{color:#666}pre{background:#f6f8fa;padding:1em;overflow:auto;font-size:.85em}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}
th,td{border:1px solid #ddd;padding:.25em .6em;text-align:right}
th:first-child,td:first-child{text-align:left}thead th{background:#f0f0f0}
.scroll{max-height:30em;overflow:auto}img{max-width:100%;height:auto}
figure{display:inline-block;margin:.5em}.note{color:#a33}
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
        The sections to show, in order; defaults to :data:`SECTIONS` followed
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
        sections = [*SECTIONS, *recorded_sections(run_dir)]
    sections = list(sections)
    shown = {name for section in sections for name in section.figures}
    sections.append(Section("Other figures", lambda d: _other_figures(d, shown)))
    body = "".join(_render(section, run_dir) for section in sections)
    page = (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(run_dir.name)} report</title><style>{_CSS}</style></head>"
        f"<body>{_title(run_dir)}{body}</body></html>\n"
    )
    path = run_dir / runs.REPORT
    write_text(path, page)
    return path
