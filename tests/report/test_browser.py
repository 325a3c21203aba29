"""A run's report in a real browser: headless Chromium loads it offline, every image decodes.

Skipped where Debian's ``chromium`` is not installed (``.ci/run`` installs it when
it can).  The page is probed with :func:`tests.browser.probe` (the images that did
not decode, the resources fetched from the network, the headline's
accuracy).  Screenshots go to ``$CNNLAB_SCREENSHOTS`` (default: the test's
temporary folder) and their paths are printed.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from cnnlab import runs
from cnnlab.report import build_report
from tests.browser import CHROMIUM, chromium, probe

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")


@pytest.fixture
def report_run(digits_run, tmp_path) -> Path:
    """The session's digits run, copied, with an explanation figure and an attack table."""
    run_dir = tmp_path / "run"
    shutil.copytree(digits_run, run_dir)
    png = (run_dir / runs.FIGURES / "confusion_matrix.png").read_bytes()
    runs.add_figure(run_dir, "Explanations", "explain/saliency_0.png", png, "saliency, class 0")
    runs.add_table(run_dir, "Attacks", "fgsm", ["ε", "robust accuracy"], [[0.1, 0.25]], "FGSM")
    build_report(run_dir)
    shutil.copytree(run_dir, tmp_path / "copy")
    return run_dir


def test_the_probe_notices_a_broken_image(tmp_path):
    page = "<html><body><img src='data:image/png;base64,AAAA'></body></html>"
    seen, _ = probe(page, tmp_path)
    assert seen["images"] == 1 and seen["broken"] == 1


def test_the_report_loads_offline_with_every_image_and_the_true_accuracy(report_run, tmp_path):
    page = (report_run / runs.REPORT).read_text()
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page), "a resource from outside"
    seen, result = probe(page, tmp_path)
    assert seen["images"] == page.count("<img ") >= 4 and seen["broken"] == 0
    assert seen["external"] == []
    test_accuracy = runs.read_metrics(report_run)["test"]["accuracy"]
    assert seen["accuracy"] == pytest.approx(test_accuracy, abs=1e-12)
    assert "Failed to load resource" not in result.stderr
    assert "Uncaught" not in result.stderr


def test_screenshots_of_the_first_screen_and_the_added_sections(report_run, tmp_path):
    folder = Path(os.environ.get("CNNLAB_SCREENSHOTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    page = (report_run / runs.REPORT).as_uri()
    for name, height in (("report_first_screen", 1000), ("report_whole_page", 6000)):
        shot = folder / f"{name}.png"
        chromium(tmp_path, f"--window-size=1280,{height}", f"--screenshot={shot}", page)
        assert shot.is_file() and shot.stat().st_size > 10_000
        print(f"screenshot: {shot}")


def test_the_comparison_page_loads_offline_with_its_images(report_run, tmp_path):
    from cnnlab.report.compare import build_comparison

    page = build_comparison([report_run, report_run.parent / "copy"], tmp_path / "c.html")
    seen, result = probe(page.read_text(), tmp_path)
    assert seen["images"] == 1 and seen["broken"] == 0 and seen["external"] == []
    assert "Failed to load resource" not in result.stderr
