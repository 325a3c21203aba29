"""Safe, atomic extraction of ``.tar`` / ``.tar.gz`` / ``.tgz`` archives into the cache.

An archive is extracted once into ``<cache>/extracted/<sha256 prefix>``.  Members
are checked before anything is written: absolute names, ``..`` components,
symbolic and hard links, devices and FIFOs are refused with :class:`DataError`
(on top of ``tarfile``'s ``filter="data"`` where Python provides it).  Extraction
goes to a temporary folder that is renamed into place only when complete, so an
interrupted run never leaves a half-extracted cache.
"""

from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
from pathlib import Path, PurePosixPath

from tqdm.auto import tqdm

from cnnlab.data.paths import cache_root
from cnnlab.errors import DataError
from cnnlab.fileio import sha256_file

ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz")


def is_archive(path: Path) -> bool:
    return path.is_file() and path.name.lower().endswith(ARCHIVE_SUFFIXES)


def check_member(member: tarfile.TarInfo, archive: Path) -> None:
    """Raise :class:`DataError` unless ``member`` is a plain file or folder inside the root."""
    name = PurePosixPath(member.name)
    if name.is_absolute() or member.name.startswith(("/", "\\")) or ".." in name.parts:
        raise DataError(
            f"Refusing to extract {archive}: member {member.name!r} points outside "
            "the extraction folder."
        )
    if not (member.isfile() or member.isdir()):
        kind = "link" if member.issym() or member.islnk() else "special file"
        raise DataError(
            f"Refusing to extract {archive}: member {member.name!r} is a {kind}; "
            "image archives may only contain files and folders."
        )


def extract(archive: str | os.PathLike, *, digest: str | None = None) -> Path:
    """Extract ``archive`` (once) into the cache and return the extracted folder.

    ``digest`` is the archive's SHA-256 if the caller has already computed it.
    """
    archive = Path(archive)
    digest = digest or sha256_file(archive)
    target = cache_root() / "extracted" / digest[:16]
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        _extract_members(archive, tmp)
        try:
            os.rename(tmp, target)
        except OSError:
            if not target.is_dir():  # not a concurrent extraction that won the race
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _extract_members(archive: Path, dest: Path) -> None:
    extra = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
    try:
        with tarfile.open(archive, "r|*") as tar:  # one streaming pass
            bar = tqdm(
                tar, desc=f"extracting {archive.name}", unit="file", leave=False, disable=None
            )
            for member in bar:
                check_member(member, archive)
                tar.extract(member, dest, **extra)
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise DataError(f"Cannot extract {archive}: {exc}. Is it a complete tar archive?") from exc
