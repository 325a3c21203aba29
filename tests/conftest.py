"""Shared fixtures: where the shared data sets are, and a tiny trained run."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"


def shared_dataset(relative: str) -> Path:
    """Path of a file or folder under ../shared/datasets, or skip the test."""
    path = SHARED_DATASETS / relative
    if not path.exists():
        pytest.skip(f"{path} is absent (the shared data sets are not on this machine)")
    return path


@pytest.fixture(scope="session")
def digits_run(tmp_path_factory) -> Path:
    """A LeNet-5 run trained briefly on the embedded digits data set.

    Its recipe is spelled out rather than taken from ``TrainConfig``'s defaults,
    so that the tests built on this model do not move when the defaults do.
    """
    from cnnlab import TrainConfig, Trainer

    run_dir = tmp_path_factory.mktemp("runs") / "digits"
    recipe = dict(batch_size=64, lr=2e-3, warmup_epochs=0.0, augment=["crop:2"])
    # fit() ends with the evaluation on the test split: metrics.json, figures, report.html.
    Trainer(TrainConfig(epochs=3, seed=1, **recipe), run_dir, quiet=True).fit()
    return run_dir
