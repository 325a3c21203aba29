"""``cnnlab evaluate RUN --ood DATASET``: how well a classifier tells its own data from another.

The run's split (``--split``, default test) is the in-distribution set and the
test split of ``DATASET`` (its training split where it has no test split) the
out-of-distribution one, converted to the run's channels and size.  Each
image is scored by the maximum softmax probability (Hendrycks & Gimpel 2017)
and by the energy score T·logsumexp(z/T), T = 1 (Liu et al. 2020, eq. 4); the
AUROC (scikit-learn's ``roc_auc_score``, in-distribution as the positive
class) and the false-positive rate at 95 % true-positive rate are printed,
merged into ``RUN/metrics.json`` under ``ood/<DATASET>`` and shown as a table
in the report (`cnnlab.attack.ood`).
"""

from __future__ import annotations

import argparse
from typing import Any

import torch

from cnnlab import runs
from cnnlab.attack.ood import OOD_SCORES, ood_detection
from cnnlab.data.splits import spread_subset
from cnnlab.errors import ConfigError
from cnnlab.report import build_report
from cnnlab.runs.run import load_config_data

SECTION = "Out-of-distribution detection"


def add_ood_arguments(parser: argparse.ArgumentParser) -> None:
    """``--ood``, ``--ood-data-dir`` and ``--ood-limit`` of ``cnnlab evaluate``."""
    parser.add_argument(
        "--ood",
        metavar="DATASET",
        help="classification runs: score how well MSP and energy separate the split from "
        "this data set's test images (AUROC, FPR at 95%% TPR)",
    )
    parser.add_argument("--ood-data-dir", help="folder of --ood's files (default: its own)")
    parser.add_argument(
        "--ood-limit",
        type=int,
        default=10000,
        help="at most N images of each side, a fixed draw (default 10000)",
    )


def ood_command(args: argparse.Namespace) -> int:
    """Score the run's split against ``args.ood``; print, record and report the result."""
    if len(args.runs) != 1 or args.tta or args.dataset:
        raise ConfigError(
            "--ood scores one run on its own data set: give a single RUN, without --tta "
            "or --dataset."
        )
    if args.ood_limit < 1:
        raise ConfigError(f"--ood-limit must be at least 1, got {args.ood_limit}.")
    task = runs.read_meta(args.runs[0]).get("task", "classification")
    if task != "classification":
        raise ConfigError(f"--ood scores a classifier's outputs; {args.runs[0]} is a {task} run.")
    run = runs.load_run(args.runs[0])
    inside = run.load_split(args.split, limit=args.ood_limit).images
    data = load_config_data(run.config, args.ood, args.ood_data_dir)
    outside = data.test if len(data.test) else data.train
    outside = outside.subset(spread_subset(len(outside), args.ood_limit))
    model = run.model.to(args.device)
    result = {
        method: ood_detection(
            model, _images(run, inside, args.device), _images(run, outside, args.device), method
        )
        for method in OOD_SCORES
    }
    entry: dict[str, Any] = {
        **result,
        "in": f"{run.dataset} {args.split}",
        "out": data.name,
        "num_in": len(inside),
        "num_out": len(outside),
    }
    runs.update_metrics(run.path, ("ood", data.name), entry)
    runs.add_table(
        run.path,
        SECTION,
        f"ood_{data.name}",
        ["score", "AUROC", "FPR at 95 % TPR"],
        [[m, round(r["auroc"], 4), round(r["fpr_at_95_tpr"], 4)] for m, r in result.items()],
        caption=f"In: {len(inside)} images of {run.dataset} ({args.split}); out: "
        f"{len(outside)} images of {data.name}, at the model's input size.",
    )
    build_report(run.path)
    print(f"in:  {entry['in']} ({len(inside)} images)   out: {data.name} ({len(outside)} images)")
    print(f"{'score':<8}{'AUROC':>8}{'FPR@95%TPR':>12}")
    for method, r in result.items():
        print(f"{method:<8}{r['auroc']:>8.4f}{r['fpr_at_95_tpr']:>12.4f}")
    print(f"metrics: {run.path / runs.METRICS} (ood/{data.name})")
    return 0


def _images(run: runs.Run, dataset, device: str) -> torch.Tensor:
    """The images of ``dataset`` in [0, 1] at the run's input shape, on ``device``."""
    images, _, _ = runs.predict_dataset(run.model, dataset, run.input_shape, device=device)
    return images.to(device).float() / 255
