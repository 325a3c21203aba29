"""Data files built to exhaust memory or disk: each is refused from its header, in bounded memory.

Every case runs in a fraction of a second: the readers check the declared
sizes before they allocate or decompress, so none of these tests needs the
gigabytes the files describe.
"""

import gzip
import io
import pickle
import struct
import tarfile
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from cnnlab.data import TensorImageDataset, channel_stats, cifar, idx
from cnnlab.data import archive as archive_module
from cnnlab.data.image import decode_native
from cnnlab.data.imagefolder import load_imagefolder
from cnnlab.data.paths import cache_root
from cnnlab.data.selection import select_classes
from cnnlab.errors import ConfigError, DataError
from cnnlab.nn.norm import Normalize


def _png(width: int, height: int, rows: int) -> bytes:
    """A grey PNG declaring ``width`` x ``height`` pixels, with data for ``rows`` rows."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"".join(b"\0" + bytes(width) for _ in range(rows)), 9)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def test_idx_dimensions_whose_product_wraps_are_refused(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(bytes([0, 0, 8, 4]) + struct.pack(">4I", *[65536] * 4))  # 2**64 wraps to 0
    with pytest.raises(DataError, match="18446744073709551616 bytes"):
        idx.read_idx(path)


def test_a_gzip_idx_bomb_is_read_only_up_to_its_declared_size(tmp_path, monkeypatch):
    """The header says 2x3 bytes; the stream holds 64 MiB of zeros after it."""
    path = tmp_path / "x.gz"
    with gzip.open(path, "wb") as fh:
        fh.write(bytes([0, 0, 8, 2]) + struct.pack(">2I", 2, 3) + bytes(64 << 20))
    asked = []
    original = gzip.GzipFile.read

    def read(self, size=-1):
        asked.append(size)
        return original(self, size)

    monkeypatch.setattr(gzip.GzipFile, "read", read)
    with pytest.raises(DataError, match="more data"):
        idx.read_idx(path)
    assert asked == [4, 8, 7]  # magic, two dimensions, then 6 data bytes + 1: never "all"


def test_an_idx_header_over_the_limit_is_refused_before_reading(tmp_path, monkeypatch):
    monkeypatch.setattr(idx, "MAX_IDX_BYTES", 1000)
    path = tmp_path / "x"
    path.write_bytes(bytes([0, 0, 8, 1]) + struct.pack(">I", 1001) + bytes(1001))
    with pytest.raises(DataError, match="MAX_IDX_BYTES"):
        idx.read_idx(path)


def _shared_lists(depth: int):
    """Nested lists of 10 references to one list: 10**depth elements in a few hundred bytes."""
    rows = [0] * 10
    for _ in range(depth - 1):
        rows = [rows] * 10
    return rows


def test_a_cifar_pickle_of_shared_nested_lists_is_refused_without_building_it():
    payload = pickle.dumps({b"data": _shared_lists(10), b"labels": [0]}, protocol=2)
    assert len(payload) < 400  # 10**10 elements once numpy expanded them
    with pytest.raises(DataError, match="uint8"):
        cifar._batch(payload, "data_batch_1", b"labels")


@pytest.mark.parametrize(
    "labels",
    [_shared_lists(9), [[0]] * 2, [0.5, 1.0], "ab"],
    ids=["shared", "nested", "float", "str"],
)
def test_cifar_labels_must_be_a_flat_list_of_integers(labels):
    batch = {b"data": np.zeros((2, 3072), np.uint8), b"labels": labels}
    with pytest.raises(DataError, match="labels"):
        cifar._batch(pickle.dumps(batch, protocol=2), "data_batch_1", b"labels")


def test_cifar_class_names_of_shared_lists_are_refused():
    meta = pickle.dumps({b"label_names": [_shared_lists(9)] * 10}, protocol=2)
    with pytest.raises(DataError, match="label_names"):
        cifar._class_names(cifar.safe_load(meta), cifar.LAYOUTS["cifar10"])


def test_a_cifar_archive_member_over_the_limit_is_not_read(tmp_path, monkeypatch):
    monkeypatch.setattr(cifar, "MAX_FILE_BYTES", 100)
    with tarfile.open(tmp_path / "cifar-10-python.tar.gz", "w:gz") as tar:
        for name in ("data_batch_1", "test_batch", "batches.meta"):
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = 101
            tar.addfile(info, io.BytesIO(bytes(101)))
    layout = cifar.LAYOUTS["cifar10"]
    with pytest.raises(DataError, match="MAX_FILE_BYTES"):
        cifar._read_archive(tmp_path / "cifar-10-python.tar.gz", layout, ["data_batch_1"])


@pytest.mark.parametrize(("width", "rows"), [(30000, 10), (20000, 0)], ids=["short", "empty"])
def test_an_image_over_pillows_pixel_limit_is_refused_from_its_header(width, rows):
    """torchvision's PNG decoder crashed the process (SIGSEGV) on the short 30000^2 file."""
    with pytest.raises(DataError, match="MAX_IMAGE_PIXELS"):
        decode_native(_png(width, width, rows), "bomb.png")


