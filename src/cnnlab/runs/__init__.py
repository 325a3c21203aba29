"""Run directories: the unit that connects training, evaluation, explanations and reports.

This package owns the run directory (layout in `cnnlab.runs.layout`): its
file names, the records in it (meta, history, metrics, report sections), the
checkpoints, the best-epoch rule, and loading a run back with its data.
"""

from cnnlab.runs.best import best_epoch, minimized, score
from cnnlab.runs.checkpoint import load_state, load_weights, save_state, save_weights
from cnnlab.runs.claim import (
    RunClaim,
    check_new_run_dir,
    claim_run_dir,
    evaluation_finished,
    holds_run,
    remove_leftovers,
)
from cnnlab.runs.layout import (
    BEST,
    CONFIG,
    FIGURES,
    HISTORY,
    LAST,
    LOCK,
    META,
    METRICS,
    REPORT,
    SECTIONS,
)
from cnnlab.runs.predict import class_index_map, fit_to_input, predict_dataset
from cnnlab.runs.records import (
    read_history,
    read_meta,
    read_metrics,
    update_metrics,
    write_history,
    write_meta,
)
from cnnlab.runs.run import (
    SPLITS,
    Run,
    RunSplit,
    build_classifier,
    load_config_data,
    load_run,
    read_config,
)
from cnnlab.runs.sections import add_figure, add_table, read_sections
from cnnlab.runs.tta import TTA_MODES, tta_probabilities, tta_views
from cnnlab.runs.weights import load_best, save_best, settle_best

__all__ = [
    "BEST",
    "CONFIG",
    "FIGURES",
    "HISTORY",
    "LAST",
    "LOCK",
    "META",
    "METRICS",
    "REPORT",
    "SECTIONS",
    "SPLITS",
    "TTA_MODES",
    "Run",
    "RunClaim",
    "RunSplit",
    "add_figure",
    "add_table",
    "best_epoch",
    "build_classifier",
    "check_new_run_dir",
    "claim_run_dir",
    "class_index_map",
    "evaluation_finished",
    "fit_to_input",
    "holds_run",
    "load_best",
    "load_config_data",
    "load_run",
    "load_state",
    "load_weights",
    "minimized",
    "predict_dataset",
    "read_config",
    "read_history",
    "read_meta",
    "read_metrics",
    "read_sections",
    "remove_leftovers",
    "save_best",
    "save_state",
    "save_weights",
    "score",
    "settle_best",
    "tta_probabilities",
    "tta_views",
    "update_metrics",
    "write_history",
    "write_meta",
]
