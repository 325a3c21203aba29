"""Report sections as data: figures and small tables that a command adds to a run.

Training, tasks, ``cnnlab explain`` and ``cnnlab attack`` record what they
produced here (``RUN/sections.json`` and PNG files under ``RUN/figures/``);
the report renders the run directory and nothing else, so it imports none of
those packages and no section depends on import order.  ``sections.json``:

    {"Explanations": [{"figure": "explain/saliency.png", "caption": "..."}, ...],
     "Attacks": [{"table": {"header": [...], "rows": [[...]]}, "caption": "..."}]}

Entries keep their order; writing an entry with the same figure (or the same
table ``name``) replaces it, so re-running a command does not repeat it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cnnlab.errors import CheckpointError
from cnnlab.fileio import write_bytes, write_json
from cnnlab.runs.layout import FIGURES, SECTIONS


def read_sections(run_dir: str | os.PathLike) -> dict[str, list[dict[str, Any]]]:
    """``sections.json`` of ``run_dir``: section title -> its entries (empty when missing)."""
    path = Path(run_dir) / SECTIONS
    if not path.is_file():
        return {}
    try:
        sections = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{path} is corrupt ({exc}); delete it to rebuild.") from exc
    return sections if isinstance(sections, dict) else {}


def _add_entry(run_dir: Path, section: str, entry: dict[str, Any], key: str) -> None:
    sections = read_sections(run_dir)
    entries = [e for e in sections.get(section, []) if e.get(key) != entry[key]]
    sections[section] = [*entries, entry]
    write_json(run_dir / SECTIONS, sections)


def add_figure(
    run_dir: str | os.PathLike, section: str, name: str, png: bytes, caption: str = ""
) -> Path:
    """Write ``png`` as ``figures/<name>`` and show it in ``section`` of the report.

    ``name`` is a relative path such as ``"explain/saliency_3.png"``.
    """
    run_dir = Path(run_dir)
    path = run_dir / FIGURES / name
    write_bytes(path, png)
    _add_entry(run_dir, section, {"figure": name, "caption": caption}, "figure")
    return path


def add_table(
    run_dir: str | os.PathLike,
    section: str,
    name: str,
    header: Sequence[Any],
    rows: Sequence[Sequence[Any]],
    caption: str = "",
) -> None:
    """Show a small table (JSON numbers and strings) in ``section`` of the report."""
    table = {"header": list(header), "rows": [list(row) for row in rows]}
    _add_entry(Path(run_dir), section, {"name": name, "table": table, "caption": caption}, "name")
