"""``explain``, ``attack`` and ``export`` on every task's runs: what works, and clear refusals.

One tiny run per task, made once: segmentation (segnet_small, 1 epoch on 32
seg-canvases), reconstruction (a denoising U-Net, 1 epoch on 48 digits),
embedding (1 epoch on 30 digits of each of 0-4) and detection (an untrained
YOLOv1 written by hand: every command but the model views refuses it), and an
int8 program quantized from an untrained LeNet-5.
"""

from __future__ import annotations

import dataclasses
import json
import shutil

import numpy as np
import pytest
import torch

from cnnlab import TrainConfig, Trainer, runs
from cnnlab.data import load_data, make_loader
from cnnlab.data.noise import parse_noise
from cnnlab.deploy.onnx_model import OnnxClassifier
from cnnlab.fileio import write_json, write_text
from cnnlab.metrics.segmentation import pixel_confusion_matrix, segmentation_report
from cnnlab.runs import save_weights
from cnnlab.tasks.embedding_run import load_embedding_run
from cnnlab.tasks.reconstruction_eval import eval_noise
from tests.cli.helpers import run_cli


def _subset(data, train: int, val: int, test: int):
    return dataclasses.replace(
        data,
        train=data.train.subset(torch.arange(train)),
        val=data.val.subset(torch.arange(val)),
        test=data.test.subset(torch.arange(test)),
    )


def _png(tmp_path_factory, image: torch.Tensor, name: str) -> str:
    from torchvision.io import write_png

    path = tmp_path_factory.mktemp("images") / name
    write_png(image, str(path))
    return str(path)


@pytest.fixture(scope="module")
def seg_run(tmp_path_factory):
    data = load_data("seg-canvas")
    config = TrainConfig(
        task="segmentation", model="segnet_small", dataset="seg-canvas", epochs=1, batch_size=16
    )
    run_dir = tmp_path_factory.mktemp("seg") / "run"
    Trainer(config, run_dir, quiet=True, data=_subset(data, 32, 8, 8)).fit()
    return run_dir, _png(tmp_path_factory, data.test.images[0], "canvas.png")


@pytest.fixture(scope="module")
def denoise_run(tmp_path_factory):
    data = load_data("digits", test_fraction=0.05)
    config = TrainConfig(
        task="denoise",
        noise="gaussian:0.2",
        model="unet_n2v",
        model_kwargs={"widths": [8, 16]},
        dataset="digits",
        test_fraction=0.05,
        epochs=1,
        batch_size=32,
    )
    run_dir = tmp_path_factory.mktemp("denoise") / "run"
    Trainer(config, run_dir, quiet=True, data=_subset(data, 48, 16, len(data.test))).fit()
    return run_dir, _png(tmp_path_factory, data.test.images[0], "digit.png")


@pytest.fixture(scope="module")
def embedding_run(tmp_path_factory):
    config = TrainConfig(
        task="embedding",
        dataset="digits",
        holdout_classes=["5", "6", "7", "8", "9"],
        embedding_dim=16,
        batch_size=64,
        epochs=1,
        per_class=30,
    )
    run_dir = tmp_path_factory.mktemp("embedding") / "run"
    Trainer(config, run_dir, quiet=True).fit()  # its evaluation enrolls the gallery
    digit = load_data("digits").test.images[0]
    return run_dir, _png(tmp_path_factory, digit, "digit.png")


@pytest.fixture(scope="module")
def detection_run(tmp_path_factory):
    """An untrained YOLOv1 run directory on the detection canvases (written, not trained)."""
    data = load_data("det-canvas")
    config = TrainConfig(task="detection", model="yolov1", dataset="det-canvas")
    run_dir = tmp_path_factory.mktemp("det") / "run"
    run_dir.mkdir()
    torch.manual_seed(0)
    model = runs.build_classifier(
        "yolov1", {}, data.classes, data.input_shape, torch.tensor([0.1]), torch.tensor([0.2])
    )
    write_text(run_dir / runs.CONFIG, config.to_yaml())
    meta = {
        "task": "detection",
        "model": "yolov1",
        "model_kwargs": {},
        "classes": data.classes,
        "input_shape": list(data.input_shape),
        "weights_sha256": save_weights(run_dir / runs.BEST, model),
    }
    write_json(run_dir / runs.META, meta)
    return run_dir, _png(tmp_path_factory, data.test.images[0], "scene.png")


def _refused(capsys, *argv: str, says: tuple[str, ...]) -> str:
    code, _, err = run_cli(capsys, *argv)
    assert code == 2 and "Traceback" not in err, err
    for text in says:
        assert text in err, err
    return err


def _explanations(run_dir) -> list[str]:
    return [entry["figure"] for entry in runs.read_sections(run_dir).get("Explanations", [])]


# --- segmentation -------------------------------------------------------------------------


