"""Segmentation end to end: the glyph canvases, the task through the Trainer, its evaluation."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from cnnlab import TrainConfig, Trainer, runs
from cnnlab.data import load_data, make_loader
from cnnlab.data.canvas import load_digit_canvases
from cnnlab.errors import ConfigError
from cnnlab.metrics.segmentation import pixel_confusion_matrix, segmentation_report
from cnnlab.tasks import evaluate_run
from cnnlab.tasks.segmentation import Segmentation, predict_masks

SEGMENTATION = dict(task="segmentation", model="unet_small", dataset="seg-canvas")


@pytest.fixture(scope="module")
def canvases():
    return load_data("seg-canvas")


@pytest.fixture(scope="module")
def small(canvases):
    """64 training, 16 validation and 16 test canvases."""
    return dataclasses.replace(
        canvases,
        train=canvases.train.subset(torch.arange(64)),
        val=canvases.val.subset(torch.arange(16)),
        test=canvases.test.subset(torch.arange(16)),
    )


def test_canvases_are_fixed_and_their_masks_cover_the_strokes(canvases):
    again_train, _ = load_digit_canvases(train=10, test=1)
    first_train, _ = load_digit_canvases(train=10, test=1)
    assert torch.equal(again_train.images, first_train.images)
    assert torch.equal(again_train.labels, first_train.labels)
    assert canvases.classes == ["background", "0", "1", "2", "3"]
    assert canvases.input_shape == (1, 64, 64) and canvases.train.labels.shape[1:] == (64, 64)
    images, masks = canvases.test.images[:, 0], canvases.test.labels
    assert int(images[masks > 0].min()) > int(0.12 * 255)  # labelled pixels are ink
    assert set(masks.unique().tolist()) == {0, 1, 2, 3, 4}


def test_a_segmentation_run_trains_evaluates_and_reports(small, canvases, tmp_path):
    config = TrainConfig(**SEGMENTATION, epochs=2, batch_size=16, lr=3e-3)
    trainer = Trainer(config, tmp_path / "run", quiet=True, data=small)
    trainer.fit()
    row = trainer.history[-1]
    assert {"train_acc", "val_acc", "val_miou", "val_loss"} <= set(row)
    metrics = runs.read_metrics(tmp_path / "run")["test"]
    run = runs.load_run(tmp_path / "run")
    # The final evaluation reads the run's data set from its config: all 400 test canvases.
    _, truth, predicted = predict_masks(run.model, canvases.test)
    expected = segmentation_report(pixel_confusion_matrix(truth, predicted, 5), run.classes)
    assert metrics["miou"] == pytest.approx(expected["miou"])
    assert metrics["accuracy"] == pytest.approx(expected["accuracy"])
    assert metrics["num_images"] == len(canvases.test) == 400
    page = (tmp_path / "run" / "report.html").read_text()
    assert "<h2>Segmentation</h2>" in page and "test mean IoU" in page


def test_evaluate_run_uses_the_runs_task(small, tmp_path):
    config = TrainConfig(**SEGMENTATION, epochs=1, batch_size=16)
    Trainer(config, tmp_path / "run", quiet=True, data=small).fit()
    report = evaluate_run(tmp_path / "run", split="val")
    assert "miou" in report and report["num_images"] == len(load_data("seg-canvas").val)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (dict(mixup=0.2), "Mixup"),
        (dict(augment="flip,rotate"), "rotate would interpolate or erase labels"),
        (dict(adv_train="pgd"), "adversarial"),
    ],
)
def test_techniques_that_would_break_the_masks_are_refused(small, options, message):
    with pytest.raises(ConfigError, match=message):
        Trainer(TrainConfig(**SEGMENTATION, **options), quiet=True, data=small)


def test_a_classification_data_set_is_refused_with_a_hint():
    with pytest.raises(ConfigError, match="seg-canvas"):
        Trainer(TrainConfig(task="segmentation", model="unet_small"), quiet=True)


def test_class_selection_does_not_apply_to_masks():
    with pytest.raises(ConfigError, match="labels every pixel"):
        load_data("seg-canvas", per_class=10)


def test_a_monitor_the_task_does_not_measure_is_refused():
    with pytest.raises(ConfigError, match=r"val_miou.*classification.*val_acc, val_loss"):
        Trainer(TrainConfig(monitor="val_miou"), quiet=True)


def test_training_batches_move_each_mask_with_its_augmented_image(small):
    task = Segmentation(TrainConfig(**SEGMENTATION, augment="flip"), small)
    loader = make_loader(small.train, 32, shuffle=False)
    images, masks = small.train.images[:32].float() / 255, small.train.labels[:32]
    batch = next(task.batches(loader, torch.Generator().manual_seed(0), 0))
    flipped = ~torch.isclose(batch.inputs, images).flatten(1).all(1)
    assert 0 < flipped.sum() < 32
    assert torch.allclose(batch.inputs[flipped], images[flipped].flip(-1))
    assert torch.equal(batch.targets[flipped], masks[flipped].flip(-1))
    assert torch.equal(batch.targets[~flipped], masks[~flipped])
