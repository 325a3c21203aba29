"""The best weights and the meta.json that describes them, kept consistent.

``meta.json`` records the sha256 of ``model.safetensors``.  Two atomic writes
are not one, so a kill between them must leave a pair that agrees.
`save_best` makes the meta.json write the commit point:

1. the new weights go to ``model.next.safetensors`` (atomically);
2. ``meta.json`` naming their sha256 replaces the old one (atomically);
3. ``model.next.safetensors`` is renamed onto ``model.safetensors``.

Killed before 2, the old weights and old meta still agree and the pending
file is ignored; killed between 2 and 3, meta.json names the pending file's
sha256 and `load_best` reads that file.  `settle_best`, called on
``--resume``, finishes step 3 or discards a stale pending file.  The
alternative, writing meta.json first, would describe weights that may never
arrive; hashing inside the weights file cannot cover the file itself.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from cnnlab.fileio import sha256_file
from cnnlab.runs.checkpoint import load_weights, save_weights
from cnnlab.runs.layout import BEST, BEST_PENDING, META
from cnnlab.runs.records import read_meta, write_meta


def save_best(run_dir: str | os.PathLike, model: nn.Module, meta: dict[str, Any]) -> str:
    """Write ``model``'s weights as the best ones and ``meta`` (with their sha256) as
    meta.json, so that a kill at any point leaves a consistent pair; return the sha256."""
    run_dir = Path(run_dir)
    sha = save_weights(run_dir / BEST_PENDING, model)
    write_meta(run_dir, {**meta, "weights_sha256": sha})
    os.replace(run_dir / BEST_PENDING, run_dir / BEST)
    return sha


def _committed_pending(run_dir: Path, sha: str | None) -> Path | None:
    """The pending weights file when meta.json already names it (a save killed in step 3)."""
    pending = run_dir / BEST_PENDING
    if sha is not None and pending.is_file() and sha256_file(pending) == sha:
        return pending
    return None


def load_best(run_dir: str | os.PathLike, meta: dict[str, Any]) -> dict[str, torch.Tensor]:
    """The best weights of ``run_dir`` that ``meta`` describes, checked against its sha256."""
    run_dir = Path(run_dir)
    sha = meta.get("weights_sha256")
    path = _committed_pending(run_dir, sha) or run_dir / BEST
    return load_weights(path, sha)


def settle_best(run_dir: str | os.PathLike) -> None:
    """Finish or discard a `save_best` that a kill interrupted (call it while
    holding the run's claim)."""
    run_dir = Path(run_dir)
    pending = run_dir / BEST_PENDING
    if not pending.exists():
        return
    sha = read_meta(run_dir).get("weights_sha256") if (run_dir / META).is_file() else None
    if _committed_pending(run_dir, sha) is not None:
        os.replace(pending, run_dir / BEST)
    else:
        pending.unlink()
