"""``cnnlab evaluate RUN --ood DATASET``: AUROC and FPR at 95 % TPR against scikit-learn."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.metrics import roc_auc_score

from cnnlab import runs
from cnnlab.runs.run import load_config_data
from tests.cli.helpers import run_cli


@pytest.fixture
def run_dir(digits_run, tmp_path):
    """A private copy of the shared digits run: the command writes into it."""
    return shutil.copytree(digits_run, tmp_path / "run")


@pytest.fixture
def noise_folder(tmp_path):
    """An image folder of 80 uniform-noise grey images, 32x32 like the digits."""
    generator = np.random.default_rng(0)
    for label in ("a", "b"):
        (tmp_path / "noise" / label).mkdir(parents=True)
        for i in range(40):
            pixels = generator.integers(0, 256, (32, 32), dtype=np.uint8)
            Image.fromarray(pixels, mode="L").save(tmp_path / "noise" / label / f"{i}.png")
    return tmp_path / "noise"


def _fpr_at_95_tpr(inside: np.ndarray, outside: np.ndarray) -> float:
    """The share of OOD scores at or above the threshold that keeps 95 % of in-scores."""
    threshold = np.sort(inside)[::-1][int(np.ceil(0.95 * len(inside))) - 1]
    return float((outside >= threshold).mean())


def test_ood_scores_equal_sklearn_on_the_models_own_logits(capsys, run_dir, noise_folder):
    code, out, err = run_cli(
        capsys, "evaluate", str(run_dir), "--ood", "imagefolder", "--ood-data-dir",
        str(noise_folder), "--device", "cpu",
    )  # fmt: skip
    assert code == 0, err
    entry = json.loads((run_dir / "metrics.json").read_text())["ood"]["imagefolder"]
    run = runs.load_run(run_dir)
    inside = run.load_split("test").images.images.float() / 255
    noise = load_config_data(run.config, "imagefolder", str(noise_folder)).test
    outside = noise.images.float().mean(1, keepdim=True) / 255  # equal channels: their luma
    assert (entry["num_in"], entry["num_out"]) == (len(inside), len(outside))
    with torch.no_grad():
        logits_in, logits_out = run.model(inside), run.model(outside)
    y = np.r_[np.ones(len(inside)), np.zeros(len(outside))]
    for method, score in (
        ("msp", lambda z: torch.softmax(z, 1).amax(1)),
        ("energy", lambda z: torch.logsumexp(z, 1)),
    ):
        s_in, s_out = score(logits_in).numpy(), score(logits_out).numpy()
        expected = roc_auc_score(y, np.r_[s_in, s_out])
        assert entry[method]["auroc"] == pytest.approx(expected, abs=1e-6)
        assert entry[method]["fpr_at_95_tpr"] == pytest.approx(_fpr_at_95_tpr(s_in, s_out))
        assert f"{method:<8}{entry[method]['auroc']:>8.4f}" in out
    report = (run_dir / "report.html").read_text()
    assert "Out-of-distribution detection" in report and "FPR at 95 % TPR" in report


def test_ood_takes_one_classification_run(capsys, run_dir, noise_folder):
    code, _, err = run_cli(
        capsys, "evaluate", str(run_dir), str(run_dir), "--ood", "imagefolder",
        "--ood-data-dir", str(noise_folder),
    )  # fmt: skip
    assert code != 0 and "single RUN" in err
    code, _, err = run_cli(capsys, "evaluate", str(run_dir), "--ood", "digits", "--ood-limit", "0")
    assert code != 0 and "--ood-limit" in err
