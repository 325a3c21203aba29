"""Safe, atomic extraction of ``.tar`` / ``.tar.gz`` / ``.tgz`` archives into the cache.

An archive is extracted once into ``<cache>/extracted/<sha256 prefix>``.  Members
are checked before anything is written: absolute names, ``..`` components,
symbolic and hard links, devices and FIFOs are refused with `DataError`
(on top of ``tarfile``'s ``filter="data"`` where Python provides it).  Extraction
goes to a temporary folder that is renamed into place only when complete, so an
interrupted run never leaves a half-extracted cache.  The sizes the members
declare are added up as they stream by, and extraction stops with a
`DataError` (removing what it wrote) once they exceed
`MAX_EXTRACT_BYTES` or the free space of the cache's disk, so a small
compressed archive of zeros cannot fill the disk.
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

MAX_EXTRACT_BYTES = 64 << 30
"""The most an archive may extract to (64 GiB); raise ``cnnlab.data.archive.MAX_EXTRACT_BYTES``
for a larger data set."""


def is_archive(path: Path) -> bool:
    return path.is_file() and path.name.lower().endswith(ARCHIVE_SUFFIXES)


def check_member(member: tarfile.TarInfo, archive: Path) -> None:
    """Raise `DataError` unless ``member`` is a plain file or folder inside the root."""
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
    free = shutil.disk_usage(dest).free
    limit, total = min(MAX_EXTRACT_BYTES, free), 0
    try:
        with tarfile.open(archive, "r|*") as tar:  # one streaming pass
            bar = tqdm(
                tar, desc=f"extracting {archive.name}", unit="file", leave=False, disable=None
            )
            for member in bar:
                check_member(member, archive)
                total += member.size
                if total > limit:
                    raise DataError(
                        f"Refusing to extract {archive}: its members declare more than "
                        f"{limit} bytes, {_over(limit, free, dest.parent)}"
                    )
                tar.extract(member, dest, **extra)
    # TypeError: Python's tarfile on a gzip header cut short (ord() of b"")
    except (tarfile.TarError, OSError, EOFError, TypeError) as exc:
        raise DataError(f"Cannot extract {archive}: {exc}. Is it a complete tar archive?") from exc


def _over(limit: int, free: int, cache: Path) -> str:
    if limit == free:
        return f"the free space of {cache}. Free space there, or set CNNLAB_CACHE to a larger disk."
    return "cnnlab.data.archive.MAX_EXTRACT_BYTES; raise it for a data set this large."
