"""Figures (matplotlib, PNG) and the self-contained HTML report of a run."""

from cnnlab.report.figures import (
    figure_to_png,
    image_grid,
    plot_confusion_matrix,
    plot_learning_curves,
    plot_misclassified,
    plot_pr_curves,
    save_figure,
)
from cnnlab.report.html import SECTIONS, Section, build_report, figure_section

__all__ = [
    "SECTIONS",
    "Section",
    "build_report",
    "figure_section",
    "figure_to_png",
    "image_grid",
    "plot_confusion_matrix",
    "plot_learning_curves",
    "plot_misclassified",
    "plot_pr_curves",
    "save_figure",
]