def test_the_pixel_limit_counts_every_frame_of_an_animation(monkeypatch):
    frames = [Image.new("L", (10, 10), v) for v in range(5)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:])
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 499)
    with pytest.raises(DataError, match="5 frames of 10 x 10"):
        decode_native(buffer.getvalue(), "anim.gif")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 500)
    assert decode_native(buffer.getvalue(), "anim.gif").shape[-2:] == (10, 10)


def _tar_of_zeros(path, size: int):
    with tarfile.open(path, "w:gz") as tar:
        for name in ("cat/a.png", "dog/b.png"):
            info = tarfile.TarInfo(name)
            info.size = size
            tar.addfile(info, io.BytesIO(bytes(size)))
    return path


def test_a_tar_bomb_stops_at_the_extraction_limit_and_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(archive_module, "MAX_EXTRACT_BYTES", 1 << 20)
    archive = _tar_of_zeros(tmp_path / "bomb.tar.gz", 800 << 10)  # 1.6 MiB in a 3 KiB file
    with pytest.raises(DataError, match="MAX_EXTRACT_BYTES"):
        load_imagefolder(archive)
    assert list((cache_root() / "extracted").iterdir()) == []


def test_a_rejected_archive_leaves_nothing_extracted_in_the_cache(tmp_path):
    archive = _tar_of_zeros(tmp_path / "zeros.tar.gz", 10_000)  # extracts, but holds no images
    with pytest.raises(DataError, match=r"Cannot (read|decode) image"):
        load_imagefolder(archive)
    assert list((cache_root() / "extracted").iterdir()) == []


def test_a_damaged_decoded_cache_is_rebuilt(tmp_path, make_image_folder):
    root = make_image_folder(tmp_path / "folder", {"a": 2, "b": 2})
    first = load_imagefolder(root)
    (cache,) = (cache_root() / "decoded").iterdir()
    cache.write_bytes(cache.read_bytes()[:100])  # truncated by a full disk or a kill
    with pytest.warns(UserWarning, match="Damaged cache"):
        again = load_imagefolder(root)
    assert torch.equal(again.images, first.images) and cache.stat().st_size > 100


def test_mixed_image_sizes_say_how_to_resize_them(tmp_path, make_image_folder):
    make_image_folder(tmp_path / "folder", {"a": 1}, size=(8, 8))
    make_image_folder(tmp_path / "folder", {"b": 1}, size=(9, 9))
    with pytest.raises(DataError, match="image_size=N"):
        load_imagefolder(tmp_path / "folder")


def test_class_names_that_are_not_strings_are_refused_without_quoting_them():
    images = torch.zeros(2, 1, 4, 4, dtype=torch.uint8)
    data = TensorImageDataset(images, torch.tensor([0, 1]), ["a", "b"])
    with pytest.raises(ConfigError, match="got a list among them"):
        select_classes(data, [_shared_lists(9)])


def test_a_constant_channel_is_normalized_with_the_std_floor():
    """All-black images: std 0 would divide by zero; the floor is one grey level."""
    images = torch.zeros(4, 3, 5, 5, dtype=torch.uint8)
    images[:, 1] = torch.arange(4).view(4, 1, 1) * 60  # one channel that does vary
    mean, std = channel_stats(TensorImageDataset(images, torch.zeros(4, dtype=torch.long), ["x"]))
    expected = np.arange(4) * 60 / 255
    torch.testing.assert_close(std, torch.tensor([1 / 255, expected.std(), 1 / 255]).float())
    out = Normalize(mean, std)(images.float() / 255)
    assert out.isfinite().all() and out[:, 0].eq(0).all()
