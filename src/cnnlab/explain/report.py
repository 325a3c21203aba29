"""The "Explanations" section of a run's report: every PNG in ``figures/explain/``.

Explanation figures live in their own folder because their names depend on
the images and methods explained; the report's "Other figures" only looks at
``figures/*.png``, so they are shown here once.
"""

from __future__ import annotations

import html
from pathlib import Path

from cnnlab.report.html import SECTIONS, Section, png_img, register_section
from cnnlab.runs import FIGURES

EXPLAIN_DIR = "explain"


def explain_dir(run_dir: str | Path) -> Path:
    """Where ``cnnlab explain`` writes its figures: ``RUN/figures/explain``."""
    return Path(run_dir) / FIGURES / EXPLAIN_DIR


def _render(run_dir: Path) -> str | None:
    folder = explain_dir(run_dir)
    paths = sorted(folder.glob("*.png")) if folder.is_dir() else []
    parts = [
        f"<figure>{png_img(p.read_bytes(), p.stem)}"
        f"<figcaption>{html.escape(p.stem.replace('_', ' '))}</figcaption></figure>"
        for p in paths
    ]
    return "".join(parts) or None


SECTION = Section("Explanations", _render)
if SECTION not in SECTIONS:
    register_section(SECTION)
