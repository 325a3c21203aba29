"""--download against a local HTTP server (never the real mirrors)."""

import functools
import gzip
import hashlib
import http.server
import threading

import numpy as np
import pytest

from cnnlab.data import download, load_data
from cnnlab.errors import DataError

STEMS = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
]


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def mirror(tmp_path, monkeypatch):
    """Serve ``tmp_path/served`` on 127.0.0.1 and point CNNLAB_MIRROR at it."""
    served = tmp_path / "served"
    served.mkdir()
    handler = functools.partial(QuietHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("CNNLAB_MIRROR", f"http://127.0.0.1:{server.server_port}/")
    yield served
    server.shutdown()
    server.server_close()


def serve_mnist(idx_bytes, served, monkeypatch, corrupt=None):
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (50, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": (np.arange(50) % 10).astype(np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (10, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": (np.arange(10) % 10).astype(np.uint8),
    }
    checksums = {}
    for stem, array in arrays.items():
        data = gzip.compress(idx_bytes(array))
        checksums[f"{stem}.gz"] = hashlib.md5(data).hexdigest()
        if stem == corrupt:
            data = data[:-1] + bytes([data[-1] ^ 1])
        (served / f"{stem}.gz").write_bytes(data)
    monkeypatch.setitem(download.RESOURCES, "mnist", checksums)


def test_download_fetches_verifies_and_loads(tmp_path, mirror, monkeypatch, idx_bytes):
    serve_mnist(idx_bytes, mirror, monkeypatch)
    splits = load_data("mnist", tmp_path / "data", download=True, val_fraction=0.2)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (40, 10, 10)
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == sorted(f"{s}.gz" for s in STEMS)


def test_wrong_checksum_is_refused_and_not_kept(tmp_path, mirror, monkeypatch, idx_bytes):
    serve_mnist(idx_bytes, mirror, monkeypatch, corrupt="t10k-images-idx3-ubyte")
    with pytest.raises(DataError, match="checksum mismatch"):
        load_data("mnist", tmp_path / "data", download=True)
    assert not (tmp_path / "data" / "t10k-images-idx3-ubyte.gz").exists()
    assert not [p for p in (tmp_path / "data").iterdir() if p.name.endswith(".tmp")]


def test_unreachable_mirror_is_a_data_error(tmp_path, mirror, monkeypatch):
    monkeypatch.setitem(download.RESOURCES, "mnist", {f"{s}.gz": "0" * 32 for s in STEMS})
    with pytest.raises(DataError, match="404"):
        load_data("mnist", tmp_path / "data", download=True)


def test_default_mirrors_are_the_official_ones(monkeypatch):
    monkeypatch.delenv("CNNLAB_MIRROR", raising=False)
    assert download.mirrors("cifar10") == ["https://www.cs.toronto.edu/~kriz/"]
    assert download.RESOURCES["cifar10"]["cifar-10-python.tar.gz"] == (
        "c58f30108f718f92721af3b95e74349a"
    )
