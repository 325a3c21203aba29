"""The final evaluation of a reconstruction run (autoencoder, denoise, noise2void).

The split's clean images get the run's noise model with noise fixed per image by
``(EVAL_NOISE_SEED, split, index)`` — every run is measured on the same noisy
images; the model restores them (clamped to [0, 1]).  metrics.json gets the
mean over images of the PSNR and SSIM of the restored images against the clean
ones (``psnr``, ``ssim``) and of the noisy inputs (``psnr_input``,
``ssim_input``; ``None`` without noise).  The report's section shows a table
of both, noisy / restored / clean triplets with their PSNR, and for
autoencoders the latent codes projected on their first two principal
components (PCA), coloured by class.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from sklearn.decomposition import PCA
from torch import nn
from torchvision.io import encode_png

from cnnlab import runs
from cnnlab.data import make_loader
from cnnlab.data.image import read_image
from cnnlab.data.noise import Noise, parse_noise, sample_noise
from cnnlab.errors import ConfigError
from cnnlab.fileio import write_bytes
from cnnlab.metrics.restoration import psnr, ssim
from cnnlab.report import build_report
from cnnlab.report.figures import figure_to_png
from cnnlab.report.reconstruction_figures import plot_image_rows, plot_latent_space

EVAL_NOISE_SEED = 2019  # the noise of validation and test images, whatever the run's seed
SPLIT_SALT = {"train": 0, "val": 1, "test": 2}
SHOWN = 6  # images in the report's figure
LATENT_IMAGES = 2000  # images in the latent-space plot


def restore(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """The model's restored images, clamped to [0, 1]."""
    return model(images).float().clamp(0, 1)


def eval_noise(
    images: torch.Tensor, indices: torch.Tensor, noise: Noise | None, split: str
) -> torch.Tensor:
    """The fixed noisy copy of evaluation images of ``split`` (``images`` without noise)."""
    if noise is None:
        return images
    return sample_noise(images, indices, noise, EVAL_NOISE_SEED, SPLIT_SALT[split])


@torch.inference_mode()
def measure(
    model: nn.Module, dataset: Any, noise: Noise | None, split: str, device: str = "cpu"
) -> dict[str, Any]:
    """Per-image PSNR/SSIM of the restored and of the noisy images, the first images,
    and (for models with ``encode``) up to `LATENT_IMAGES` latent codes."""
    model.eval()
    net = getattr(model, "net", None)  # behind the run's Normalize (runs.build_classifier)
    scores: dict[str, list[torch.Tensor]] = {
        key: [] for key in ("psnr", "ssim", "psnr_in", "ssim_in")
    }
    shown: dict[str, list[torch.Tensor]] = {"noisy": [], "restored": [], "clean": []}
    codes, labels = [], []
    for clean, y, idx in make_loader(dataset, 64, shuffle=False, device=device).with_indices():
        noisy = eval_noise(clean, idx, noise, split)
        restored = restore(model, noisy)
        scores["psnr"].append(psnr(clean, restored).cpu())
        scores["ssim"].append(ssim(clean, restored).cpu())
        scores["psnr_in"].append(psnr(clean, noisy).cpu())
        scores["ssim_in"].append(ssim(clean, noisy).cpu())
        if sum(len(s) for s in shown["clean"]) < SHOWN:
            for key, value in zip(shown, (noisy, restored, clean), strict=True):
                shown[key].append(value[:SHOWN].cpu())
        wanted = hasattr(net, "encode") and y.ndim == 1  # labels (not masks) colour the codes
        if wanted and sum(len(c) for c in codes) < LATENT_IMAGES:
            codes.append(net.encode(model.normalize(noisy)).float().cpu())
            labels.append(y.cpu())
    result: dict[str, Any] = {key: torch.cat(value) for key, value in scores.items()}
    result.update({key: torch.cat(value)[:SHOWN] for key, value in shown.items()})
    if codes:
        result["codes"] = torch.cat(codes)[:LATENT_IMAGES]
        result["labels"] = torch.cat(labels)[:LATENT_IMAGES]
    return result


