"""Atomic file writes (a crash never leaves a half-written result behind), and reading them back.

Every file cnnlab writes goes to a temporary file in the same directory first,
is flushed to disk, and is then renamed into place (``os.replace`` is atomic on
POSIX and Windows).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import stat
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import yaml

from cnnlab.errors import CnnlabError, DataError, DiskWriteError


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()  # read once at import, before any threads write files


_NO_ROOM = {errno.ENOSPC, errno.EDQUOT}
_NOT_WRITABLE = {errno.EROFS, errno.EACCES, errno.EPERM}
_DISK_ERRORS = _NO_ROOM | _NOT_WRITABLE | {errno.EFBIG}


def write_error(path: str | os.PathLike, exc: OSError) -> DiskWriteError:
    """The `DiskWriteError` for a write of ``path`` that failed with ``exc``."""
    if exc.errno in _NO_ROOM:
        advice = "The disk is full: free some space and run the command again."
    elif exc.errno == errno.EFBIG:
        advice = "The file is over the size limit of this process or file system (ulimit -f)."
    elif exc.errno in _NOT_WRITABLE:
        advice = "The folder is read-only or not yours: write to another folder (--out)."
    else:
        advice = "Check the disk and the folder's permissions."
    return DiskWriteError(f"Cannot write {path}: {exc.strerror or exc}. {advice}")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` on success.

    A write that fails for lack of space or permission (``ENOSPC``, ``EFBIG``,
    ``EROFS``, ...) raises `DiskWriteError` and leaves ``path`` as it was.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:  # the folder cannot be made or written to
        raise write_error(path, exc) from exc
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        # mkstemp creates the file private (0600); give it the mode a plain open() would.
        os.chmod(tmp_path, 0o666 & ~_UMASK)
        os.replace(tmp_path, path)
    except OSError as exc:
        if exc.errno not in _DISK_ERRORS:  # e.g. a download's network error: the caller's
            raise
        raise write_error(path, exc) from exc
    finally:
        tmp_path.unlink(missing_ok=True)


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: str | os.PathLike, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def update_json(path: str | os.PathLike, keys: Sequence[str], value: Any) -> None:
    """Set ``value`` at the nested ``keys`` of the JSON object in ``path``, keeping the rest.

    A missing file or missing intermediate objects are created; the file is
    rewritten atomically (`write_json`), e.g. a command's results merged
    into ``RUN/metrics.json`` under ``("attacks", name)``.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text()) if path.is_file() else {}
    except json.JSONDecodeError as exc:
        raise DataError(f"{path} is not valid JSON ({exc}); repair or delete it.") from exc
    node = data
    for key in keys[:-1]:
        node = node.setdefault(key, {})
    node[keys[-1]] = value
    write_json(path, data)


def read_regular(
    path: str | os.PathLike,
    *,
    limit: int,
    what: str = "File",
    error: type[CnnlabError] = DataError,
    inside: str | os.PathLike | None = None,
) -> bytes:
    """The bytes of the regular file ``path``, refusing what could hang or flood a reader.

    A FIFO, socket or device (``/dev/zero``) is refused without blocking (it is
    opened non-blocking, then checked with ``fstat``); so is a file over
    ``limit`` bytes and, with ``inside``, a path that resolves (symbolic links
    followed) outside that folder. Every refusal raises ``error`` naming ``what``
    and the path.
    """
    path = Path(path)
    if inside is not None and not path.resolve().is_relative_to(Path(inside).resolve()):
        raise error(f"{what} {path} points outside {inside}; it is not read.")
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise error(f"Cannot read {what.lower()} {path}: {exc.strerror}.") from exc
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fh.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise error(f"{what} {path} is not a regular file (a FIFO, socket or device).")
        if info.st_size > limit:
            raise error(f"{what} {path} is {info.st_size} bytes, over the limit of {limit} bytes.")
        data = fh.read(limit + 1)
    if len(data) > limit:  # it grew while being read
        raise error(f"{what} {path} is over the limit of {limit} bytes.")
    return data


def sha256_file(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_yaml_mapping(
    path: str | os.PathLike, error: type[CnnlabError], what: str = "File"
) -> dict[str, Any]:
    """The mapping in the YAML file ``path`` (safe loader: no tags run code).

    An unreadable file, invalid YAML, a document that is not a mapping, or one
    whose aliases expand to more than `MAX_YAML_VALUES` values (a
    "billion laughs" file of nested ``&anchor``/``*alias`` lists: a few hundred
    bytes that expand to 10^8 strings once anything walks them) raise ``error``
    with a message that names ``what`` and the path.
    """
    path = Path(path)
    try:
        values = yaml.safe_load(read_regular(path, limit=MAX_YAML_BYTES, what=what, error=error))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:  # a binary file is not YAML either
        raise error(f"{what} {path} is not valid YAML: {exc}.") from exc
    except RecursionError:
        raise error(f"{what} {path} nests its values too deeply to be a configuration.") from None
    if not isinstance(values, dict):
        raise error(f"{what} {path} must hold a mapping of keys to values.")
    if not within_size(values, MAX_YAML_VALUES):
        raise error(
            f"{what} {path} expands to more than {MAX_YAML_VALUES} values (nested YAML "
            "aliases?); a configuration is a short list of settings. Write it without aliases."
        )
    return values


MAX_YAML_BYTES = 1 << 20
"""The largest YAML configuration read (1 MiB)."""
MAX_YAML_VALUES = 10_000
"""The most values a YAML configuration may hold once its aliases are expanded."""


def within_size(value: Any, limit: int) -> bool:
    """Whether the tree of lists and dicts ``value`` has at most ``limit`` nodes, aliases expanded.

    Walks at most ``limit + 1`` nodes, without recursion, so a structure that
    shares its items exponentially (or nests them deeply) is measured in bounded
    time and memory.
    """
    stack, seen = [value], 0
    while stack:
        seen += 1
        if seen > limit:
            return False
        node = stack.pop()
        if isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, (list, tuple)):
            stack.extend(node)
    return True
