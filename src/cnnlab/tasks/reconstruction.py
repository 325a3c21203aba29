"""Reconstruction: autoencoders, supervised denoising and Noise2Void.

Three `Task` s whose model maps an image to an
image of the same shape (as many output channels as input channels), behind
its input normalization; every image data set works, its labels only colour
the autoencoder's latent-space plot.

- ``autoencoder``: reconstruct the clean image from itself (an undercomplete
  autoencoder, Goodfellow et al. 2016, Sec. 14.1) or, with ``--noise``, from a
  noisy copy (a denoising autoencoder, Vincent et al. 2008).
- ``denoise``: supervised restoration, noisy image in, clean image as target,
  MSE or L1 (``--recon-loss``).  Training draws fresh noise every epoch (from
  the epoch's generator, so a run is still reproducible): more noisy/clean
  pairs for the same images, as DnCNN does (Zhang et al. 2017).
- ``noise2void``: Krull, Buchholz & Jug (2019): the network only ever sees
  noisy images.  Each training image gets one fixed noisy copy
  (`sample_noise` with the run's seed: the same noise
  every epoch, as a real noisy data set), the blind-spot masking of
  `cnnlab.tasks.blind_spot`, and the loss on the masked pixels against
  their noisy values.  Its normalization statistics come from the noisy
  images, data-dependent initialization is refused, and it chooses its best
  epoch by its validation blind-spot loss (``val_loss`` on noisy images): no
  clean image reaches its weights.

Validation and evaluation use noise fixed per image by
``(EVAL_NOISE_SEED, split)`` — the same noisy test images for every run, so
runs compare.  Metrics (`cnnlab.metrics.restoration`): ``val_psnr`` and
``val_ssim`` of the restored image (clamped to [0, 1]) against the clean one,
and ``val_loss``.  The final evaluation is in
`cnnlab.tasks.reconstruction_eval`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from cnnlab import runs
from cnnlab.data import DataSplits, make_loader
from cnnlab.data.loader import Loader
from cnnlab.data.noise import Noise, add_noise, parse_noise, sample_generator, sample_noise
from cnnlab.data.splits import spread_subset
from cnnlab.errors import ConfigError
from cnnlab.metrics.restoration import gaussian_taps, psnr, ssim
from cnnlab.tasks.blind_spot import blind_spot, blind_spot_loss
from cnnlab.tasks.reconstruction_eval import (
    EVAL_NOISE_SEED,
    SPLIT_SALT,
    eval_noise,
    evaluate_reconstruction,
    restore,
)
from cnnlab.train.config import TrainConfig
from cnnlab.train.task import Batch

MASK_SALT = 3  # Noise2Void's validation masks
STATS_IMAGES = 5000  # noisy training images that give the normalization statistics
UNSUPPORTED = {
    "augment": "augmentation",
    "mixup": "Mixup",
    "cutmix": "CutMix",
    "teacher": "distillation",
    "pretrained": "fine-tuning",
}
SSIM_SIDE = len(gaussian_taps())  # SSIM's window side


class Reconstruction:
    """What the three reconstruction tasks share (see the module docstring)."""

    name = "reconstruction"
    monitors: tuple[str, ...] = ("val_psnr", "val_ssim", "val_loss")
    needs_noise = False

    def __init__(self, config: TrainConfig, data: DataSplits):
        used = [what for key, what in UNSUPPORTED.items() if getattr(config, key)]
        if config.adv_train != "none":
            used.append("adversarial training")
        if used:
            raise ConfigError(f"{self.name} does not support {', '.join(used)}; drop the option.")
        if config.noise is None and self.needs_noise:
            raise ConfigError(
                f"{self.name} restores noisy images, but {data.name} has clean images only and "
                "no noise was given: pass --noise gaussian:0.2 (or poisson:PEAK, "
                "salt-pepper:AMOUNT)."
            )
        if config.normalization == "image" and config.noise is not None:
            raise ConfigError(
                "normalization 'image' subtracts the clean mean image, which restoration "
                "tasks do not see; use --normalization channel or none."
            )
        height, width = data.input_shape[1:]
        if min(height, width) < SSIM_SIDE:
            raise ConfigError(
                f"{data.name}'s images are {height}x{width}; SSIM needs at least "
                f"{SSIM_SIDE}x{SSIM_SIDE}. Use larger images."
            )
        self.config = config
        self.noise: Noise | None = None if config.noise is None else parse_noise(config.noise)
        self.pixel_loss = F.l1_loss if config.recon_loss == "l1" else F.mse_loss

    # ----------------------------------------------------------------- model
    def build_model(
        self, config: TrainConfig, data: DataSplits, mean: torch.Tensor, std: torch.Tensor
    ) -> nn.Module:
        if self.noise is not None and config.normalization != "none":
            mean, std = self.noisy_stats(data)
        model = runs.build_classifier(
            config.model,
            config.model_kwargs,
            data.classes,
            data.input_shape,
            mean,
            std,
            num_outputs=data.input_shape[0],
        )
        # One image through the fresh model: a wrong shape is refused before training starts.
        image = torch.zeros(1, *data.input_shape)
        with torch.no_grad():
            self.check_output(model.eval()(image), image)
        return model.train()

    def noisy_stats(self, data: DataSplits) -> tuple[torch.Tensor, torch.Tensor]:
        """Channel mean and std of (up to `STATS_IMAGES`) noisy training images."""
        picked = spread_subset(len(data.train), STATS_IMAGES)
        sums, squares, count = 0.0, 0.0, 0
        loader = make_loader(data.train.subset(picked), 500, shuffle=False)
        for x, _, idx in loader.with_indices():
            noisy = self.training_noise(x, picked[idx]).double()  # the training copies' noise
            sums = sums + noisy.sum((0, 2, 3))
            squares = squares + noisy.square().sum((0, 2, 3))
            count += noisy[:, 0].numel()
        mean = sums / count
        return mean.float(), (squares / count - mean**2).clamp(min=1e-12).sqrt().float()

    def training_noise(self, images: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
        """The fixed noisy copy of training images (by data set index and the run's seed)."""
        return sample_noise(images, indices, self.noise, self.config.seed, SPLIT_SALT["train"])

    # -------------------------------------------------------------- training
    def batches(self, loader: Loader, generator: torch.Generator, epoch: int) -> Iterator[Batch]:
        for images, labels in loader:
            noisy = images if self.noise is None else add_noise(images, self.noise, generator)
            yield Batch(noisy, images, labels)

    def check_output(self, output: torch.Tensor, target: torch.Tensor) -> None:
        if output.shape != target.shape:
            raise ConfigError(
                f"the model gives {tuple(output.shape[1:])} outputs for "
                f"{tuple(target.shape[1:])} images; {self.name} needs a model that keeps the "
                "image's size and channels (conv_autoencoder, unet_n2v; unet_small for sides "
                "that are multiples of 8)."
            )

    def loss(self, output: Any, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        self.check_output(output, batch.targets)
        return self.pixel_loss(output, batch.targets), output

    def batch_metrics(self, prediction: torch.Tensor, batch: Batch) -> dict[str, torch.Tensor]:
        """Summed over images: each restored image's PSNR against its target."""
        restored = prediction.detach().float().clamp(0, 1)
        return {"psnr": psnr(batch.targets, restored).sum()}

    # ------------------------------------------------------------ validation
    def eval_loss(
        self, model: nn.Module, noisy: torch.Tensor, clean: torch.Tensor, first: int
    ) -> float:
        """Sum over a validation batch of each image's training loss; ``first`` is the
        data set index of its first image."""
        output = model(noisy).float()
        self.check_output(output, clean)
        return self.pixel_loss(output, clean, reduction="none").mean((1, 2, 3)).sum().item()

    @torch.inference_mode()
    def validate(self, model: nn.Module, dataset: Any, device: torch.device) -> dict[str, float]:
        """``val_loss``, and the mean PSNR and SSIM of the restored validation images."""
        model.eval()
        sums = {"val_loss": 0.0, "val_psnr": 0.0, "val_ssim": 0.0}
        seen = 0
        for clean, _, idx in make_loader(dataset, 64, shuffle=False, device=device).with_indices():
            noisy = eval_noise(clean, idx, self.noise, "val")
            sums["val_loss"] += self.eval_loss(model, noisy, clean, int(idx[0]))
            restored = restore(model, noisy)
            sums["val_psnr"] += psnr(clean, restored).sum().item()
            sums["val_ssim"] += ssim(clean, restored).sum().item()
            seen += len(clean)
        return {key: value / max(seen, 1) for key, value in sums.items()}

    def evaluate(self, run_dir: Path, split: str, device: str) -> dict[str, Any]:
        return evaluate_reconstruction(run_dir, split=split, device=device)


class Autoencoder(Reconstruction):
    """Reconstruct the clean image from itself, or from a noisy copy with ``--noise``."""

    name = "autoencoder"


class Denoise(Reconstruction):
    """Supervised denoising: noisy image in (fresh noise every epoch), clean image out."""

    name = "denoise"
    needs_noise = True


class Noise2Void(Reconstruction):
    """Noise2Void: blind-spot training on fixed noisy images, never a clean one."""

    name = "noise2void"
    monitors = ("val_loss",)
    needs_noise = True

    def __init__(self, config: TrainConfig, data: DataSplits):
        super().__init__(config, data)
        if config.init == "lsuv":
            raise ConfigError(
                "noise2void never sees clean images, but lsuv initializes from clean training "
                "images; choose a data-independent --init."
            )
        if config.recon_loss != "mse":
            raise ConfigError("noise2void's loss is the paper's MSE; drop --recon-loss.")
        side = min(data.input_shape[1:])
        if config.n2v_window > side:
            raise ConfigError(
                f"the Noise2Void window ({config.n2v_window}) is larger than the {side}-pixel "
                "images; pass a smaller --n2v-window."
            )

    def batches(self, loader: Loader, generator: torch.Generator, epoch: int) -> Iterator[Batch]:
        """Fixed noisy copies, blind-spot masked: ``targets`` are the noisy images and
        ``labels`` the masks; the clean images go no further than the noise model."""
        for images, _, idx in loader.with_indices():
            noisy = self.training_noise(images, idx)
            masked, mask = blind_spot(
                noisy, self.config.n2v_fraction, self.config.n2v_window, generator
            )
            yield Batch(masked, noisy, mask)

    def loss(self, output: Any, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        self.check_output(output, batch.targets)
        return blind_spot_loss(output, batch.targets, batch.labels), output

    def batch_metrics(self, prediction: torch.Tensor, batch: Batch) -> dict[str, torch.Tensor]:
        """None: without clean images there is nothing to measure but the loss."""
        return {}

    def eval_loss(
        self, model: nn.Module, noisy: torch.Tensor, clean: torch.Tensor, first: int
    ) -> float:
        """The blind-spot loss of each noisy image (fixed masks): no clean image involved."""
        generator = sample_generator(EVAL_NOISE_SEED, MASK_SALT, first)
        masked, mask = blind_spot(
            noisy, self.config.n2v_fraction, self.config.n2v_window, generator
        )
        output = model(masked).float()
        self.check_output(output, noisy)
        per_image = ((output - noisy).square() * mask).sum((1, 2, 3))
        return (per_image / (mask.sum((1, 2, 3)) * noisy.shape[1])).sum().item()
