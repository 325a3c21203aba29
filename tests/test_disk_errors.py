"""Full, read-only and size-limited disks: a clear error, the previous file intact (issue 31).

ENOSPC and EROFS are simulated by making the system call fail; EFBIG is real:
a child process writes under ``RLIMIT_FSIZE`` (what ``ulimit -f`` sets), where
the kernel refuses the write.
"""

import errno
import os
import subprocess
import sys
import textwrap
import warnings

import pytest
import torch

from cnnlab import fileio
from cnnlab.data import TensorImageDataset
from cnnlab.data import imagefolder as imagefolder_module
from cnnlab.errors import DiskWriteError
from cnnlab.fileio import write_json, write_text
from cnnlab.runs import claim_run_dir, load_state, save_state


def _fail_with(code: int):
    def fail(*args, **kwargs):
        raise OSError(code, os.strerror(code))

    return fail


@pytest.mark.parametrize(
    ("code", "advice"),
    [(errno.ENOSPC, "disk is full"), (errno.EDQUOT, "disk is full"), (errno.EROFS, "read-only")],
)
def test_a_write_on_a_full_or_read_only_disk_keeps_the_old_file(
    tmp_path, monkeypatch, code, advice
):
    target = tmp_path / "meta.json"
    write_json(target, {"epoch": 1})
    monkeypatch.setattr(fileio.os, "fsync", _fail_with(code))
    with pytest.raises(DiskWriteError, match=advice) as caught:
        write_json(target, {"epoch": 2})
    assert str(target) in str(caught.value)
    assert target.read_text() == '{\n  "epoch": 1\n}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["meta.json"]  # no temporary left


def test_a_folder_that_cannot_be_created_is_a_disk_write_error(tmp_path, monkeypatch):
    monkeypatch.setattr(fileio.tempfile, "mkstemp", _fail_with(errno.EROFS))
    with pytest.raises(DiskWriteError, match="read-only"):
        write_text(tmp_path / "a.txt", "x")


def test_a_checkpoint_over_the_file_size_limit_keeps_the_previous_one(tmp_path):
    """A real EFBIG: the child may write at most 64 KiB per file."""
    path = tmp_path / "last.safetensors"
    save_state(path, {"w": torch.zeros(10)})
    child = textwrap.dedent(f"""
        import resource, sys, torch
        from cnnlab.errors import DiskWriteError
        from cnnlab.runs import save_state
        resource.setrlimit(resource.RLIMIT_FSIZE, (65536, 65536))
        try:
            save_state({str(path)!r}, {{"w": torch.zeros(100_000)}})
        except DiskWriteError as exc:
            print(exc)
            sys.exit(2)
    """)
    result = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True)
    assert result.returncode == 2, result.stderr
    assert "File too large" in result.stdout and "ulimit -f" in result.stdout
    assert load_state(path)["w"].shape == (10,)
    assert [p.name for p in tmp_path.iterdir()] == ["last.safetensors"]


def test_claiming_a_run_on_a_read_only_disk_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "open", _fail_with(errno.EROFS))
    with pytest.raises(DiskWriteError, match=r"read-only.*--out"):
        claim_run_dir(tmp_path / "run")


def test_an_unwritable_decoded_image_cache_is_skipped(tmp_path, monkeypatch):
    """The cache is optional: a cache root that is a file (not a folder) only warns."""
    (tmp_path / "cache").write_text("not a folder")
    monkeypatch.setenv("CNNLAB_CACHE", str(tmp_path / "cache"))
    dataset = TensorImageDataset(
        torch.zeros(2, 1, 3, 3, dtype=torch.uint8), torch.tensor([0, 1]), ["a", "b"]
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        imagefolder_module._save_cache(imagefolder_module._cache_file("key", None), dataset)
    assert any("not cached" in str(w.message) for w in caught)
