"""seg-canvas from other sources: MNIST-style and CIFAR-10 glyphs, exact masks, determinism."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from tests.conftest import shared_dataset
from tests.data_helpers import write_idx

from cnnlab.data import load_data
from cnnlab.data.canvas import CANVAS_SOURCES, compose_canvases, load_canvases
from cnnlab.errors import ConfigError, DataError

CIFAR10 = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def _write_glyph_idx(root, per_class=6):
    """MNIST-style files whose image of class c is a filled square of brightness 100 + 15·c."""
    root.mkdir(parents=True)
    labels = np.repeat(np.arange(10), per_class)
    images = np.zeros((len(labels), 28, 28), dtype=np.uint8)
    images[:, 6:22, 6:22] = (100 + 15 * labels)[:, None, None]
    for prefix in ("train", "t10k"):
        write_idx(root / f"{prefix}-images-idx3-ubyte.gz", images)
        write_idx(root / f"{prefix}-labels-idx1-ubyte.gz", labels)
    return root


def _write_cifar(root, n=40):
    root.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in [*(f"data_batch_{i}" for i in range(1, 6)), "test_batch"]:
        batch = {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                 b"labels": [i % 10 for i in range(n)]}  # fmt: skip
        (root / name).write_bytes(pickle.dumps(batch, protocol=2))
    meta = {b"label_names": [c.encode() for c in CIFAR10]}
    (root / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))
    return root


def test_mnist_canvases_label_each_glyph_with_its_class(tmp_path):
    root = _write_glyph_idx(tmp_path / "mnist")
    train, test = load_canvases("mnist", root, train=30, test=10)
    assert train.classes == ["background", "0", "1", "2", "3"]
    assert train.images.shape == (30, 1, 64, 64) and test.labels.shape == (10, 64, 64)
    # A glyph pixel is exactly its class's brightness (interpolation inside a flat square);
    # the background noise stays below 0.12 · 255.
    for images, masks in ((train.images[:, 0], train.labels), (test.images[:, 0], test.labels)):
        for value in range(1, 5):
            inside = images[masks == value]
            assert len(inside) and (inside == 100 + 15 * (value - 1)).float().mean() > 0.9
        assert int(images[masks == 0].max()) <= round(0.12 * 255)
        assert set(masks.unique().tolist()) == {0, 1, 2, 3, 4}


def test_canvases_are_deterministic_and_sources_differ(tmp_path):
    root = _write_glyph_idx(tmp_path / "mnist")
    first, _ = load_canvases("mnist", root, train=5, test=1)
    again, _ = load_canvases("mnist", root, train=5, test=1)
    assert torch.equal(first.images, again.images) and torch.equal(first.labels, again.labels)
    digits, _ = load_canvases("digits", train=5, test=1)
    assert not torch.equal(first.images, digits.images)


def test_cifar_canvases_are_colour_and_each_photograph_covers_its_square(tmp_path):
    root = _write_cifar(tmp_path / "cifar10")
    train, _ = load_canvases("cifar10", root, train=20, test=4)
    assert train.classes == ["background", "airplane", "automobile", "bird", "cat"]
    assert train.images.shape == (20, 3, 64, 64)
    for mask in train.labels:  # the last photograph drawn lies on top: a whole square >= 18x18
        counts = torch.bincount(mask.flatten(), minlength=5)[1:]
        assert int(counts.max()) >= 18 * 18


def test_compose_draws_opaque_squares_exactly_where_the_mask_says():
    glyphs = torch.full((1, 3, 8, 8), 0.8)
    canvases, masks = compose_canvases(
        glyphs, torch.tensor([2]), 3, per_canvas=(1, 1), scale=(10, 10), opaque=True
    )
    for canvas, mask in zip(canvases, masks, strict=True):
        assert int((mask == 2).sum()) == 100  # one 10x10 square
        assert torch.all(canvas[:, mask == 2] == round(0.8 * 255))


def test_load_data_passes_the_canvas_source_and_refuses_it_elsewhere(tmp_path):
    root = _write_glyph_idx(tmp_path / "fashion-mnist")
    data = load_data("seg-canvas", root, canvas_source="fashion-mnist")
    assert data.classes == ["background", *CANVAS_SOURCES["fashion-mnist"]]
    assert len(data.train) + len(data.val) == 2000 and len(data.test) == 400
    with pytest.raises(ConfigError, match="does not apply to 'digits'"):
        load_data("digits", canvas_source="mnist")
    with pytest.raises(ConfigError, match="canvas source"):
        load_canvases("svhn")


def test_a_missing_source_is_a_data_error_naming_the_files(tmp_path):
    with pytest.raises(DataError, match="missing"):
        load_canvases("mnist", tmp_path / "nowhere")


def test_fashion_mnist_canvases_from_the_shared_files():
    root = shared_dataset("fashion-mnist")
    train, test = load_canvases("fashion-mnist", root, train=20, test=20)
    assert train.classes[1:] == ["T-shirt/top", "Trouser", "Sneaker", "Bag"]
    assert set(test.labels.unique().tolist()) == {0, 1, 2, 3, 4}
    images, masks = test.images[:, 0], test.labels
    assert int(images[masks > 0].min()) > int(0.12 * 255)  # labelled pixels are the garment's
