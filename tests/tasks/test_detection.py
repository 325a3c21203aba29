"""Detection end to end: the task through the Trainer, its evaluation, report and predict."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from torchvision.io import write_png

from cnnlab import TrainConfig, Trainer, runs
from cnnlab.cli import main
from cnnlab.data import load_data
from cnnlab.data.detection import unpad_targets
from cnnlab.errors import ConfigError
from cnnlab.metrics.detection import detection_report
from cnnlab.models import create_model
from cnnlab.tasks import evaluate_run
from cnnlab.tasks.detection import Detection
from cnnlab.tasks.detection_eval import detect_dataset

DETECTION = dict(task="detection", model="yolov1", dataset="det-canvas")


@pytest.fixture(scope="module")
def canvases():
    return load_data("det-canvas")


@pytest.fixture(scope="module")
def small(canvases):
    """32 training, 8 validation and 8 test canvases."""
    return dataclasses.replace(
        canvases,
        train=canvases.train.subset(torch.arange(32)),
        val=canvases.val.subset(torch.arange(8)),
        test=canvases.test.subset(torch.arange(8)),
    )


@pytest.fixture(scope="module")
def yolo_run(small, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("runs") / "yolo"
    config = TrainConfig(**DETECTION, epochs=1, batch_size=16, lr=1e-3)
    trainer = Trainer(config, run_dir, quiet=True, data=small)
    trainer.fit()
    return run_dir, trainer


def test_detection_monitors_map50_by_default():
    assert TrainConfig(**DETECTION).monitor == "val_map50"


def test_a_detection_run_trains_evaluates_and_reports(yolo_run, canvases):
    run_dir, trainer = yolo_run
    row = trainer.history[-1]
    assert {"train_coord_xy", "train_noobj", "val_loss", "val_map50", "val_map"} <= set(row)
    assert runs.read_meta(run_dir)["task"] == "detection"
    metrics = runs.read_metrics(run_dir)["test"]
    # The final evaluation reads the run's data set from its config: all 400 test canvases.
    run = runs.load_run(run_dir)
    _, detections, truths = detect_dataset(run.model, canvases.test)
    expected = detection_report(detections, truths, run.classes)
    assert metrics["map50"] == pytest.approx(expected["map50"])
    assert metrics["map"] == pytest.approx(expected["map"])
    sections = runs.read_sections(run_dir)["Detection"]
    assert {entry.get("figure") for entry in sections} >= {"pr_curves.png", "detections.png"}
    assert evaluate_run(run_dir, split="val")["num_images"] == len(canvases.val)


def test_predict_prints_and_draws_the_boxes_of_an_image(yolo_run, canvases, tmp_path, capsys):
    run_dir, _ = yolo_run
    image = tmp_path / "canvas.png"
    write_png(canvases.test.images[0], str(image))
    code = main(
        ["predict", str(run_dir), str(image), "--min-score", "0", "--boxes-dir", str(tmp_path)]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "objects (score >= 0.0)" in out and (tmp_path / "canvas.boxes.png").is_file()


def test_detection_needs_a_data_set_with_boxes():
    digits = load_data("digits")
    with pytest.raises(ConfigError, match="det-canvas"):
        Detection(TrainConfig(**DETECTION), digits)


def test_retinanet_starts_with_the_focal_loss_of_its_prior(small):
    """Lin et al. 2017, Sec. 4.1: with the last bias at -log((1 - π) / π) every anchor starts
    at probability π = 0.01, so a positive costs α (1 - π)^γ (-log π) and the thousands of
    background anchors almost nothing: the loss per positive anchor is about 1.128."""
    torch.manual_seed(0)
    model = create_model("retinanet", num_classes=3, in_chans=1, input_size=96)
    images = small.train.images[:2].float() / 255
    terms = model.loss(model(images), unpad_targets(small.train.labels[:2]))
    expected = 0.25 * (1 - 0.01) ** 2 * -math.log(0.01)
    assert terms["cls"].item() == pytest.approx(expected, rel=0.02)


def test_a_faster_rcnn_step_trains_both_stages(small):
    torch.manual_seed(0)
    model = create_model("fasterrcnn", num_classes=3, in_chans=1, input_size=96)
    images = small.train.images[:2].float() / 255
    terms = model.loss(model(images), unpad_targets(small.train.labels[:2]))
    assert all(terms[k].item() > 0 for k in ("rpn_cls", "rpn_box", "roi_cls", "roi_box"))
    # untrained: objectness near 0 (BCE about log 2), classes near uniform (about log 4)
    assert terms["rpn_cls"].item() == pytest.approx(math.log(2), rel=0.2)
    assert terms["roi_cls"].item() == pytest.approx(math.log(4), rel=0.2)
    terms["loss"].backward()
    for part in (model.pyramid, model.rpn_objectness, model.roi_cls, model.roi_box):
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in part.parameters())
    model.eval()
    with torch.no_grad():
        found = model.detect(model(images))
    for det in found:
        assert len(det.boxes) <= 100 and ((det.scores >= 0.05) & (det.scores <= 1)).all()
        assert (det.boxes[:, :2] >= 0).all() and (det.boxes[:, 2:] <= 96).all()
