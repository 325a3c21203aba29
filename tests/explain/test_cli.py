"""``cnnlab explain``: attribution figures for files, views of the model and data, --evaluate."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from PIL import Image

from cnnlab.errors import CnnlabError, ConfigError, UnknownNameError
from cnnlab.explain.cli import add_parser


def explain(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers())
    args = parser.parse_args(["explain", *map(str, argv)])
    return args.func(args)


@pytest.fixture
def digit_png(tmp_path) -> Path:
    path = tmp_path / "seven.png"
    image = Image.new("L", (32, 32), 0)
    image.paste(255, (8, 6, 24, 10))
    image.paste(255, (18, 10, 22, 28))
    image.save(path)
    return path


def test_explain_writes_an_overlay_per_image_and_prints_where(lenet_run, digit_png, capsys):
    assert explain(lenet_run, digit_png, "--method", "grad-cam") == 0
    path = lenet_run / "figures" / "explain" / "grad-cam_seven.png"
    assert path.is_file()
    assert str(path) in capsys.readouterr().out


def test_explain_accepts_a_target_class_and_a_layer(lenet_run, digit_png):
    argv = ["--method", "grad-cam++", "--target", "3", "--layer", "net.features.c3"]
    assert explain(lenet_run, digit_png, *argv) == 0
    assert (lenet_run / "figures" / "explain" / "grad-campp_seven.png").is_file()


def test_explain_rejects_an_unknown_method(lenet_run, digit_png):
    with pytest.raises(UnknownNameError, match="saliency"):
        explain(lenet_run, digit_png, "--method", "magic")


def test_explain_asks_for_images_for_an_attribution_method(lenet_run):
    with pytest.raises(ConfigError, match="image files"):
        explain(lenet_run, "--method", "saliency")


def test_explain_rejects_a_target_that_is_not_a_class(lenet_run, digit_png):
    with pytest.raises(CnnlabError, match="neither a class index"):
        explain(lenet_run, digit_png, "--method", "saliency", "--target", "12")


@pytest.mark.parametrize(
    ("view", "figure"),
    [
        ("filters", "filters"),
        ("activations", "activations"),
        ("neighbours", "neighbours"),
        ("tsne", "tsne"),
    ],
)
def test_explain_draws_model_and_data_set_views(lenet_run, view, figure):
    assert explain(lenet_run, "--method", view, "--limit", "30") == 0
    assert (lenet_run / "figures" / "explain" / f"{figure}.png").is_file()


def test_explain_draws_patches_of_chosen_units(lenet_run):
    argv = ["--method", "patches", "--layer", "net.features.c3", "--unit", "1", "--limit", "20"]
    assert explain(lenet_run, *argv) == 0
    assert (lenet_run / "figures" / "explain" / "patches_net.features.c3.png").is_file()


def test_explain_evaluate_prints_the_auc_table(lenet_run, capsys):
    argv = ["--evaluate", "--limit", "4", "--methods", "saliency,occlusion,cam"]
    assert explain(lenet_run, *argv) == 0
    out = capsys.readouterr().out
    assert "| saliency |" in out and "| occlusion |" in out
    assert "skipped cam" in out  # LeNet-5 has no global average pooling


def test_explain_refuses_a_layer_for_a_method_without_one(lenet_run, digit_png):
    with pytest.raises(ConfigError, match="--layer applies to"):
        explain(lenet_run, digit_png, "--method", "saliency", "--layer", "net.features.c3")
