"""The final evaluation of a detection run: mAP in metrics.json, the report's section.

``evaluate_detection(run_dir)`` detects the objects of a split (score
threshold 0.05, at most 100 boxes per image, as COCO evaluates), writes
``map50``, ``map``, ``map75`` and the AP of each class to metrics.json, and
adds a "Detection" section to the report: a table of AP per class, the
precision/recall curve of each class at IoU 0.5, and the first test images
with their true boxes and the detections scoring at least 0.3.
"""

from __future__ import annotations

import os
from typing import Any

import torch

from cnnlab import runs
from cnnlab.data import make_loader
from cnnlab.data.detection import unpad_targets
from cnnlab.metrics.detection import Detections, detection_report
from cnnlab.models.detection import detect
from cnnlab.report import build_report
from cnnlab.report.detection_figures import plot_detections, plot_pr_curves
from cnnlab.report.figures import figure_to_png

SHOWN = 8  # images drawn in the report
SHOWN_SCORE = 0.3  # detections drawn from this score on


@torch.inference_mode()
def detect_dataset(
    model: torch.nn.Module, dataset: Any, device: str | torch.device = "cpu", batch_size: int = 64
) -> tuple[torch.Tensor, list[Detections], list[tuple[torch.Tensor, torch.Tensor]]]:
    """``(images uint8, detections, true (boxes, classes))`` of ``model`` over ``dataset``."""
    model.eval()
    images, detections, truths = [], [], []
    for x, targets in make_loader(dataset, batch_size, shuffle=False, device=device):
        detections += [d.to("cpu") for d in detect(model, x)]
        truths += [(boxes.cpu(), classes.cpu()) for boxes, classes in unpad_targets(targets)]
        images.append((x * 255).round().to(torch.uint8).cpu())
    return torch.cat(images), detections, truths


def evaluate_detection(
    run_dir: str | os.PathLike,
    *,
    dataset: str | None = None,
    data_dir: str | None = None,
    split: str = "test",
    device: str = "cpu",
) -> dict[str, Any]:
    """Evaluate a detection run on ``split``: metrics.json, the report's section, report."""
    run = runs.load_run(run_dir)
    chosen = run.load_split(split, dataset=dataset, data_dir=data_dir)
    images, detections, truths = detect_dataset(run.model.to(device), chosen.images, device)
    truths = [(boxes, chosen.class_map[classes]) for boxes, classes in truths]
    full = detection_report(detections, truths, run.classes)
    curves = full.pop("pr_curves")
    report = {**full, "dataset": chosen.dataset, "split": split, "num_images": len(images)}
    own = chosen.dataset == run.dataset
    runs.update_metrics(run.path, (split if own else f"{chosen.dataset}/{split}",), report)
    _record_section(run.path, report, curves, images, detections, truths, run.classes)
    build_report(run.path)
    return report


def format_detection_report(report: dict[str, Any], digits: int = 3) -> str:
    """The report as text: mAP@0.5, mAP@[.5:.95], and the AP of each class."""
    width = max(len("class"), *(len(row["class"]) for row in report["per_class"]))
    lines = [
        f"mAP@0.5 {report['map50']:.{digits}f}   mAP@[.5:.95] {report['map']:.{digits}f}   "
        f"mAP@0.75 {report['map75']:.{digits}f}   ({report.get('num_images', '?')} images)",
        f"{'class':<{width}}  {'AP@0.5':>7}  {'AP':>6}  {'boxes':>6}",
    ]
    for row in report["per_class"]:
        ap50 = "-" if row["ap50"] is None else f"{row['ap50']:.{digits}f}"
        ap = "-" if row["ap"] is None else f"{row['ap']:.{digits}f}"
        lines.append(f"{row['class']:<{width}}  {ap50:>7}  {ap:>6}  {row['support']:>6}")
    return "\n".join(lines)


def _record_section(run_dir, report, curves, images, detections, truths, classes) -> None:
    rows = [
        [row["class"], *("" if v is None else v for v in (row["ap50"], row["ap"])), row["support"]]
        for row in report["per_class"]
    ]
    caption = (
        f"{report['split']} split: mAP@0.5 {report['map50']:.4f}, mAP@[.5:.95] {report['map']:.4f}"
    )
    runs.add_table(
        run_dir, "Detection", "ap", ["class", "AP@0.5", "AP@[.5:.95]", "boxes"], rows, caption
    )
    for curve, row in zip(curves, report["per_class"], strict=True):
        curve["ap"] = row["ap50"]
    runs.add_figure(
        run_dir,
        "Detection",
        "pr_curves.png",
        figure_to_png(plot_pr_curves(curves)),
        "precision against recall per class at IoU 0.5 (all detections ranked by score)",
    )
    shown = slice(0, min(SHOWN, len(images)))
    confident = [
        Detections(d.boxes[keep], d.scores[keep], d.labels[keep])
        for d in detections[shown]
        for keep in [d.scores >= SHOWN_SCORE]
    ]
    fig = plot_detections(images[shown].float() / 255, confident, truths[shown], classes)
    runs.add_figure(
        run_dir,
        "Detection",
        "detections.png",
        figure_to_png(fig),
        f"the first {report['split']} images: true boxes dashed, detections with score >= "
        f"{SHOWN_SCORE} labelled with class and score",
    )