def test_explain_segmentation_seg_grad_cam_over_a_region(capsys, seg_run):
    run_dir, image = seg_run
    code, out, _ = run_cli(
        capsys,
        "explain", str(run_dir), image, "--method", "grad-cam",
        "--target-class", "1", "--region", "8,8,40,40",
    )  # fmt: skip
    assert code == 0
    assert "explain/seg-grad-cam_1_canvas.png" in _explanations(run_dir)
    assert (run_dir / "figures/explain/seg-grad-cam_1_canvas.png").is_file()
    assert "seg-grad-cam_1_canvas.png" in out


def test_explain_segmentation_refuses_classifier_methods_and_bad_regions(capsys, seg_run):
    run_dir, image = seg_run
    _refused(
        capsys, "explain", str(run_dir), image, "--method", "cam",
        says=("segmentation run", "--target-class", "grad-cam"),
    )  # fmt: skip
    _refused(
        capsys, "explain", str(run_dir), image, "--method", "grad-cam", "--region", "8,8,80,40",
        says=("x1 <= 64",),
    )  # fmt: skip
    _refused(capsys, "explain", str(run_dir), "--evaluate", says=("segmentation run",))


def test_attack_segmentation_reports_miou_clean_and_adversarial(capsys, seg_run):
    run_dir, _ = seg_run
    code, out, _ = run_cli(
        capsys, "attack", str(run_dir), "--method", "fgsm", "--eps", "8/255", "--limit", "6",
        "--examples", "2",
    )  # fmt: skip
    assert code == 0 and "mean IoU" in out
    metrics = runs.read_metrics(run_dir)["attacks"]["fgsm-linf-eps8_255"]
    run = runs.load_run(run_dir)
    split = run.load_split("test", limit=6)
    images, masks = next(iter(make_loader(split.images, 6, shuffle=False)))
    with torch.no_grad():
        predicted = run.model(images).argmax(1)
    confusion = pixel_confusion_matrix(masks, predicted, len(run.classes))
    assert metrics["miou_clean"] == pytest.approx(
        segmentation_report(confusion, run.classes)["miou"]
    )
    assert metrics["num_images"] == 6 and metrics["task"] == "segmentation"
    assert metrics["mean_linf"] == pytest.approx(8 / 255, abs=1e-6)
    assert 0 <= metrics["miou_adversarial"] <= 1


def test_attack_segmentation_refuses_classifier_attacks(capsys, seg_run):
    run_dir, _ = seg_run
    _refused(
        capsys, "attack", str(run_dir), "--method", "deepfool",
        says=("segmentation run", "fgsm and pgd"),
    )  # fmt: skip
    _refused(capsys, "attack", str(run_dir), "--targeted", "1", says=("untargeted", "--targeted"))


