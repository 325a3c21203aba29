"""Reconstruction end to end: autoencoder, denoise and Noise2Void through the Trainer,
their evaluation, report, predict and errors; and the proof that Noise2Void never trains
on a clean image."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio
from tests.cli.helpers import run_cli
from torchvision.io import decode_png, encode_png

from cnnlab import TrainConfig, Trainer, runs
from cnnlab.data import TensorImageDataset, load_data, make_loader
from cnnlab.data.noise import parse_noise, sample_noise
from cnnlab.errors import ConfigError
from cnnlab.tasks import create_task, evaluate_run, reconstruction, reconstruction_eval
from cnnlab.tasks.reconstruction_eval import EVAL_NOISE_SEED, SPLIT_SALT, restore_files

UNET = dict(model="unet_n2v", model_kwargs={"widths": [8, 16]})
FAST = dict(dataset="digits", test_fraction=0.05, epochs=1, batch_size=32, lr=3e-3)


@pytest.fixture(scope="module")
def digits():
    return load_data("digits", test_fraction=0.05)  # 90 test images, as the runs' FAST


@pytest.fixture(scope="module")
def small(digits):
    """48 training and 16 validation digits (the final evaluation uses the whole test split)."""
    return dataclasses.replace(
        digits,
        train=digits.train.subset(torch.arange(48)),
        val=digits.val.subset(torch.arange(16)),
    )


@pytest.fixture(scope="module")
def denoise_run(small, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("runs") / "denoise"
    config = TrainConfig(task="denoise", noise="gaussian:0.2", **UNET, **FAST)
    Trainer(config, run_dir, quiet=True, data=small).fit()
    return run_dir


def test_a_denoise_run_records_psnr_and_ssim_and_its_metrics_can_be_recomputed(denoise_run, digits):
    (row,) = runs.read_history(denoise_run)
    assert {"train_loss", "train_psnr", "val_loss", "val_psnr", "val_ssim"} <= set(row)
    metrics = runs.read_metrics(denoise_run)["test"]
    assert metrics["noise"] == "gaussian:0.2" and metrics["num_images"] == len(digits.test)
    # Independently: the fixed test noise, the best weights, scikit-image's PSNR.
    run = runs.load_run(denoise_run)
    clean = digits.test.images.float() / 255
    indices = torch.arange(len(clean))
    noisy = sample_noise(clean, indices, parse_noise("gaussian:0.2"), EVAL_NOISE_SEED, 2)
    with torch.inference_mode():
        restored = run.model(noisy).clamp(0, 1)
    expected = np.mean(
        [
            peak_signal_noise_ratio(c.double().numpy(), r.double().numpy(), data_range=1)
            for c, r in zip(clean, restored, strict=True)
        ]
    )
    assert metrics["psnr"] == pytest.approx(expected, abs=1e-4)
    assert metrics["psnr_input"] == pytest.approx(13.98, abs=0.1)  # -20 log10(0.2)
    assert 0 < metrics["ssim_input"] < 1 and 0 < metrics["ssim"] < 1
    page = (denoise_run / "report.html").read_text()
    assert "<h2>Denoising</h2>" in page and "restoration.png" in json.dumps(
        runs.read_sections(denoise_run)
    )


def test_evaluate_run_dispatches_to_the_reconstruction_evaluation(denoise_run):
    again = evaluate_run(denoise_run, split="test")
    assert again["psnr"] == pytest.approx(runs.read_metrics(denoise_run)["test"]["psnr"])


def test_cnnlab_evaluate_prints_the_psnr_and_predict_writes_the_restored_image(
    denoise_run, digits, tmp_path, capsys
):
    code, out, _ = run_cli(capsys, "evaluate", str(denoise_run), "--split", "val")
    assert code == 0 and "noisy input: PSNR" in out and "restored:    PSNR" in out
    image = (digits.test.images[0].float() / 255 + 0.2 * torch.randn(1, 32, 32)).clamp(0, 1)
    pixels = (image * 255).round().to(torch.uint8)
    (tmp_path / "noisy.png").write_bytes(encode_png(pixels).numpy().tobytes())
    code, out, _ = run_cli(
        capsys,
        "predict",
        str(denoise_run),
        str(tmp_path / "noisy.png"),
        "--restored-dir",
        str(tmp_path / "out"),
    )
    written = tmp_path / "out" / "noisy_restored.png"
    assert code == 0 and out.strip() == str(written)
    run = runs.load_run(denoise_run)
    with torch.inference_mode():
        expected = (run.model(pixels[None].float() / 255)[0].clamp(0, 1) * 255).round()
    assert torch.equal(
        decode_png(torch.frombuffer(bytearray(written.read_bytes()), dtype=torch.uint8)),
        expected.to(torch.uint8),
    )


def test_predict_refuses_an_image_of_another_size(denoise_run, tmp_path):
    (tmp_path / "small.png").write_bytes(
        encode_png(torch.zeros(1, 20, 24, dtype=torch.uint8)).numpy().tobytes()
    )
    with pytest.raises(ConfigError, match="24x20 pixels but the run restores 32x32"):
        restore_files(runs.load_run(denoise_run), [tmp_path / "small.png"])


def test_an_autoencoder_run_shows_reconstructions_and_its_latent_space(small, tmp_path):
    config = TrainConfig(task="autoencoder", model="conv_autoencoder", **FAST)
    assert config.monitor == "val_psnr"  # the task's default
    Trainer(config, tmp_path / "ae", quiet=True, data=small).fit()
    metrics = runs.read_metrics(tmp_path / "ae")["test"]
    assert metrics["noise"] is None and metrics["psnr_input"] is None and metrics["psnr"] > 0
    figures = [e.get("figure") for e in runs.read_sections(tmp_path / "ae")["Reconstruction"]]
    assert {"restoration.png", "latent_space.png"} <= set(figures)
    assert (tmp_path / "ae" / "figures" / "latent_space.png").stat().st_size > 0
    assert runs.load_run(tmp_path / "ae").model(torch.rand(1, 1, 32, 32)).shape == (1, 1, 32, 32)


def test_denoise_draws_fresh_noise_every_epoch_against_clean_targets(small):
    task = create_task(TrainConfig(task="denoise", noise="gaussian:0.1", **UNET), small)
    loader = make_loader(small.train, 16, shuffle=False)
    first = next(task.batches(loader, torch.Generator().manual_seed(0), 0))
    second = next(task.batches(loader, torch.Generator().manual_seed(1), 1))
    clean, _ = next(iter(loader))
    assert torch.equal(first.targets, clean) and torch.equal(second.targets, clean)
    assert not torch.equal(first.inputs, second.inputs)


def test_noise2void_batches_hold_fixed_noisy_images_masked_and_their_masks(small):
    config = TrainConfig(task="noise2void", noise="gaussian:0.2", **UNET, seed=3)
    task = create_task(config, small)
    loader = make_loader(small.train, 16, shuffle=True, seed=3, epoch=0)
    _, _, indices = next(loader.with_indices())
    batch = next(task.batches(loader, torch.Generator().manual_seed(0), 0))
    expected = sample_noise(
        small.train.images[indices].float() / 255, indices, parse_noise("gaussian:0.2"), 3, 0
    )
    assert torch.equal(batch.targets, expected)  # the run's fixed noisy copy
    assert batch.labels.shape == (16, 1, 32, 32) and batch.labels.sum() == 16 * 16
    kept = batch.labels.expand_as(batch.inputs) == 0
    assert torch.equal(batch.inputs[kept], expected[kept])
    loader.set_epoch(1)  # another epoch: each image's noise is the same, the masks are not
    _, _, later = next(loader.with_indices())
    again = next(task.batches(loader, torch.Generator().manual_seed(0), 1))
    assert torch.equal(
        again.targets,
        sample_noise(
            small.train.images[later].float() / 255, later, parse_noise("gaussian:0.2"), 3, 0
        ),
    )


def test_restoration_normalizes_by_the_statistics_of_the_noisy_training_images(small, monkeypatch):
    monkeypatch.setattr(reconstruction, "STATS_IMAGES", 40)  # a spread subset of the 48
    config = TrainConfig(task="noise2void", noise="poisson:5", **UNET, seed=4)
    model = create_task(config, small).build_model(config, small, None, None)
    picked = reconstruction.spread_subset(len(small.train), 40)
    noisy = sample_noise(
        small.train.images[picked].float() / 255, picked, parse_noise("poisson:5"), 4, 0
    )
    assert model.normalize.mean.flatten().item() == pytest.approx(noisy.mean().item(), rel=1e-5)
    assert model.normalize.std.flatten().item() == pytest.approx(
        noisy.std(unbiased=False).item(), rel=1e-4
    )


def test_noise2void_never_trains_on_a_clean_image(small, tmp_path, monkeypatch):
    """Two data sets with different clean images but the same noisy ones give the same
    weights, validation losses and chosen epoch: no clean pixel reaches the loss."""
    real = sample_noise
    noise = parse_noise("gaussian:0.2")
    fixed = {  # the noisy images of data set A, for both data sets
        SPLIT_SALT["train"]: real(
            small.train.images.float() / 255, torch.arange(len(small.train)), noise, 0, 0
        ),
        SPLIT_SALT["val"]: real(
            small.val.images.float() / 255, torch.arange(len(small.val)), noise, EVAL_NOISE_SEED, 1
        ),
    }

    def same_noisy_images(images, indices, noise, seed, salt=0):
        if salt in fixed:
            return fixed[salt][indices].to(images.device)
        return real(images, indices, noise, seed, salt)  # the final test evaluation

    monkeypatch.setattr(reconstruction, "sample_noise", same_noisy_images)
    monkeypatch.setattr(reconstruction_eval, "sample_noise", same_noisy_images)
    generator = torch.Generator().manual_seed(0)

    def poisoned(split):
        images = torch.randint(0, 256, split.images.shape, dtype=torch.uint8, generator=generator)
        return TensorImageDataset(images, split.labels, split.classes)

    other = dataclasses.replace(small, train=poisoned(small.train), val=poisoned(small.val))
    config = TrainConfig(
        task="noise2void", noise="gaussian:0.2", **UNET, **{**FAST, "epochs": 2, "batch_size": 16}
    )
    histories, weights = [], []
    for name, data in (("a", small), ("b", other)):
        trainer = Trainer(config, tmp_path / name, quiet=True, data=data)
        trainer.fit()
        histories.append(trainer.history)
        weights.append(runs.load_run(tmp_path / name).model.state_dict())
    assert [r["val_loss"] for r in histories[0]] == [r["val_loss"] for r in histories[1]]
    assert histories[0][-1]["val_psnr"] != histories[1][-1]["val_psnr"]  # clean differ
    assert weights[0].keys() == weights[1].keys()
    for key in weights[0]:
        assert torch.equal(weights[0][key], weights[1][key]), key


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (dict(task="noise2void"), "clean images only and no noise was given: pass --noise"),
        (dict(task="denoise"), "pass --noise gaussian:0.2"),
        (dict(task="denoise", noise="gaussian:0.1", mixup=0.2), "Mixup"),
        (dict(task="noise2void", noise="gaussian:0.1", init="lsuv"), "lsuv"),
        (dict(task="noise2void", noise="gaussian:0.1", recon_loss="l1"), "MSE"),
        (dict(task="denoise", noise="gaussian:0.1", normalization="image"), "channel or none"),
    ],
)
def test_bad_combinations_are_refused_with_what_to_do(small, options, message):
    with pytest.raises(ConfigError, match=message):
        create_task(TrainConfig(**UNET, **options), small)


def test_noise2void_refuses_a_monitor_computed_from_clean_images(small, tmp_path):
    config = TrainConfig(task="noise2void", noise="gaussian:0.2", monitor="val_psnr", **UNET)
    with pytest.raises(ConfigError, match="not measured by the noise2void task"):
        Trainer(config, tmp_path / "run", quiet=True, data=small)
    assert TrainConfig(task="noise2void", noise="gaussian:0.2").monitor == "val_loss"


def test_a_model_that_changes_the_image_shape_is_refused_before_the_run_starts(small, tmp_path):
    config = TrainConfig(task="denoise", noise="gaussian:0.1", model="lenet5", **FAST)
    with pytest.raises(ConfigError, match="keeps the image's size and channels"):
        Trainer(config, tmp_path / "run", quiet=True, data=small)
    assert not (tmp_path / "run").exists()
    task = create_task(TrainConfig(task="denoise", noise="gaussian:0.1", **UNET), small)
    batch = next(task.batches(make_loader(small.train, 4, shuffle=False), torch.Generator(), 0))
    with pytest.raises(ConfigError, match="keeps the image's size and channels"):
        task.loss(torch.zeros(4, 10), batch)


@pytest.mark.parametrize(
    ("option", "message"),
    [(dict(noise="gauss:0.2"), "kind:param"), (dict(n2v_window=4), "odd window")],
)
def test_bad_reconstruction_options_are_refused(option, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig(task="noise2void", **option)