def evaluate_reconstruction(
    run_dir: str | os.PathLike,
    *,
    dataset: str | None = None,
    data_dir: str | None = None,
    split: str = "test",
    device: str = "cpu",
) -> dict[str, Any]:
    """Evaluate a reconstruction run on ``split``: metrics.json, the report's section, report."""
    run = runs.load_run(run_dir)
    chosen = run.load_split(split, dataset=dataset, data_dir=data_dir)
    if chosen.images.image_shape != run.input_shape:
        raise ConfigError(
            f"{chosen.dataset}'s images are {chosen.images.image_shape} (C, H, W) but the run "
            f"restores {run.input_shape}; evaluate on images of the run's shape."
        )
    noise = None if run.config.get("noise") is None else parse_noise(run.config["noise"])
    measured = measure(run.model.to(device), chosen.images, noise, split, device)
    mean = {key: measured[key].mean().item() for key in ("psnr", "ssim", "psnr_in", "ssim_in")}
    report = {
        "task": run.meta["task"],
        "noise": None if noise is None else str(noise),
        "psnr": mean["psnr"],
        "ssim": mean["ssim"],
        "psnr_input": None if noise is None else mean["psnr_in"],
        "ssim_input": None if noise is None else mean["ssim_in"],
        "dataset": chosen.dataset,
        "split": split,
        "num_images": len(measured["psnr"]),
    }
    own = chosen.dataset == run.dataset
    runs.update_metrics(run.path, (split if own else f"{chosen.dataset}/{split}",), report)
    _record_section(run, report, measured, chosen.class_map)
    build_report(run.path)
    return report


def _record_section(run, report, measured, class_map) -> None:
    section = "Reconstruction" if report["task"] == "autoencoder" else "Denoising"
    noisy = report["noise"] is not None
    rows = [["restored", report["psnr"], report["ssim"]]]
    if noisy:
        rows.insert(
            0, [f"noisy input ({report['noise']})", report["psnr_input"], report["ssim_input"]]
        )
    caption = f"{report['split']} split, {report['num_images']} images: mean PSNR (dB) and SSIM"
    runs.add_table(run.path, section, "restoration", ["images", "PSNR", "SSIM"], rows, caption)
    shown = len(measured["clean"])
    restored_scores = [f"{v:.1f} dB" for v in measured["psnr"][:shown].tolist()]
    columns = [
        ("restored", measured["restored"], restored_scores),
        ("clean", measured["clean"], None),
    ]
    if noisy:
        input_scores = [f"{v:.1f} dB" for v in measured["psnr_in"][:shown].tolist()]
        columns.insert(0, ("noisy", measured["noisy"], input_scores))
    else:
        columns = [
            ("input", measured["clean"], None),
            ("reconstruction", measured["restored"], restored_scores),
        ]
    runs.add_figure(
        run.path,
        section,
        "restoration.png",
        figure_to_png(plot_image_rows(columns)),
        f"the first {report['split']} images with their PSNR against the clean image",
    )
    if "codes" in measured:
        pca = PCA(n_components=2)
        points = pca.fit_transform(measured["codes"].double().numpy())
        labels = class_map[measured["labels"]].numpy()
        runs.add_figure(
            run.path,
            section,
            "latent_space.png",
            figure_to_png(
                plot_latent_space(points, labels, run.classes, pca.explained_variance_ratio_)
            ),
            f"latent codes of {len(points)} {report['split']} images on their first two "
            "principal components, coloured by class",
        )


@torch.inference_mode()
def restore_files(
    run: runs.Run, paths: Sequence[str | os.PathLike], out_dir: str | os.PathLike | None = None
) -> list[Path]:
    """Restore (or reconstruct) image files with a reconstruction run; write PNGs.

    Each image is read at its own size in the run's channels and must have the
    run's size (noise is not scale-free: resizing would change it).  The result
    goes to ``<stem>_restored.png`` (``_reconstructed`` for autoencoders) in
    ``out_dir`` (default: beside the image); the written paths are returned.
    """
    channels, height, width = run.input_shape
    suffix = "reconstructed" if run.meta.get("task") == "autoencoder" else "restored"
    written = []
    for path in map(Path, paths):
        image = read_image(path, channels)
        if tuple(image.shape[-2:]) != (height, width):
            raise ConfigError(
                f"{path} is {image.shape[-1]}x{image.shape[-2]} pixels but the run restores "
                f"{width}x{height} images; crop or resize it to {width}x{height} first."
            )
        restored = restore(run.model, image[None].float() / 255)[0]
        target = Path(out_dir or path.parent) / f"{path.stem}_{suffix}.png"
        write_bytes(target, encode_png((restored * 255).round().to(torch.uint8)).numpy().tobytes())
        written.append(target)
    return written
