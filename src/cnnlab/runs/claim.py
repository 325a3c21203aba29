"""Exclusive run directories: one process writes a run at a time.

A process that trains into ``RUN`` first claims it: it opens ``RUN/.lock`` and
takes an exclusive, non-blocking ``flock`` on it, held until training ends.  A
second ``cnnlab train --out RUN`` (or ``--resume RUN``) started meanwhile fails
at once with a `CheckpointError` naming the holder.  The
kernel drops the lock when its process dies, even by ``kill -9``, so a killed
run never leaves a stale claim behind; the lock file itself stays (it marks the
directory as a cnnlab run) and holds the holder's pid, host and start time.

`check_new_run_dir` refuses, before anything is written, a directory
that holds a run already or files that are not cnnlab's (the user's own
``config.yaml``); `remove_leftovers` deletes the temporary files of
atomic writes that a kill interrupted (`cnnlab.fileio.atomic_path`).
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

from cnnlab.errors import CheckpointError, ConfigError
from cnnlab.fileio import write_error
from cnnlab.runs.layout import CONFIG, FIGURES, LAST, LOCK, META, REPORT

try:
    import fcntl
except ImportError:  # Windows: no flock; the claim is then advisory only
    fcntl = None


def _is_leftover(path: Path) -> bool:
    """A temporary file of `cnnlab.fileio.atomic_path` (``.NAME.XXXX.tmp``)."""
    return path.name.startswith(".") and path.name.endswith(".tmp")


class RunClaim:
    """The exclusive claim of a run directory; `release` (or the process's end)
    gives it up."""

    def __init__(self, run_dir: Path, fd: int):
        self.run_dir, self._fd = run_dir, fd

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None

    def __del__(self) -> None:
        self.release()

    def __enter__(self) -> RunClaim:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _holder(lock: Path) -> str:
    try:
        info = json.loads(lock.read_text(encoding="utf-8"))
        return f"pid {info['pid']} on {info['host']}, started {info['started']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "a process that has just started"


def claim_run_dir(run_dir: str | os.PathLike) -> RunClaim:
    """Claim ``run_dir`` (created if missing) for this process, or raise
    `CheckpointError` naming the process that holds it."""
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise CheckpointError(f"{run_dir} is a file, not a run directory; choose another --out.")
    lock = run_dir / LOCK
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
    except OSError as exc:  # a read-only or full disk
        raise write_error(lock, exc) from exc
    if fcntl is not None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise CheckpointError(
                f"{run_dir} is being written by another cnnlab run ({_holder(lock)}). "
                "Wait for it to finish, or choose another --out."
            ) from None
    info = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(info).encode(), 0)
    return RunClaim(run_dir, fd)


def holds_run(run_dir: str | os.PathLike) -> bool:
    """Whether ``run_dir`` holds a run that saved a checkpoint (``--resume`` continues it)."""
    run_dir = Path(run_dir)
    return (run_dir / LAST).exists() or (run_dir / META).exists()


def evaluation_finished(run_dir: str | os.PathLike) -> bool:
    """Whether the final evaluation ran after the last checkpoint: ``report.html``, its
    last write, is newer than ``last.safetensors`` (a kill during it leaves it older)."""
    run_dir = Path(run_dir)
    try:
        return (run_dir / REPORT).stat().st_mtime_ns >= (run_dir / LAST).stat().st_mtime_ns
    except FileNotFoundError:
        return False


def check_new_run_dir(run_dir: str | os.PathLike) -> None:
    """Raise `ConfigError` unless a new run may be written into ``run_dir``.

    Allowed: a missing or empty directory, or one that a cnnlab run claimed but
    left before its first checkpoint (only its lock, config and temporary files).
    Anything else is someone's data, or a run to ``--resume``.
    """
    run_dir = Path(run_dir)
    if not run_dir.exists():
        return
    if not run_dir.is_dir():
        raise ConfigError(f"{run_dir} is a file, not a run directory; choose another --out.")
    if holds_run(run_dir):
        raise ConfigError(
            f"{run_dir} already holds a run. Continue it with "
            f"`cnnlab train --resume {run_dir}`, or choose another --out."
        )
    entries = [p for p in run_dir.iterdir() if not _is_leftover(p)]
    ours = {LOCK, CONFIG} if (run_dir / LOCK).is_file() else set()
    foreign = sorted(p.name for p in entries if p.name not in ours)
    if foreign:
        shown = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")
        raise ConfigError(
            f"{run_dir} is not empty and is not a cnnlab run (it holds {shown}); cnnlab "
            "writes a run only into a new or empty directory. Choose another --out."
        )


def remove_leftovers(run_dir: str | os.PathLike) -> list[Path]:
    """Delete the temporary files that killed atomic writes left in ``run_dir`` and
    its ``figures/``; return what was removed.

    Call it only while holding the run's claim: a live writer's temporary files
    look the same.
    """
    run_dir = Path(run_dir)
    removed = []
    for folder in (run_dir, run_dir / FIGURES):
        if folder.is_dir():
            for path in folder.iterdir():
                if _is_leftover(path) and path.is_file():
                    path.unlink(missing_ok=True)
                    removed.append(path)
    return removed
