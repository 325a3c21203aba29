"""Evaluation metrics: classification scores, threshold curves and model cost."""

from cnnlab.metrics.classification import (
    accuracy,
    classification_report,
    confusion_matrix,
    format_classification_report,
    most_confident_errors,
    precision_recall_fscore_support,
    top_k_accuracy,
)
from cnnlab.metrics.cost import (
    ModuleCall,
    count_flops,
    count_parameters,
    measure_latency,
    model_cost,
    model_size_bytes,
    trace_macs,
)
from cnnlab.metrics.intervals import wilson_interval
from cnnlab.metrics.thresholds import (
    PRCurve,
    average_precision,
    one_vs_rest_pr_curves,
    precision_recall_curve,
    roc_auc,
    roc_curve,
)

__all__ = [
    "ModuleCall",
    "PRCurve",
    "accuracy",
    "average_precision",
    "classification_report",
    "confusion_matrix",
    "count_flops",
    "count_parameters",
    "format_classification_report",
    "measure_latency",
    "model_cost",
    "model_size_bytes",
    "most_confident_errors",
    "one_vs_rest_pr_curves",
    "precision_recall_curve",
    "precision_recall_fscore_support",
    "roc_auc",
    "roc_curve",
    "top_k_accuracy",
    "trace_macs",
    "wilson_interval",
]
