"""Where data sets and caches live on disk.

``CNNLAB_DATA`` overrides the data set root (default ``~/.cache/cnnlab/datasets``);
``CNNLAB_CACHE`` overrides the cache root (default ``~/.cache/cnnlab``) that holds
extracted archives and decoded tensors.
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """Root of cnnlab's caches (``$CNNLAB_CACHE`` or ``~/.cache/cnnlab``)."""
    return Path(os.environ.get("CNNLAB_CACHE") or Path.home() / ".cache" / "cnnlab")


def default_data_dir(name: str) -> Path:
    """Default folder of data set ``name`` (``$CNNLAB_DATA/<name>``)."""
    root = os.environ.get("CNNLAB_DATA") or Path.home() / ".cache" / "cnnlab" / "datasets"
    return Path(root) / name


def search_dirs(name: str, data_dir: str | os.PathLike | None) -> list[Path]:
    """Folders searched for data set ``name``: ``data_dir`` then ``data_dir/<name>``."""
    if data_dir is None:
        return [default_data_dir(name)]
    data_dir = Path(data_dir).expanduser()
    return [data_dir, data_dir / name]
