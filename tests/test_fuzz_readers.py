"""Property-based fuzzing of every reader of untrusted files (issue 31).

Each reader gets generated and mutated inputs: random bytes, a valid file with
bytes overwritten, inserted and cut off, and structured inputs with hostile
sizes (IDX dimensions, CIFAR payloads of nested containers).  The property:
the reader either returns a value or raises a :class:`CnnlabError`; any other
exception (a traceback for the user) fails the test, and hypothesis' deadline
bounds the time of each input.

The default run is small (seconds).  The long run, slow-marked, is run under a
memory limit so that an input that allocates without bound fails too::

    prlimit --as=6000000000 .venv/bin/pytest -m slow -q tests/test_fuzz_readers.py
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
import pickle
import struct
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from cnnlab.data import cifar, idx
from cnnlab.data.image import decode_native
from cnnlab.data.imagefolder import load_imagefolder
from cnnlab.errors import CnnlabError
from cnnlab.runs import load_state, read_meta, save_state
from cnnlab.train.config import TrainConfig

FAST, LONG = 25, 1500
DEADLINE_MS = 5000


def _png(mode: str = "L") -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.arange(48, dtype=np.uint8).reshape(6, 8)).convert(mode).save(buffer, "PNG")
    return buffer.getvalue()


def _image(fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.arange(48, dtype=np.uint8).reshape(6, 8)).convert("RGB").save(buffer, fmt)
    return buffer.getvalue()


def _idx() -> bytes:
    array = np.arange(60, dtype=np.uint8).reshape(3, 4, 5)
    return bytes([0, 0, 8, 3]) + struct.pack(">3I", 3, 4, 5) + array.tobytes()


def _cifar_batch() -> bytes:
    data = np.arange(2 * 3072, dtype=np.uint8).reshape(2, 3072)
    return pickle.dumps({b"data": data, b"labels": [0, 1]}, protocol=2)


def _tar() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name in ("cat/0.png", "dog/0.png"):
            data = _png()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _config() -> bytes:
    return TrainConfig(model="lenet5", dataset="digits", epochs=2).to_yaml().encode()


def _meta() -> bytes:
    meta = {
        "task": "classification",
        "model": "lenet5",
        "model_kwargs": {},
        "classes": ["0", "1"],
        "input_shape": [1, 32, 32],
        "epoch": 2,
        "weights_sha256": "0" * 64,
    }
    return json.dumps(meta).encode()


def _checkpoint() -> bytes:
    state = {
        "model": {"w": torch.arange(6.0).view(2, 3)},
        "optimizer": {"state": {0: {"step": torch.tensor(3.0)}}, "param_groups": [{"lr": 0.1}]},
        "trainer": {"epoch": 3, "history": [{"val_acc": 0.5}]},
    }
    with tempfile.TemporaryDirectory() as folder:
        save_state(Path(folder) / "last.safetensors", state)
        return (Path(folder) / "last.safetensors").read_bytes()


def _read_file(name: str, reader: Callable[[Path], object]) -> Callable[[bytes], object]:
    def read(data: bytes) -> object:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / name
            path.write_bytes(data)
            os.environ["CNNLAB_CACHE"] = str(Path(folder) / "cache")
            return reader(path)

    return read


# name -> (a valid input, the reader)
READERS: dict[str, tuple[bytes, Callable[[bytes], object]]] = {
    "idx": (_idx(), lambda data: idx.parse_idx(data)),
    "idx.gz": (gzip.compress(_idx()), _read_file("x-idx3-ubyte.gz", idx.read_idx)),
    "cifar-batch": (_cifar_batch(), lambda data: cifar._batch(data, "batch", b"labels")),
    "png": (_png(), decode_native),
    "gif": (_image("GIF"), decode_native),
    "jpeg": (_image("JPEG"), decode_native),
    "bmp": (_image("BMP"), decode_native),
    "tar.gz": (_tar(), _read_file("images.tar.gz", load_imagefolder)),
    "config.yaml": (_config(), _read_file("config.yaml", TrainConfig.from_yaml)),
    "meta.json": (_meta(), _read_file("meta.json", lambda path: read_meta(path.parent))),
    "last.safetensors": (_checkpoint(), _read_file("last.safetensors", load_state)),
}


def _mutate(valid: bytes, edits: list[tuple[int, int]], insert: bytes, cut: int | None) -> bytes:
    data = bytearray(valid)
    for position, value in edits:
        data[position % len(data)] = value
    at = edits[0][0] % len(data) if edits else 0
    data[at:at] = insert
    return bytes(data if cut is None else data[:cut])


def inputs(valid: bytes) -> st.SearchStrategy[bytes]:
    """Random bytes, or ``valid`` with a few bytes overwritten, some inserted and the end cut."""
    edits = st.lists(st.tuples(st.integers(0, 1 << 20), st.integers(0, 255)), max_size=6)
    cut = st.none() | st.integers(0, len(valid))
    mutated = st.builds(_mutate, st.just(valid), edits, st.binary(max_size=8), cut)
    return st.binary(max_size=256) | mutated


def _loads_or_refuses(reader: Callable[[bytes], object], data: bytes) -> None:
    with contextlib.suppress(CnnlabError):  # any other exception fails the test
        reader(data)


def _property(name: str, examples: int):
    valid, reader = READERS[name]

    @settings(
        max_examples=examples,
        deadline=DEADLINE_MS,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(data=inputs(valid))
    def check(data: bytes) -> None:
        _loads_or_refuses(reader, data)

    return check


@pytest.fixture(autouse=True)
def _own_cache(monkeypatch):
    monkeypatch.setenv("CNNLAB_CACHE", os.environ.get("CNNLAB_CACHE", "/nonexistent"))


@pytest.mark.parametrize("name", READERS)
def test_the_valid_seed_of_each_reader_loads(name):
    valid, reader = READERS[name]
    if name == "meta.json":
        return  # its seed is read; the weights it names are not part of it
    assert reader(valid) is not None


@pytest.mark.parametrize("name", READERS)
def test_a_reader_loads_or_refuses_mutated_input(name):
    _property(name, FAST)()


@pytest.mark.slow
@pytest.mark.parametrize("name", READERS)
def test_a_reader_loads_or_refuses_mutated_input_long(name):
    _property(name, LONG)()


hostile_sizes = st.integers(0, 2**32 - 1) | st.sampled_from([0, 1, 65536, 2**31, 2**32 - 1])


@settings(max_examples=FAST * 4, deadline=DEADLINE_MS)
@given(code=st.sampled_from([8, 9, 11, 12, 13, 14]), dims=st.lists(hostile_sizes, max_size=6))
def test_idx_headers_of_any_dimensions_load_or_refuse(code, dims):
    header = bytes([0, 0, code, len(dims)]) + struct.pack(f">{len(dims)}I", *dims)
    _loads_or_refuses(idx.parse_idx, header + bytes(64))


containers = st.recursive(
    st.integers(-(2**70), 2**70) | st.binary(max_size=8) | st.text(max_size=4) | st.none(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.binary(max_size=6), inner),
    max_leaves=20,
)


@settings(max_examples=FAST * 4, deadline=DEADLINE_MS)
@given(data=containers, labels=containers)
def test_cifar_batches_of_any_containers_load_or_refuse(data, labels):
    payload = pickle.dumps({b"data": data, b"labels": labels}, protocol=2)
    _loads_or_refuses(lambda raw: cifar._batch(raw, "batch", b"labels"), payload)


@settings(max_examples=FAST * 4, deadline=DEADLINE_MS)
@given(values=st.dictionaries(st.sampled_from(list(TrainConfig().to_dict())), containers))
def test_config_files_of_any_values_load_or_refuse(values):
    text = yaml.safe_dump(values).encode()
    _loads_or_refuses(_read_file("config.yaml", TrainConfig.from_yaml), text)
