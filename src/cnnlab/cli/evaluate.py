"""The commands that use a finished run: ``evaluate``, ``predict`` and ``report``."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from typing import Any

import torch

from cnnlab.cli.detection import predict_boxes_command
from cnnlab.cli.embedding import predict_identities_command
from cnnlab.cli.flags import DEVICE_HELP, count, device
from cnnlab.cli.ood import add_ood_arguments, ood_command
from cnnlab.cli.segmentation import predict_masks_command
from cnnlab.data import load_image
from cnnlab.deploy import OnnxClassifier, prepare
from cnnlab.errors import ConfigError, check_choice
from cnnlab.metrics import format_classification_report
from cnnlab.metrics.restoration import format_restoration_report
from cnnlab.metrics.segmentation import format_segmentation_report
from cnnlab.metrics.verification import format_embedding_report
from cnnlab.report import build_report
from cnnlab.report.compare import build_comparison
from cnnlab.runs import load_run, read_meta
from cnnlab.runs.run import IMAGE_TASKS
from cnnlab.tasks import TASKS, evaluate_ensemble, evaluate_run
from cnnlab.tasks.detection_eval import format_detection_report
from cnnlab.tasks.reconstruction_eval import restore_files


def add_parsers(subparsers: Any) -> None:
    """Add ``evaluate``, ``predict`` and ``report``."""
    evaluate = subparsers.add_parser(
        "evaluate", help="evaluate a run (several runs: their averaged ensemble) on a split"
    )
    evaluate.add_argument(
        "runs", nargs="+", metavar="RUN", help="run directory; several: their averaged ensemble"
    )
    evaluate.add_argument("--dataset", help="evaluate on another data set (classes by name)")
    evaluate.add_argument("--data-dir", help="folder of --dataset's files (default: its own)")
    evaluate.add_argument(
        "--split",
        default="test",
        choices=("train", "val", "test"),
        help="split to evaluate on (default test)",
    )
    evaluate.add_argument("--device", default="auto", type=device, help=DEVICE_HELP)
    evaluate.add_argument("--tta", choices=("flip", "crops"), help="test-time augmentation")
    evaluate.add_argument(
        "--out",
        help="several runs: the ensemble folder (metrics.json, figures, report.html; "
        "default: ensemble-<first run's name>-<count> beside the first run)",
    )
    add_ood_arguments(evaluate)
    evaluate.set_defaults(func=evaluate_command)

    predict = subparsers.add_parser(
        "predict", help="top-k classes (embedding runs: nearest identities) for image files"
    )
    predict.add_argument("run", metavar="RUN", help="a run directory or an exported .onnx file")
    predict.add_argument("images", nargs="+", metavar="IMAGE", help="image files (PNG, JPEG ...)")
    predict.add_argument("--top-k", type=count, default=5, help="classes shown (default 5)")
    predict.add_argument(
        "--json",
        action="store_true",
        help="classification runs: print one JSON document (image, classes, probabilities)",
    )
    predict.add_argument(
        "--fast", action="store_true", help="the inference path: conv+BN fused, channels-last"
    )
    predict.add_argument(
        "--min-score", type=float, default=0.3, help="detection runs: the lowest score shown"
    )
    predict.add_argument(
        "--boxes-dir", default=".", help="detection runs: where the drawn boxes are written"
    )
    predict.add_argument(
        "--restored-dir",
        help="autoencoder/denoise/noise2void runs: where <image>_restored.png is written "
        "(default: beside each image)",
    )
    predict.add_argument(
        "--masks-dir",
        default=".",
        help="segmentation runs: where <image>.mask.png and <image>.overlay.png are written",
    )
    predict.set_defaults(func=predict_command)

    report = subparsers.add_parser(
        "report", help="rebuild a run's report.html; several runs: one page comparing them"
    )
    report.add_argument(
        "runs", nargs="+", metavar="RUN", help="run directory; several: one page comparing them"
    )
    report.add_argument("--out", default="compare.html", help="the comparison page of several runs")
    report.set_defaults(func=report_command)


def evaluate_command(args: argparse.Namespace) -> int:
    """``cnnlab evaluate``: one run's metrics, or the ensemble of several runs
    (``--ood DATASET``: out-of-distribution detection instead, `cnnlab.cli.ood`)."""
    if args.ood:
        return ood_command(args)
    options = dict(
        dataset=args.dataset,
        data_dir=args.data_dir,
        split=args.split,
        device=args.device,
        tta=args.tta,
    )
    if len(args.runs) == 1:
        print_report(evaluate_run(args.runs[0], **options))
        print(f"metrics: {Path(args.runs[0]) / 'metrics.json'}")
        return 0
    first = Path(args.runs[0])
    out = Path(args.out or first.parent / f"ensemble-{first.name}-{len(args.runs)}")
    report = evaluate_ensemble(args.runs, **options, out=out)
    for member in report["members"]:
        print(f"member {member['run']}: accuracy {member['accuracy']:.4f}")
    print(f"ensemble of {len(args.runs)} runs (probabilities averaged):")
    print_report(report)
    print(f"ensemble folder: {out} (metrics.json, report.html)")
    return 0


def print_report(report: dict[str, Any]) -> None:
    """Print an evaluation's report: classification, or segmentation (it has a mean IoU)."""
    if "miou" in report:
        print(format_segmentation_report(report))
    elif "nway_1shot" in report:
        print(format_embedding_report(report))
    elif "map50" in report:
        print(format_detection_report(report))
    elif "psnr" in report:
        print(format_restoration_report(report))
    else:
        print(format_classification_report(report))


