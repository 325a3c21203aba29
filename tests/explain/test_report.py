"""The report's "Explanations" section shows the figures under RUN/figures/explain/."""

from __future__ import annotations

from cnnlab.explain.report import explain_dir
from cnnlab.report import build_report, save_figure
from cnnlab.report.explain_figures import plot_attributions


def test_report_shows_explanation_figures_once(tmp_path, images):
    save_figure(plot_attributions(images[:1], images[:1]), explain_dir(tmp_path) / "saliency_x.png")
    text = build_report(tmp_path).read_text()
    assert "<h2>Explanations</h2>" in text
    assert text.count("saliency x") == 1