def test_export_segmentation_onnx_agrees_with_pytorch(capsys, seg_run, tmp_path):
    run_dir, image = seg_run
    out = tmp_path / "segnet.onnx"
    code, printed, _ = run_cli(capsys, "export", str(run_dir), "--out", str(out), "--limit", "4")
    assert code == 0 and "identical predictions" in printed
    onnx = OnnxClassifier.from_bytes(out.read_bytes(), threads=1)
    assert onnx.metadata["task"] == "segmentation"
    run = runs.load_run(run_dir)
    x = torch.rand(3, *run.input_shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = run.model(x)
    torch.testing.assert_close(onnx.logits(x), expected, rtol=1e-4, atol=1e-4)
    _refused(capsys, "predict", str(out), image, says=("segmentation model", "onnxruntime"))


# --- reconstruction -----------------------------------------------------------------------


def test_attack_denoise_measures_the_psnr_drop_from_the_evaluations_psnr(capsys, denoise_run):
    run_dir, _ = denoise_run
    test_images = runs.read_metrics(run_dir)["test"]["num_images"]
    code, out, _ = run_cli(
        capsys, "attack", str(run_dir), "--method", "pgd", "--eps", "4/255", "--steps", "3",
        "--limit", str(test_images), "--examples", "2",
    )  # fmt: skip
    assert code == 0 and "PSNR" in out
    metrics = runs.read_metrics(run_dir)
    attacked = metrics["attacks"]["pgd-linf-eps4_255-steps3"]
    # Unattacked, the restored images are the evaluation's: the same PSNR on the same images.
    assert attacked["psnr_clean"] == pytest.approx(metrics["test"]["psnr"], abs=1e-9)
    assert attacked["psnr_drop"] == pytest.approx(
        attacked["psnr_clean"] - attacked["psnr_adversarial"]
    )
    assert attacked["psnr_drop"] > 0


def test_explain_denoise_offers_the_model_views_only(capsys, denoise_run):
    run_dir, image = denoise_run
    _refused(
        capsys, "explain", str(run_dir), image, "--method", "grad-cam",
        says=("denoise run", "no class score", "--method filters|activations"),
    )  # fmt: skip
    code, _, _ = run_cli(capsys, "explain", str(run_dir), "--method", "filters")
    assert code == 0 and "explain/filters.png" in _explanations(run_dir)


def test_export_denoise_onnx_restores_like_pytorch(capsys, denoise_run, tmp_path):
    run_dir, _ = denoise_run
    out = tmp_path / "denoise.onnx"
    code, printed, _ = run_cli(capsys, "export", str(run_dir), "--out", str(out), "--limit", "4")
    assert code == 0 and "identical predictions" not in printed
    onnx = OnnxClassifier.from_bytes(out.read_bytes(), threads=1)
    assert onnx.session.get_outputs()[0].name == "restored"
    run = runs.load_run(run_dir)
    clean = load_data("digits", test_fraction=0.05).test.images[:3].float() / 255
    noisy = eval_noise(clean, torch.arange(3), parse_noise("gaussian:0.2"), "test")
    with torch.no_grad():
        expected = run.model(noisy)
    torch.testing.assert_close(onnx.logits(noisy), expected, rtol=1e-4, atol=1e-4)


# --- embedding ----------------------------------------------------------------------------


def test_explain_embedding_attributes_the_similarity_to_the_nearest_identity(capsys, embedding_run):
    run_dir, image = embedding_run
    code, _, _ = run_cli(capsys, "explain", str(run_dir), image, "--method", "saliency")
    assert code == 0
    figure = next(f for f in _explanations(run_dir) if f.startswith("explain/saliency_"))
    identity = figure.removeprefix("explain/saliency_").split("_")[0]
    assert identity in {"5", "6", "7", "8", "9"}  # the gallery holds the held-out digits
    _refused(
        capsys, "explain", str(run_dir), image, "--method", "saliency", "--target", "2",
        says=("'2' is not enrolled", "5, 6, 7, 8, 9"),
    )  # fmt: skip
    _refused(
        capsys, "explain", str(run_dir), "--method", "tsne", says=("embedding run", "IDENTITY")
    )


def test_attack_embedding_is_refused_with_what_measures_it(capsys, embedding_run):
    run_dir, _ = embedding_run
    _refused(capsys, "attack", str(run_dir), says=("--task embedding", "cnnlab evaluate"))


def test_export_embedding_onnx_gives_the_runs_unit_embeddings(capsys, embedding_run, tmp_path):
    run_dir, _ = embedding_run
    out = tmp_path / "embedding.onnx"
    code, _, _ = run_cli(capsys, "export", str(run_dir), "--out", str(out), "--limit", "4")
    assert code == 0
    onnx = OnnxClassifier.from_bytes(out.read_bytes(), threads=1)
    run = load_embedding_run(run_dir)
    x = torch.rand(3, *run.input_shape, generator=torch.Generator().manual_seed(0))
    got = onnx.logits(x)
    with torch.no_grad():
        torch.testing.assert_close(got, run.model(x), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(got.norm(dim=1).numpy(), 1.0, rtol=1e-5)


# --- detection ----------------------------------------------------------------------------


def test_detection_runs_get_the_model_views_and_clear_refusals(capsys, detection_run):
    run_dir, image = detection_run
    code, _, _ = run_cli(capsys, "explain", str(run_dir), image, "--method", "activations")
    assert code == 0 and "explain/activations.png" in _explanations(run_dir)
    _refused(
        capsys, "explain", str(run_dir), image, "--method", "grad-cam",
        says=("detection run", "non-maximum suppression", "cnnlab predict"),
    )  # fmt: skip
    _refused(capsys, "attack", str(run_dir), says=("--task detection", "mAP"))
    _refused(capsys, "export", str(run_dir), says=("--task detection", "cnnlab predict"))


# --- int8 and exported programs -----------------------------------------------------------


@pytest.fixture(scope="module")
def int8_program(lenet_run, tmp_path_factory):
    """A real int8 program of a copy of the untrained LeNet-5 run, under a name without 'int8'."""
    pytest.importorskip("torchao")
    from cnnlab.deploy.quantize import quantize_run

    run_dir = tmp_path_factory.mktemp("int8") / "run"
    shutil.copytree(lenet_run, run_dir)
    path = run_dir / "fast.pt2"
    quantize_run(run_dir, calibration=8, limit=8, out=path)
    return run_dir, path


@pytest.mark.parametrize("command", ["explain", "attack"])
def test_int8_programs_are_for_inference(capsys, int8_program, command):
    run_dir, path = int8_program
    extra = ["x.png", "--method", "saliency"] if command == "explain" else []
    err = _refused(
        capsys, command, str(path), *extra,
        says=("int8 models are for inference", f"cnnlab {command} {run_dir}"),
    )  # fmt: skip
    assert "fp32 run" in err


def test_an_exported_fp32_program_points_to_its_run_directory(capsys, lenet_run, tmp_path):
    path = tmp_path / "model.onnx"
    path.write_bytes(b"not read")
    _refused(capsys, "attack", str(path), says=("exported model", f"cnnlab attack {tmp_path}"))


def test_export_metadata_names_the_task(capsys, seg_run):
    run_dir, _ = seg_run
    from cnnlab.deploy.export import model_metadata

    metadata = model_metadata(runs.load_run(run_dir))
    assert json.loads(metadata["cnnlab.task"]) == "segmentation"
