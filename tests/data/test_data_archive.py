import io
import tarfile

import pytest

from cnnlab.data.archive import extract
from cnnlab.data.paths import cache_root
from cnnlab.errors import DataError


def make_tar(path, members):
    """``members``: list of (TarInfo, bytes or None)."""
    with tarfile.open(path, "w:gz") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def file_info(name, data=b"x"):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def link_info(name, target, kind):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info, None


def device_info(name):
    info = tarfile.TarInfo(name)
    info.type, info.devmajor, info.devminor = tarfile.CHRTYPE, 1, 3
    return info, None


@pytest.mark.parametrize(
    "evil",
    [
        file_info("../evil"),
        file_info("train/../../evil"),
        file_info("/tmp/cnnlab-evil-absolute"),
        link_info("train/cat/link.png", "/etc/passwd", tarfile.SYMTYPE),
        link_info("train/cat/hard.png", "/etc/passwd", tarfile.LNKTYPE),
        device_info("train/cat/dev.png"),
    ],
    ids=["dotdot", "nested-dotdot", "absolute", "symlink", "hardlink", "device"],
)
def test_unsafe_member_is_refused_and_nothing_is_left(tmp_path, evil):
    archive = make_tar(tmp_path / "a.tar.gz", [file_info("train/cat/1.png"), evil])
    before = set(tmp_path.rglob("*"))
    with pytest.raises(DataError, match="Refusing"):
        extract(archive)
    assert set(tmp_path.rglob("*")) == before
    assert not (tmp_path.parent / "evil").exists()
    extracted = cache_root() / "extracted"
    assert not extracted.exists() or list(extracted.iterdir()) == []


def test_extraction_happens_once_into_a_content_addressed_folder(tmp_path):
    archive = make_tar(tmp_path / "a.tgz", [file_info("train/cat/1.png", b"abc")])
    target = extract(archive)
    assert (target / "train" / "cat" / "1.png").read_bytes() == b"abc"
    (target / "marker").write_text("kept")
    assert extract(archive) == target and (target / "marker").exists()


def test_truncated_archive_is_a_data_error(tmp_path):
    archive = make_tar(tmp_path / "a.tar.gz", [file_info("train/cat/1.png", b"x" * 10000)])
    archive.write_bytes(archive.read_bytes()[:40])
    with pytest.raises(DataError, match="Cannot extract"):
        extract(archive)
    assert list((cache_root() / "extracted").iterdir()) == []