def _predict_restored(args: argparse.Namespace) -> int:
    """``cnnlab predict`` on a reconstruction run: the restored images' paths."""
    for written in restore_files(load_run(args.run), args.images, args.restored_dir):
        print(written)
    return 0


def predict_command(args: argparse.Namespace) -> int:
    """``cnnlab predict``: the top-k classes of each image file (``--json``: as JSON)."""
    onnx = Path(args.run).suffix == ".onnx"
    task = "classification" if onnx else read_meta(args.run).get("task", "classification")
    check_choice("task recorded in the run's meta.json", task, TASKS)
    if args.json and task != "classification":
        raise ConfigError(
            f"--json prints class probabilities of classification runs; {args.run} is a "
            f"{task} run. Drop --json."
        )
    by_task = {
        "embedding": predict_identities_command,
        "detection": predict_boxes_command,
        "segmentation": predict_masks_command,
        **dict.fromkeys(IMAGE_TASKS, _predict_restored),
    }
    if task in by_task:
        return by_task[task](args)
    if onnx:
        run = OnnxClassifier.load(args.run)
    else:
        run = load_run(args.run)
        if args.fast:
            run = dataclasses.replace(run, model=prepare(run.model))
    channels, height, width = run.input_shape
    images = torch.stack([load_image(p, channels, (height, width)) for p in args.images])
    probs = run.predict_proba(images)
    k = min(args.top_k, len(run.classes))
    results = []
    for path, row in zip(args.images, probs, strict=True):
        top = row.topk(k)
        ranked = [
            {"class": run.classes[i], "probability": float(p)}
            for p, i in zip(top.values, top.indices, strict=True)
        ]
        results.append({"image": str(path), "top": ranked})
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    for result in results:
        ranked = ", ".join(f"{c['class']} {c['probability']:.3f}" for c in result["top"])
        print(f"{result['image']}: {ranked}")
    return 0


def report_command(args: argparse.Namespace) -> int:
    """``cnnlab report``: rebuild ``report.html``; with several runs, compare them."""
    if len(args.runs) > 1:
        print(build_comparison(args.runs, args.out))
        return 0
    read_meta(args.runs[0])
    print(build_report(args.runs[0]))
    return 0
