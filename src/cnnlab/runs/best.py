"""Which epoch is the best one: the rule the Trainer saves by and the report marks.

One rule, used by `Trainer` to choose ``model.safetensors``,
by the learning-curve figure to mark that epoch, and by anyone reading a
history.  The monitored metric is maximized (``val_acc``, ``val_miou`` ...) or
minimized (a name ending in ``loss``, ``error`` or ``eer``, the equal error
rate of verification); ties of a maximized metric
(common on small validation sets, where accuracy saturates at 1.0 early) are
broken by the lower validation loss when the row has one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def minimized(monitor: str) -> bool:
    """Whether lower values of ``monitor`` are better."""
    return monitor.endswith(("loss", "error", "eer"))


def score(row: dict[str, Any], monitor: str) -> tuple[float, ...]:
    """A key that is larger for better rows."""
    if minimized(monitor):
        return (-row[monitor],)
    if row.get("val_loss") is None:
        return (row[monitor],)
    return (row[monitor], -row["val_loss"])


def best_epoch(history: Sequence[dict[str, Any]], monitor: str) -> int | None:
    """The epoch number of the best row of ``history`` (the earliest among equals).

    Rows without ``monitor`` are skipped; None when no row has it.
    """
    best = None
    for row in history:
        if row.get(monitor) is None:
            continue
        if best is None or score(row, monitor) > score(best, monitor):
            best = row
    return None if best is None else best.get("epoch", list(history).index(best) + 1)
