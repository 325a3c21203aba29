"""Classification evaluation extras: balanced accuracy, Cohen's κ, the P/R-vs-threshold
figure and the ensemble folder (cnnlab.tasks.classification_eval)."""

import json

import numpy as np
import pytest
from sklearn.metrics import (
    balanced_accuracy_score,
    cohen_kappa_score,
    precision_score,
    recall_score,
)

from cnnlab.metrics import one_vs_rest_pr_curves
from cnnlab.report.threshold_figures import GRID, at_thresholds
from cnnlab.tasks import evaluate_ensemble, evaluate_run
from cnnlab.tasks.classification_eval import THRESHOLD_FIGURE


def test_metrics_hold_balanced_accuracy_and_kappa_and_the_report_shows_them(digits_run):
    evaluate_run(digits_run)
    test = json.loads((digits_run / "metrics.json").read_text())["test"]
    cm = np.array(test["confusion_matrix"])
    # from the confusion matrix: mean per-class recall; (p_o − p_e)/(1 − p_e)
    recall = np.diag(cm) / cm.sum(1)
    p_o = np.trace(cm) / cm.sum()
    p_e = (cm.sum(0) * cm.sum(1)).sum() / cm.sum() ** 2
    assert test["balanced_accuracy"] == pytest.approx(recall.mean())
    assert test["cohen_kappa"] == pytest.approx((p_o - p_e) / (1 - p_e))
    html = (digits_run / "report.html").read_text()
    assert "balanced_accuracy" in html and "cohen_kappa" in html
    assert (digits_run / "figures" / THRESHOLD_FIGURE).is_file()
    assert "Precision and recall against the threshold" in html


def test_precision_and_recall_at_a_threshold_equal_sklearns_at_that_threshold():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 300)
    scores = rng.dirichlet(np.ones(3), 300)
    scores[np.arange(300), labels] += 0.3
    curves = one_vs_rest_pr_curves(labels, scores, 3)
    for c, curve in enumerate(curves):
        precision, recall = at_thresholds(curve)
        for i in (10, 35, 50, 70):
            predicted = scores[:, c] >= GRID[i]
            if predicted.any():
                assert precision[i] == pytest.approx(precision_score(labels == c, predicted))
            assert recall[i] == pytest.approx(recall_score(labels == c, predicted))


def test_imbalance_moves_accuracy_but_not_balanced_accuracy():
    labels = np.array([0] * 95 + [1] * 5)
    always_zero = np.zeros(100, dtype=int)
    assert balanced_accuracy_score(labels, always_zero) == 0.5
    assert cohen_kappa_score(labels, always_zero) == 0.0


def test_ensemble_folder_has_metrics_figures_and_a_report(digits_run, tmp_path):
    out = tmp_path / "ensemble"
    report = evaluate_ensemble([digits_run, digits_run], out=out)
    metrics = json.loads((out / "metrics.json").read_text())["test"]
    assert metrics["accuracy"] == pytest.approx(report["accuracy"])
    assert len(metrics["members"]) == 2 and "cohen_kappa" in metrics
    html = (out / "report.html").read_text()
    assert "Ensemble" in html and str(digits_run) in html
    assert (out / "figures" / "confusion_matrix.png").is_file()
