"""``cnnlab explain``: attributions, model and data views, synthesis, --evaluate, --shape-bias."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import torch
from PIL import Image
from torch import nn
from torchvision.io import write_png
from torchvision.models.vgg import cfgs, make_layers

from cnnlab import cli
from cnnlab.cli import explain as explain_cli
from cnnlab.data import load_data
from cnnlab.errors import CnnlabError, ConfigError, DataError, UnknownNameError
from cnnlab.explain import synthesis
from cnnlab.explain.synthesis import STYLE_LAYERS, gram_matrix, load_cue_conflict, shape_bias
from cnnlab.runs import load_run


def explain(*argv: str) -> int:
    args = cli.build_parser().parse_args(["explain", *map(str, argv)])
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


def test_image_paths_may_follow_the_options(lenet_run, digit_png, tmp_path, capsys):
    second = tmp_path / "second.png"
    shutil.copy(digit_png, second)
    argv = ["explain", str(lenet_run), "--method", "saliency", str(digit_png), str(second)]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    for name in ("saliency_seven.png", "saliency_second.png"):
        assert str(lenet_run / "figures" / "explain" / name) in out


def test_leftover_options_are_still_refused(lenet_run, digit_png, capsys):
    with pytest.raises(SystemExit):
        cli.main(["explain", str(lenet_run), "--method", "saliency", str(digit_png), "--bogus"])
    assert "unrecognized arguments: --bogus" in capsys.readouterr().err


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


def test_explain_refuses_several_targets_for_an_attribution_method(lenet_run, digit_png):
    with pytest.raises(ConfigError, match="one class per call"):
        explain(lenet_run, digit_png, "--method", "saliency", "--target", "3", "7")


@pytest.fixture
def run_copy(lenet_run, tmp_path) -> Path:
    """A private copy of the shared run: these commands write into it."""
    return Path(shutil.copytree(lenet_run, tmp_path / "run"))


def spy(monkeypatch, module, name: str) -> list[tuple[tuple, Any]]:
    """Record (positional arguments, result) of every call the CLI makes to ``module.name``."""
    calls = []
    real = getattr(module, name)

    def recording(*args, **kwargs):
        calls.append((args, real(*args, **kwargs)))
        return calls[-1][1]

    monkeypatch.setattr(module, name, recording)
    return calls


def scores(run_dir: Path, images: torch.Tensor, classes: list[int]) -> torch.Tensor:
    model = load_run(run_dir).model
    with torch.no_grad():
        return model(images)[torch.arange(len(classes)), classes]


def test_class_model_raises_every_class_score_above_mid_grey(run_copy, monkeypatch, capsys):
    calls = spy(monkeypatch, explain_cli, "class_model_visualization")
    assert explain(run_copy, "--method", "class-model", "--steps", "10") == 0
    ((_, image),) = calls
    every = list(range(10))
    assert image.shape == (10, 1, 32, 32)
    assert (
        scores(run_copy, image, every) > scores(run_copy, torch.full_like(image, 0.5), every)
    ).all()
    path = run_copy / "figures" / "explain" / "class-model.png"
    assert path.is_file() and str(path) in capsys.readouterr().out


def test_class_model_optimizes_the_chosen_classes_in_order(run_copy, monkeypatch):
    calls = spy(monkeypatch, explain_cli, "class_model_visualization")
    assert explain(run_copy, "--method", "class-model", "--target", "7", "3", "--steps", "10") == 0
    ((_, image),) = calls
    assert image.shape == (2, 1, 32, 32)
    assert (
        scores(run_copy, image, [7, 3]) > scores(run_copy, torch.full_like(image, 0.5), [7, 3])
    ).all()
    assert (run_copy / "figures" / "explain" / "class-model_7_3.png").is_file()


def test_class_model_rejects_a_class_the_run_does_not_have(run_copy):
    with pytest.raises(ConfigError, match="neither a class index"):
        explain(run_copy, "--method", "class-model", "--target", "cat")


@pytest.fixture(scope="module")
def vgg_file(tmp_path_factory) -> Path:
    """A torchvision-format VGG-19 state dict with seeded random weights."""
    torch.manual_seed(0)
    state = {f"features.{k}": v for k, v in make_layers(cfgs["E"]).state_dict().items()}
    path = tmp_path_factory.mktemp("vgg") / "vgg19.pth"
    torch.save(state, path)
    return path


@pytest.fixture
def paint_png(tmp_path) -> Path:
    """A 40x24 style image of coloured vertical stripes."""
    path = tmp_path / "paint.png"
    stripes = torch.zeros(24, 40, 3, dtype=torch.uint8)
    stripes[:, ::4, 0] = stripes[:, 1::4, 2] = 255
    Image.fromarray(stripes.numpy()).save(path)
    return path


def style_loss(extractor: nn.Sequential, image: torch.Tensor, style: torch.Tensor) -> float:
    """Σ over Gatys et al.'s style layers of the squared Gram-matrix difference."""
    loss, x, y = 0.0, image, style
    with torch.no_grad():
        for name, layer in extractor.named_children():
            x, y = layer(x), layer(y)
            if name in STYLE_LAYERS:
                loss += float((gram_matrix(x) - gram_matrix(y)).pow(2).sum())
            if name == STYLE_LAYERS[-1]:
                return loss
    raise AssertionError(f"{STYLE_LAYERS[-1]} is not a layer of the extractor")


