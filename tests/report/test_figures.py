"""Figures render to valid PNG images."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from cnnlab.errors import ConfigError
from cnnlab.metrics import one_vs_rest_pr_curves
from cnnlab.report import (
    figure_to_png,
    image_grid,
    plot_confusion_matrix,
    plot_learning_curves,
    plot_misclassified,
    plot_pr_curves,
    save_figure,
)
from cnnlab.runs import best_epoch

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
HISTORY = [
    {"epoch": 1, "train_loss": 2.0, "val_loss": 1.5, "train_acc": 0.3, "val_acc": 0.40, "lr": 0.1},
    {"epoch": 2, "train_loss": 1.0, "val_loss": 1.1, "train_acc": 0.6, "val_acc": 0.65, "lr": 0.1},
    {"epoch": 3, "train_loss": 0.5, "val_loss": 1.2, "train_acc": 0.8, "val_acc": 0.62, "lr": 0.01},
]


def assert_png(data: bytes) -> None:
    assert data.startswith(PNG_SIGNATURE)
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "PNG"
        assert image.width > 0 and image.height > 0


def test_learning_curves_render_as_png():
    assert_png(figure_to_png(plot_learning_curves(HISTORY)))


def test_learning_curves_tolerate_missing_validation():
    rows = [{"train_loss": 1.0, "train_acc": 0.5}, {"train_loss": 0.8}]
    assert_png(figure_to_png(plot_learning_curves(rows)))


def test_best_epoch_is_highest_validation_accuracy():
    assert best_epoch(HISTORY, "val_acc") == HISTORY[1].get("epoch", 2)
    assert (
        best_epoch([{"epoch": 1, "val_loss": 2.0}, {"epoch": 2, "val_loss": 1.0}], "val_loss") == 2
    )
    assert best_epoch([{"epoch": 1, "train_loss": 2.0}], "val_acc") is None


def test_empty_history_raises_config_error():
    with pytest.raises(ConfigError, match="empty"):
        plot_learning_curves([])


@pytest.mark.parametrize("normalize", [False, True])
@pytest.mark.parametrize("n", [3, 100])
def test_confusion_matrix_renders_as_png(normalize, n):
    cm = np.random.default_rng(0).integers(0, 50, (n, n))
    names = ["$x$ <b>cat&dog", *(f"class {i}" for i in range(1, n))]
    assert_png(figure_to_png(plot_confusion_matrix(cm, names, normalize=normalize)))


def test_confusion_matrix_must_be_square():
    with pytest.raises(ConfigError, match="square"):
        plot_confusion_matrix(np.zeros((2, 3)))


def test_pr_curves_render_as_png():
    rng = np.random.default_rng(0)
    curves = one_vs_rest_pr_curves(rng.integers(0, 3, 30), rng.random((30, 3)))
    assert_png(figure_to_png(plot_pr_curves(curves, ["a", "b", "c"])))


def test_image_grid_and_misclassified_gallery_render(tmp_path):
    images = np.random.default_rng(0).random((5, 3, 8, 8))
    assert_png(figure_to_png(image_grid(images, [f"#{i}" for i in range(5)], ncols=3)))
    fig = plot_misclassified(
        images[:, :1],
        [0, 1, 2, 0, 1],
        np.tile([1, 2, 0], (5, 1)),
        np.tile([0.9, 0.06, 0.04], (5, 1)),
        ["zero", "one", "two"],
    )
    save_figure(fig, tmp_path / "figures" / "misclassified.png")
    assert_png((tmp_path / "figures" / "misclassified.png").read_bytes())
    assert [p.name for p in (tmp_path / "figures").iterdir()] == ["misclassified.png"]


def test_image_grid_rejects_wrong_layout():
    with pytest.raises(ConfigError, match="N, C, H, W"):
        image_grid(np.zeros((2, 8, 8)))


def test_best_epoch_breaks_accuracy_ties_by_validation_loss_like_the_trainer():

    history = [
        {"epoch": 1, "val_acc": 0.9, "val_loss": 0.1},
        {"epoch": 2, "val_acc": 1.0, "val_loss": 0.3},
        {"epoch": 3, "val_acc": 1.0, "val_loss": 0.2},
        {"epoch": 4, "val_acc": 1.0, "val_loss": 0.2},
    ]
    assert best_epoch(history, "val_acc") == 3
    assert best_epoch(history, "val_loss") == 1
    assert best_epoch([{"epoch": 1, "train_loss": 0.5}], "val_acc") is None
