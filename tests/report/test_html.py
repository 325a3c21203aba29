"""The HTML report is self-contained, escaped and robust to missing files."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pytest

from cnnlab import runs
from cnnlab.errors import CheckpointError
from cnnlab.fileio import write_json
from cnnlab.metrics import classification_report
from cnnlab.report import SECTIONS, Section, build_report, figure_to_png, plot_learning_curves

NASTY = "<b>cat&dog"
HISTORY = [
    {
        "epoch": e,
        "train_loss": 2.0 / e,
        "val_loss": 2.2 / e,
        "train_acc": 0.3 * e,
        "val_acc": 0.25 * e,
    }
    for e in (1, 2, 3)
]


def make_run(run_dir, split_key: str | None = "test"):
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.yaml").write_text("model: lenet5\ndataset: digits\nlr: 0.1\n")
    (run_dir / "history.jsonl").write_text("".join(json.dumps(row) + "\n" for row in HISTORY))
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 3, 40)
    y_pred = np.where(rng.random(40) < 0.7, y_true, rng.integers(0, 3, 40))
    report = classification_report(y_true, y_pred, class_names=[NASTY, "bird", "fish"])
    write_json(run_dir / "metrics.json", {split_key: report} if split_key else report)
    (run_dir / "figures").mkdir(exist_ok=True)
    (run_dir / "figures" / "learning_curves.png").write_bytes(
        figure_to_png(plot_learning_curves(HISTORY))
    )
    return run_dir


def external_urls(page: str) -> list[str]:
    return re.findall(r"""(?:src|href)\s*=\s*["']?\s*(https?:[^"'\s>]*)""", page, re.IGNORECASE)


@pytest.mark.parametrize("split_key", ["test", None])
def test_report_is_self_contained_and_escaped(tmp_path, split_key):
    path = build_report(make_run(tmp_path / "run", split_key))
    assert path == tmp_path / "run" / "report.html"
    page = path.read_text()
    assert "data:image/png;base64," in page
    assert NASTY not in page
    assert "&lt;b&gt;cat&amp;dog" in page
    assert external_urls(page) == []
    assert "lenet5 on digits" in page
    for heading in ("Configuration", "Learning curves", "Final metrics", "Confusion matrices"):
        assert f"<h2>{heading}</h2>" in page
    assert page.count("<img") >= 3  # learning curves + two confusion matrices


def test_report_builds_from_an_empty_run_dir(tmp_path):
    page = build_report(tmp_path).read_text()
    assert "<h1>" in page and "<h2>" not in page


def test_report_survives_a_corrupt_file(tmp_path):
    run_dir = make_run(tmp_path / "run")
    (run_dir / "metrics.json").write_text("{not json")
    page = build_report(run_dir).read_text()
    assert "Could not render" in page and "Learning curves" in page


def test_unclaimed_figures_appear_under_other_figures(tmp_path):
    run_dir = make_run(tmp_path / "run")
    png = (run_dir / "figures" / "learning_curves.png").read_bytes()
    (run_dir / "figures" / "grad_cam.png").write_bytes(png)
    page = build_report(run_dir).read_text()
    assert "<h2>Other figures</h2>" in page and "grad cam" in page


def test_callers_can_add_sections(tmp_path):
    extra = Section("Robustness", lambda run_dir: "<p>robust accuracy 0.42</p>")
    page = build_report(make_run(tmp_path / "run"), sections=[*SECTIONS, extra]).read_text()
    assert "<h2>Robustness</h2><p>robust accuracy 0.42</p>" in page


def test_missing_run_dir_raises_checkpoint_error(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        build_report(tmp_path / "nope")


def test_sections_recorded_in_the_run_directory_are_rendered_once(tmp_path):
    run_dir = make_run(tmp_path / "run")
    png = (run_dir / "figures" / "learning_curves.png").read_bytes()
    runs.add_figure(run_dir, "Explanations", "explain/saliency_x.png", png, "saliency of x")
    runs.add_figure(run_dir, "Explanations", "explain/saliency_x.png", png, "saliency of x")
    runs.add_table(run_dir, "Attacks", "pgd", ["ε", "robust accuracy"], [[0.1, 0.42]], "PGD")
    page = build_report(run_dir).read_text()
    assert "<h2>Explanations</h2>" in page and page.count("saliency of x</figcaption>") == 1
    assert "<h2>Attacks</h2>" in page and "<td>0.4200</td>" in page
    assert "Other figures" not in page  # the recorded figure counts as shown


def test_a_recorded_section_needs_no_import_of_its_producer(tmp_path):
    run_dir = make_run(tmp_path / "run")
    runs.add_table(run_dir, "Robustness", "fgsm", ["ε"], [[0.1]], "written by another process")
    script = (
        "import sys; from cnnlab.report import build_report; "
        f"build_report({str(run_dir)!r}); "
        "assert not any(m.startswith(('cnnlab.explain', 'cnnlab.attack')) for m in sys.modules)"
    )
    subprocess.run([sys.executable, "-c", script], check=True)
    assert "<h2>Robustness</h2>" in (run_dir / "report.html").read_text()


def test_recorded_attacks_get_a_robustness_table(tmp_path):
    run_dir = make_run(tmp_path / "run")
    attack = {
        "norm": "linf",
        "eps": 0.1,
        "steps": 10,
        "num_images": 50,
        "clean_accuracy": 0.9,
        "robust_accuracy": 0.12,
        "success_rate": 0.8667,
        "mean_linf": 0.1,
        "mean_l2": 2.3,
    }
    runs.update_metrics(run_dir, ("attacks", "pgd_linf_0.1"), attack)
    page = build_report(run_dir).read_text()
    table = page.split("<h2>Robustness</h2>")[1].split("</section>")[0]
    assert "<td>pgd_linf_0.1</td>" in table and "<td>0.1200</td>" in table
    assert "<h2>Final metrics</h2>" in page  # the attacks are not mistaken for a split
