"""Errors a user can cause.

Every error that bad input can trigger is a `CnnlabError` subclass whose
message says what was wrong, what was expected and what to do.  The CLI prints
these messages without a traceback and exits with a non-zero status.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class CnnlabError(Exception):
    """Base class of all user-facing cnnlab errors."""


class ConfigError(CnnlabError):
    """An option or argument has a value outside its allowed range."""


class UnknownNameError(ConfigError):
    """A model, data set, optimizer, ... name that is not registered."""

    def __init__(self, kind: str, name: str, valid: Iterable[str]):
        valid = sorted(valid)
        close = did_you_mean(name, valid)
        hint = f" Did you mean {' or '.join(map(repr, close))}?" if close else ""
        super().__init__(
            f"Unknown {kind} {name!r}.{hint} Valid {kind} names are: {', '.join(valid)}."
        )
        self.kind, self.name, self.valid = kind, name, valid


def did_you_mean(name: object, valid: Iterable[str], n: int = 3) -> list[str]:
    """The names of ``valid`` closest to ``name`` (difflib's ratio >= 0.6, case ignored)."""
    by_lower = {v.lower(): v for v in valid}
    close = difflib.get_close_matches(str(name).lower(), list(by_lower), n=n, cutoff=0.6)
    return [by_lower[c] for c in close]


class GeometryError(CnnlabError):
    """A layer geometry (input size, kernel, stride, padding) that does not fit."""


class DataError(CnnlabError):
    """Data files that are missing, unreadable or inconsistent."""


class CheckpointError(CnnlabError):
    """A run directory or checkpoint that is missing, truncated or tampered with."""


class DiskWriteError(CnnlabError):
    """A file could not be written: the disk is full or read-only, or a size limit was hit."""


class TrainingDivergedError(CnnlabError):
    """The loss became NaN or infinite."""


def check_choice(kind: str, value: str, valid: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``valid``, else raise `UnknownNameError`."""
    valid = list(valid)
    if value not in valid:
        raise UnknownNameError(kind, value, valid)
    return value


def check_positive(name: str, value: float, *, allow_zero: bool = False) -> float:
    """Raise `ConfigError` unless ``value`` is > 0 (or >= 0 with ``allow_zero``)."""
    ok = value >= 0 if allow_zero else value > 0
    if not ok:
        bound = ">= 0" if allow_zero else "> 0"
        raise ConfigError(f"{name} must be {bound}, got {value!r}.")
    return value
