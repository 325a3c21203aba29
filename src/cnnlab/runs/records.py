"""Reading and writing the run directory's small records: meta, history, metrics.

Every write is atomic (:mod:`cnnlab.fileio`); a missing or corrupt file becomes
a :class:`~cnnlab.errors.CheckpointError` that says what to do.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cnnlab.errors import CheckpointError
from cnnlab.fileio import update_json, write_json, write_text
from cnnlab.runs.layout import HISTORY, META, METRICS


def read_meta(run_dir: str | os.PathLike) -> dict[str, Any]:
    """``meta.json`` of ``run_dir``: what the best weights are (model, classes, epoch ...)."""
    path = Path(run_dir) / META
    if not Path(run_dir).is_dir():
        raise CheckpointError(f"Run directory {run_dir} does not exist.")
    if not path.is_file():
        raise CheckpointError(
            f"{Path(run_dir)} is not a cnnlab run directory: {META} is missing. "
            "Pass a directory created by `cnnlab train`."
        )
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # ValueError: invalid JSON or not UTF-8
        raise CheckpointError(f"{path} is corrupt ({exc}); restore it or re-train.") from exc


def write_meta(run_dir: str | os.PathLike, meta: dict[str, Any]) -> None:
    write_json(Path(run_dir) / META, meta)


def read_history(run_dir: str | os.PathLike) -> list[dict[str, Any]]:
    """The rows of ``history.jsonl`` (empty when missing); blank lines are skipped."""
    path = Path(run_dir) / HISTORY
    if not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def write_history(run_dir: str | os.PathLike, history: Sequence[dict[str, Any]]) -> None:
    write_text(Path(run_dir) / HISTORY, "".join(f"{json.dumps(row)}\n" for row in history))


def read_metrics(run_dir: str | os.PathLike) -> dict[str, Any]:
    """``metrics.json`` of ``run_dir`` (empty when missing)."""
    path = Path(run_dir) / METRICS
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def update_metrics(run_dir: str | os.PathLike, keys: Sequence[str], value: Any) -> None:
    """Set ``value`` under the nested ``keys`` of ``metrics.json``, keeping the rest."""
    update_json(Path(run_dir) / METRICS, keys, value)
