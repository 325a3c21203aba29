"""Shared fixtures of the data tests: isolated cache/data roots, small image files."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


@pytest.fixture(autouse=True)
def isolated_roots(tmp_path_factory, monkeypatch):
    """Keep every test's caches and default data folders out of the user's home."""
    monkeypatch.setenv("CNNLAB_CACHE", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.setenv("CNNLAB_DATA", str(tmp_path_factory.mktemp("datasets")))
    monkeypatch.delenv("CNNLAB_MIRROR", raising=False)


def _write_image_folder(root: Path, classes: dict[str, int], size=(12, 10), mode="RGB") -> Path:
    rng = np.random.default_rng(0)
    channels = {"RGB": 3, "L": 1}[mode]
    for name, count in classes.items():
        (root / name).mkdir(parents=True)
        for i in range(count):
            pixels = rng.integers(0, 256, (*size, channels), dtype=np.uint8)
            Image.fromarray(pixels[..., 0] if channels == 1 else pixels).save(
                root / name / f"{i:03d}.png"
            )
    return root


@pytest.fixture
def make_image_folder():
    """``make_image_folder(root, {class: count}, size, mode)`` writes ``root/<class>/<i>.png``."""
    return _write_image_folder


def _idx_bytes(array: np.ndarray) -> bytes:
    code = {np.uint8: 0x08, np.int16: 0x0B, np.int32: 0x0C, np.float32: 0x0D}[array.dtype.type]
    header = struct.pack(">BBBB", 0, 0, code, array.ndim) + struct.pack(
        f">{array.ndim}I", *array.shape
    )
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


@pytest.fixture
def idx_bytes():
    """``idx_bytes(array)``: the bytes of an IDX file holding ``array``."""
    return _idx_bytes
