"""Reading and writing the run directory's small records: meta, history, metrics.

Every write is atomic (`cnnlab.fileio`); a missing or corrupt file becomes
a `CheckpointError` that says what to do.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cnnlab.errors import CheckpointError
from cnnlab.fileio import read_regular, update_json, write_json, write_text
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
    text = read_regular(path, limit=MAX_RECORD_BYTES, what="Run record", error=CheckpointError)
    try:
        meta = json.loads(text.decode("utf-8"))
    except ValueError as exc:  # invalid JSON or not UTF-8
        raise CheckpointError(f"{path} is corrupt ({exc}); restore it or re-train.") from exc
    except RecursionError:
        raise CheckpointError(f"{path} is corrupt (nested too deeply); restore it.") from None
    problem = _meta_problem(meta)
    if problem is not None:
        raise CheckpointError(
            f"{path} is not the meta.json cnnlab writes: {problem}. It was edited or damaged; "
            "restore it from a backup or re-train."
        )
    return meta


MAX_RECORD_BYTES = 64 << 20
"""The largest meta.json read (64 MiB; cnnlab writes a few kilobytes)."""

MAX_SIDE = 1 << 16  # pixels per image side, far beyond any model's input

_SHA256 = re.compile(r"[0-9a-f]{64}")


def _meta_problem(meta: Any) -> str | None:
    """What makes ``meta`` unlike a meta.json written by `write_meta`, or None."""
    if not isinstance(meta, dict):
        return f"it holds a {type(meta).__name__}, not a mapping"
    if not isinstance(meta.get("model"), str):
        return "'model' must be a model name"
    classes = meta.get("classes")
    if not (isinstance(classes, list) and all(isinstance(c, str) for c in classes)):
        return "'classes' must be a list of class names"
    shape = meta.get("input_shape")
    sides = isinstance(shape, list) and len(shape) == 3
    if not (sides and all(type(v) is int and 1 <= v <= MAX_SIDE for v in shape)):
        return f"'input_shape' must be [channels, height, width], each in 1..{MAX_SIDE}"
    if not isinstance(meta.get("model_kwargs", {}), dict):
        return "'model_kwargs' must be a mapping"
    if not all(isinstance(meta.get(key, ""), str) for key in ("task", "normalization")):
        return "'task' and 'normalization' must be names"
    if not (
        isinstance(meta.get("weights_sha256"), str) and _SHA256.fullmatch(meta["weights_sha256"])
    ):
        return "'weights_sha256' (the weights' sha256, which every load checks) is missing or bad"
    return None


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