def test_style_transfer_brings_the_content_closer_to_the_style(
    run_copy, digit_png, paint_png, vgg_file, monkeypatch, capsys
):
    calls = spy(monkeypatch, explain_cli, "style_transfer")
    argv = ["--style", paint_png, "--vgg-weights", vgg_file, "--size", "32", "--steps", "10"]
    assert explain(run_copy, digit_png, "--method", "style-transfer", *argv) == 0
    (((content, style, *_), result),) = calls
    assert content.shape == result.shape == (1, 3, 32, 32) and style.shape == (1, 3, 19, 32)
    extractor = synthesis.vgg19_features(vgg_file)
    assert style_loss(extractor, result, style) < style_loss(extractor, content, style)
    out = capsys.readouterr()
    path = run_copy / "figures" / "explain" / "style-transfer_seven_paint.png"
    assert path.is_file() and str(path) in out.out
    assert "warning" not in out.err


def test_style_transfer_without_vgg_weights_warns_that_the_result_is_meaningless(
    run_copy, digit_png, paint_png, capsys
):
    argv = ["--method", "style-transfer", "--style", paint_png, "--size", "32", "--steps", "1"]
    assert explain(run_copy, digit_png, *argv) == 0
    assert "random weights and the result is meaningless" in capsys.readouterr().err
    assert (run_copy / "figures" / "explain" / "style-transfer_seven_paint.png").is_file()


@pytest.mark.parametrize(
    ("content", "options", "error", "message"),
    [
        (True, [], ConfigError, "needs a style image"),
        (False, ["--style", "{content}"], ConfigError, "needs content image files"),
        (True, ["--style", "{garbage}"], DataError, "Cannot decode image"),
        (True, ["--style", "{content}", "--size", "8"], ConfigError, "raise --size"),
    ],
)
def test_style_transfer_explains_bad_input(
    run_copy, digit_png, tmp_path, content, options, error, message
):
    garbage = tmp_path / "garbage.png"
    garbage.write_bytes(b"not an image")
    options = [o.format(content=digit_png, garbage=garbage) for o in options]
    images = [digit_png] if content else []
    with pytest.raises(error, match=message):
        explain(run_copy, *images, "--method", "style-transfer", *options)


@pytest.fixture
def cue_conflict(run_copy, tmp_path) -> Path:
    """8 digit test images; the run's predicted class is their shape (even i) or texture (odd i).

    So the run decides by shape for half of them and by texture for the other half.
    """
    folder = tmp_path / "cue-conflict"
    images = torch.stack([load_data("digits").test[i][0] for i in range(8)])
    predicted = load_run(run_copy).predict_proba(images.float() / 255).argmax(1).tolist()
    for i, (image, p) in enumerate(zip(images, predicted, strict=True)):
        shape, texture = (p, (p + 1) % 10) if i % 2 == 0 else ((p + 1) % 10, p)
        (folder / str(shape)).mkdir(parents=True, exist_ok=True)
        write_png(image, str(folder / str(shape) / f"{shape}_{i}-{texture}.png"))
    return folder


def test_shape_bias_prints_and_merges_what_shape_bias_computes(run_copy, cue_conflict, capsys):
    metrics_path = run_copy / "metrics.json"
    metrics_path.write_text(json.dumps({"test": {"accuracy": 0.5}}))
    assert explain(run_copy, "--shape-bias", cue_conflict) == 0
    run = load_run(run_copy)
    expected = shape_bias(run.model, *load_cue_conflict(cue_conflict, run.classes, run.input_shape))
    assert dataclasses.astuple(expected) == (0.5, 0.5, 0.5, 8)
    out = capsys.readouterr().out
    printed = dict(
        re.findall(r"^(shape bias|shape fraction|texture fraction|images):\s+(\S+)", out, re.M)
    )
    assert printed == {
        "shape bias": f"{expected.shape_bias:.4f}",
        "shape fraction": f"{expected.shape_fraction:.4f}",
        "texture fraction": f"{expected.texture_fraction:.4f}",
        "images": "8",
    }
    metrics = json.loads(metrics_path.read_text())
    assert metrics == {
        "test": {"accuracy": 0.5},
        "shape_bias": {**dataclasses.asdict(expected), "folder": str(cue_conflict)},
    }


def test_shape_bias_explains_an_empty_folder(run_copy, tmp_path):
    with pytest.raises(DataError, match="expected files <shape>/"):
        explain(run_copy, "--shape-bias", tmp_path)
    assert not (run_copy / "metrics.json").exists()


def test_cli_prints_a_missing_style_as_one_line_and_exits_2(run_copy, digit_png, capsys):
    from cnnlab.cli import main

    assert main(["explain", str(run_copy), str(digit_png), "--method", "style-transfer"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cnnlab explain: error: --method style-transfer needs a style image")
    assert "Traceback" not in err
