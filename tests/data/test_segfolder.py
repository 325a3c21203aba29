"""segfolder: image/mask pairs from a folder or tar, and clear errors for broken pairs."""

from __future__ import annotations

import tarfile

import numpy as np
import pytest
import torch
from PIL import Image

from cnnlab.data import load_data
from cnnlab.data.segfolder import load_segfolder
from cnnlab.errors import ConfigError, DataError

CLASSES = ["background", "cat", "dog"]


def _make(root, count=5, size=(12, 10), mode="RGB", palette=True, seed=0):
    """``count`` pairs of random images and masks with values 0..2 (W x H = size)."""
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    (root / "classes.txt").write_text("\n".join(CLASSES) + "\n")
    pairs = []
    for i in range(count):
        channels = 3 if mode == "RGB" else 1
        pixels = rng.integers(0, 256, (size[1], size[0], channels), dtype=np.uint8)
        Image.fromarray(pixels[..., 0] if channels == 1 else pixels, mode).save(
            root / "images" / f"im{i}.png"
        )
        labels = rng.integers(0, 3, (size[1], size[0]), dtype=np.uint8)
        mask = Image.fromarray(labels, "L")
        if palette:
            mask = mask.convert("P")
            mask.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0] + [0] * 759)
        mask.save(root / "masks" / f"im{i}.png")
        pairs.append((pixels, labels))
    return root, pairs


def test_pairs_are_read_exactly_in_stem_order(tmp_path):
    root, pairs = _make(tmp_path / "seg")
    data = load_segfolder(root)
    assert data.classes == CLASSES
    assert data.images.shape == (5, 3, 10, 12) and data.labels.shape == (5, 10, 12)
    for i, (pixels, labels) in enumerate(pairs):
        assert torch.equal(data.images[i], torch.from_numpy(pixels).permute(2, 0, 1))
        assert torch.equal(data.labels[i], torch.from_numpy(labels).long())


def test_palette_and_greyscale_masks_give_the_same_labels(tmp_path):
    palette = load_segfolder(_make(tmp_path / "p", palette=True)[0])
    grey = load_segfolder(_make(tmp_path / "g", palette=False)[0])
    assert torch.equal(palette.labels, grey.labels)


def test_a_tar_archive_with_a_wrapping_folder_is_read(tmp_path):
    root, _ = _make(tmp_path / "data" / "seg", mode="L")
    archive = tmp_path / "seg.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(root, arcname="seg")
    data = load_segfolder(archive)
    assert data.images.shape == (5, 1, 10, 12)
    assert torch.equal(data.labels, load_segfolder(root).labels)


def test_image_size_resizes_masks_by_nearest_neighbour(tmp_path):
    root, _ = _make(tmp_path / "seg", size=(8, 8))
    data = load_segfolder(root, image_size=16)
    assert data.images.shape[-2:] == (16, 16)
    original = load_segfolder(root).labels
    assert torch.equal(data.labels, original.repeat_interleave(2, 1).repeat_interleave(2, 2))


def test_load_data_splits_pairs_at_random_with_a_test_split(tmp_path):
    root, _ = _make(tmp_path / "seg", count=20)
    data = load_data("segfolder", root, val_fraction=0.25)
    assert (len(data.train), len(data.val), len(data.test)) == (12, 4, 4)
    assert data.classes == CLASSES and data.input_shape == (3, 10, 12)
    with pytest.raises(ConfigError, match="image_size only applies"):
        load_data("seg-canvas", image_size=32)


def test_a_mask_whose_size_differs_from_its_image(tmp_path):
    root, _ = _make(tmp_path / "seg")
    Image.fromarray(np.zeros((9, 12), np.uint8), "L").save(root / "masks" / "im2.png")
    with pytest.raises(DataError, match=r"im2.png is 12x9 \(W x H\) but its image is 12x10"):
        load_segfolder(root)


def test_label_values_outside_the_class_list(tmp_path):
    root, _ = _make(tmp_path / "seg")
    labels = np.zeros((10, 12), np.uint8)
    labels[0, :2] = (3, 255)
    Image.fromarray(labels, "L").save(root / "masks" / "im1.png")
    with pytest.raises(DataError, match=r"im1.png holds the values \[3, 255\], outside the 3"):
        load_segfolder(root)


def test_missing_pairs_are_named(tmp_path):
    root, _ = _make(tmp_path / "seg")
    (root / "masks" / "im0.png").unlink()
    (root / "images" / "im4.png").rename(root / "images" / "other.png")
    with pytest.raises(DataError, match=r"images without a mask in masks/: im0, other; "
                       r"masks without an image in images/: im4"):  # fmt: skip
        load_segfolder(root)


def test_an_rgb_mask_is_refused_with_how_to_save_one(tmp_path):
    root, _ = _make(tmp_path / "seg")
    Image.new("RGB", (12, 10)).save(root / "masks" / "im0.png")
    with pytest.raises(DataError, match="mode RGB; masks must be index PNGs"):
        load_segfolder(root)


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "classes.txt is missing"), ("background\n", "at least 2"), ("a\n\nb\n", "blank")],
)
def test_a_missing_or_bad_class_list(tmp_path, content, message):
    root, _ = _make(tmp_path / "seg")
    if content is None:
        (root / "classes.txt").unlink()
    else:
        (root / "classes.txt").write_text(content)
    with pytest.raises(DataError, match=message):
        load_segfolder(root)


def test_images_of_different_sizes_need_image_size(tmp_path):
    root, _ = _make(tmp_path / "seg")
    Image.new("RGB", (20, 20)).save(root / "images" / "im3.png")
    Image.new("L", (20, 20)).save(root / "masks" / "im3.png")
    with pytest.raises(DataError, match="2 different sizes"):
        load_segfolder(root)
    assert load_segfolder(root, image_size=8).images.shape == (5, 3, 8, 8)


def test_no_data_dir_or_no_images_folder(tmp_path):
    with pytest.raises(DataError, match="needs data_dir"):
        load_segfolder(None)
    with pytest.raises(DataError, match="no images/ folder"):
        load_segfolder(tmp_path)
