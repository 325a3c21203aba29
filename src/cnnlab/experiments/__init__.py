"""The lectures' classic experiments as commands (``cnnlab experiment NAME``).

Each experiment writes a run-like folder: ``metrics.json`` with its numbers,
its tables and figures as report sections (`cnnlab.runs.sections`) and
``report.html``.  Experiments train through `cnnlab.Trainer`, so they
sit above `cnnlab.compose` in the layers.

* ``depth``: plain against residual networks at 20 and 56 layers (He et al.
  2016, Fig. 1 and 6; `.depth`);
* ``init``: activation statistics through 10 tanh/ReLU layers under
  N(0, 0.01²), Xavier and He initialisation (`.init`);
* ``activation``: Krizhevsky et al. (2012), Fig. 1: ReLU against tanh in a
  four-layer convolutional network without normalization (`.activation`);
* ``imbalance``: accuracy against balanced accuracy on a 95/5 split (`.imbalance`);
* ``backdoor``: a BadNets backdoor by data poisoning, and the recall and
  precision of spectral signatures and activation clustering (`.backdoor`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from cnnlab.errors import UnknownNameError
from cnnlab.experiments.activation import activation_experiment
from cnnlab.experiments.backdoor import backdoor_experiment
from cnnlab.experiments.depth import depth_experiment
from cnnlab.experiments.imbalance import imbalance_experiment
from cnnlab.experiments.init import init_experiment_folder

EXPERIMENTS: dict[str, Callable[..., dict[str, Any]]] = {
    "activation": activation_experiment,
    "backdoor": backdoor_experiment,
    "depth": depth_experiment,
    "imbalance": imbalance_experiment,
    "init": init_experiment_folder,
}


def run_experiment(name: str, out: str | Path, **options: Any) -> dict[str, Any]:
    """Run experiment ``name`` into the folder ``out``; returns what it wrote to metrics.json."""
    if name not in EXPERIMENTS:
        raise UnknownNameError("experiment", name, EXPERIMENTS)
    return EXPERIMENTS[name](Path(out), **options)


__all__ = ["EXPERIMENTS", "run_experiment"]
