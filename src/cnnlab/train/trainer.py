"""The training loop.

A readable loop in the spirit of nanoGPT's ``train.py``: for each epoch, one
pass over the shuffled training split, one over the validation split, then the
bookkeeping (history, best checkpoint, last checkpoint, early stopping).
Callbacks get ``on_epoch_end(trainer, row)`` and nothing else.

Determinism: the model is initialised from ``seed``, the data order of epoch
``e`` depends only on ``(seed, e)``, and the global RNG state (dropout) is
saved with every ``last.safetensors``, so a resumed run ends with the same
weights as an uninterrupted one.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from tqdm.auto import tqdm

import cnnlab
from cnnlab import runs
from cnnlab.attack.defense import adversarial_batch, trades_loss
from cnnlab.data import DataSplits, channel_stats, load_data, make_loader, mean_image
from cnnlab.data.loader import Loader, epoch_generator
from cnnlab.data.mixing import mix_batch
from cnnlab.data.transforms import Augment, Samples, training_images
from cnnlab.errors import CheckpointError, ConfigError, TrainingDivergedError
from cnnlab.fileio import write_json, write_text
from cnnlab.train import distributed, sam
from cnnlab.train.checkpoint import load_state, save_state, save_weights
from cnnlab.train.config import TrainConfig
from cnnlab.train.distill import Teacher, distillation_loss
from cnnlab.train.init import initialize
from cnnlab.train.losses import classification_loss
from cnnlab.train.optim import build_optimizer, build_scheduler, exclude_from_decay
from cnnlab.train.regularize import apply_max_norm, l1_penalty
from cnnlab.train.transfer import (
    discriminative_param_groups,
    freeze,
    keep_frozen_in_eval,
    load_pretrained,
    reset_head,
)


class Callback(Protocol):
    """Called after every epoch; may set ``trainer.stop_requested = True`` to end training."""

    def on_epoch_end(self, trainer: Trainer, row: dict[str, Any]) -> None: ...


def normalization_stats(config: TrainConfig, data: DataSplits) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and std for :class:`~cnnlab.nn.norm.Normalize`, from the training split only."""
    channels = data.input_shape[0]
    if config.normalization == "none":
        return torch.zeros(channels), torch.ones(channels)
    mean, std = channel_stats(data.train)
    if config.normalization == "image":
        return mean_image(data.train), std
    return mean, std


def default_run_dir(config: TrainConfig, root: str | os.PathLike = "runs") -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path(root) / f"{config.model}-{config.dataset}-{stamp}"


def _match_parameter_layouts(optimizer: torch.optim.Optimizer) -> None:
    """Give loaded optimizer state the memory layout (strides) of its parameter.

    Checkpoints store contiguous tensors, while a channels-last model's parameters and
    the state created for them in training are channels-last; PyTorch's fused kernels
    require equal layouts (mismatched ones silently give wrong updates).
    """
    for param, state in optimizer.state.items():
        for key, value in state.items():
            if torch.is_tensor(value) and value.shape == param.shape:
                state[key] = torch.empty_like(param, dtype=value.dtype).copy_(value)


class Trainer:
    """Train ``config`` into ``run_dir``; see :meth:`fit` and :meth:`resume`."""

    def __init__(
        self,
        config: TrainConfig,
        run_dir: str | os.PathLike | None = None,
        *,
        callbacks: Sequence[Callback] = (),
        quiet: bool = False,
        log: Callable[[str], None] | None = None,
        data: DataSplits | None = None,
    ):
        self.config = config
        self.callbacks = list(callbacks)
        self.device = torch.device(config.device)
        self.dist = distributed.setup(self.device)  # one process unless started by torchrun
        self.quiet = quiet or not self.dist.is_main
        self.log = log or (lambda msg: None if self.quiet else print(msg, file=sys.stderr))
        # Everything that can fail on bad input happens before the run directory exists.
        self.data = data or load_data(
            config.dataset, config.data_dir, download=config.download, **config.data_options()
        )
        torch.manual_seed(config.seed)
        mean, std = normalization_stats(config, self.data)
        self.model = runs.build_classifier(
            config.model, config.model_kwargs, self.data.classes, self.data.input_shape, mean, std
        ).to(self.device)
        if config.init is not None:
            initialize(self.model, config.init, data=self._init_batch())
        if config.pretrained is not None:
            self._load_pretrained(config.pretrained)
        self.frozen = freeze(self.model, config.freeze) if config.pretrained else []
        if config.channels_last:
            # NHWC lets oneDNN pick faster convolution kernels: 1.5-1.65x training
            # throughput for LeNet-5 on 2 CPU cores (benchmarks/RESULTS.md).
            self.model.to(memory_format=torch.channels_last)
        self.forward_model = self.model
        if self.dist.enabled:
            self.forward_model = DistributedDataParallel(self.model)
        if config.compile:
            self.forward_model = torch.compile(self.forward_model)
        if config.precision == "fp16" and self.device.type != "cuda":
            raise ConfigError(
                "precision fp16 needs a CUDA device (its gradient scaler guards against "
                "underflow there); on the CPU use --precision bf16."
            )
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=config.precision == "fp16")
        self.ema = (
            AveragedModel(
                self.model, multi_avg_fn=get_ema_multi_avg_fn(config.ema), use_buffers=True
            )
            if config.ema is not None
            else None
        )
        batches = math.ceil(len(self.data.train) / config.batch_size)
        self.steps_per_epoch = math.ceil(batches / config.accumulate)
        params = (
            discriminative_param_groups(self.model, config.lr, config.lr_decay)
            if config.pretrained
            else self.model.parameters()
        )
        if config.no_bias_decay:
            params = exclude_from_decay(params)
        self.optimizer = build_optimizer(
            config.optimizer,
            params,
            config.lr,
            momentum=config.momentum,
            nesterov=config.nesterov,
            weight_decay=config.weight_decay,
        )
        self.scheduler = build_scheduler(
            config.scheduler,
            self.optimizer,
            epochs=config.epochs,
            steps_per_epoch=self.steps_per_epoch,
            warmup_epochs=config.warmup_epochs,
            step_epochs=config.step_epochs,
            gamma=config.gamma,
        )
        self.augment = Augment(config.augment)
        if self.augment.lighting_std is not None:
            self.augment.fit(training_images(self.data.train))
        self.criterion = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
        self.teacher = None
        if config.teacher is not None:
            self.teacher = Teacher(config.teacher, self.data.classes).to(self.device)
        run_dir = Path(run_dir) if run_dir is not None else default_run_dir(config)
        self.run_dir = distributed.broadcast_object(self.dist, run_dir)
        self.epoch = 0
        self.best_epoch = 0  # 0: no epoch finished yet
        self.bad_epochs = 0
        self.history: list[dict[str, Any]] = []
        self.stop_requested = False
        self.resumed = False  # continues a run directory from its last.safetensors

    def _load_pretrained(self, source: str) -> None:
        report = load_pretrained(self.model, source)
        source_meta = Path(source) / runs.META
        if source_meta.is_file() and runs.read_meta(source)["classes"] != self.data.classes:
            reset_head(self.model)  # a new label set: the old head means nothing
            report.reinitialized = ["head"]
        self.log(f"pretrained weights from {source}: {report}")

    def _init_batch(self) -> torch.Tensor:
        """Up to 256 training images in [0, 1], for data-dependent initialization (LSUV)."""
        loader = make_loader(self.data.train, 256, shuffle=True, seed=self.config.seed)
        images, _ = next(iter(loader))
        return images.to(self.device)

    # ----------------------------------------------------------------- resume
    @classmethod
    def resume(
        cls,
        run_dir: str | os.PathLike,
        epochs: int | None = None,
        device: str | None = None,
        **kwargs: Any,
    ) -> Trainer:
        """Continue ``run_dir`` from ``last.safetensors`` up to ``epochs`` in total."""
        run_dir = Path(run_dir)
        if not (run_dir / runs.CONFIG).is_file() or not (run_dir / runs.LAST).is_file():
            raise CheckpointError(
                f"Cannot resume {run_dir}: it needs {runs.CONFIG} and {runs.LAST}, written by "
                "`cnnlab train`. Check the path."
            )
        config = TrainConfig.from_yaml(run_dir / runs.CONFIG)
        if epochs is not None:
            config = config.replace(epochs=epochs)
        if device is not None:
            config = config.replace(device=device)
        trainer = cls(config, run_dir, **kwargs)
        trainer._load_last()
        return trainer

    def _load_last(self) -> None:
        state = load_state(self.run_dir / runs.LAST)
        try:
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            _match_parameter_layouts(self.optimizer)
            if isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                self.scheduler.load_state_dict(state["scheduler"])
            else:
                self.scheduler.last_epoch = state["scheduler"]["last_epoch"]
            torch.set_rng_state(state["rng"])
            if self.ema is not None:
                self.ema.load_state_dict(state["ema"])
        except (KeyError, RuntimeError, ValueError) as exc:
            raise CheckpointError(
                f"{self.run_dir / runs.LAST} does not match this run's configuration ({exc})."
            ) from exc
        trainer_state = state["trainer"]
        self.epoch = trainer_state["epoch"]
        self.best_epoch = trainer_state["best_epoch"]
        self.bad_epochs = trainer_state["bad_epochs"]
        self.history = trainer_state["history"]
        self.resumed = True

    def _save_last(self) -> None:
        if not self.dist.is_main:
            return
        if isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            scheduler_state = self.scheduler.state_dict()
        else:
            scheduler_state = {"last_epoch": self.scheduler.last_epoch}
        save_state(
            self.run_dir / runs.LAST,
            {
                "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "scheduler": scheduler_state,
                "rng": torch.get_rng_state(),
                **({"ema": self.ema.state_dict()} if self.ema is not None else {}),
                "trainer": {
                    "epoch": self.epoch,
                    "best_epoch": self.best_epoch,
                    "bad_epochs": self.bad_epochs,
                    "history": self.history,
                },
            },
        )

    def _save_best(self, row: dict[str, Any]) -> None:
        if not self.dist.is_main:
            return
        sha = save_weights(self.run_dir / runs.BEST, self.eval_model)
        write_json(
            self.run_dir / runs.META,
            {
                "cnnlab_version": cnnlab.__version__,
                "model": self.config.model,
                "model_kwargs": self.config.model_kwargs,
                "dataset": self.config.dataset,
                "classes": self.data.classes,
                "input_shape": list(self.data.input_shape),
                "normalization": self.config.normalization,
                "epoch": row["epoch"],
                "metric": {"name": self.config.monitor, "value": row[self.config.monitor]},
                "weights_sha256": sha,
            },
        )

    # ------------------------------------------------------------------- loop
    def fit(self) -> Path:
        """Train until ``config.epochs`` (or early stopping); return the run directory."""
        cfg = self.config
        if not self.resumed:  # a run stopped inside its first epoch resumes at epoch 0
            self._start_run_dir()
        while self.epoch < cfg.epochs:
            started = time.perf_counter()
            train_loss, train_acc = self._train_epoch()
            val_loss, val_acc = self.evaluate_split(self.data.val)
            if isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                self.scheduler.step(val_loss)
            self.epoch += 1
            row = {
                "epoch": self.epoch,
                "train_loss": train_loss,
                "train_acc": train_acc,
                "val_loss": val_loss,
                "val_acc": val_acc,
                "lr": self.optimizer.param_groups[0]["lr"],
                "time": time.perf_counter() - started,
            }
            self.history.append(row)
            self._bookkeeping(row)
            for callback in self.callbacks:
                callback.on_epoch_end(self, row)
            if self.stop_requested:
                break
            if cfg.early_stopping is not None and self.bad_epochs >= cfg.early_stopping:
                self.log(
                    f"early stopping: {cfg.monitor} has not improved for "
                    f"{self.bad_epochs} epochs (best at epoch {self.best_epoch})"
                )
                break
        distributed.barrier(self.dist)  # rank 0 has written everything
        return self.run_dir

    def _start_run_dir(self) -> None:
        if (self.run_dir / runs.LAST).exists() or (self.run_dir / runs.META).exists():
            raise ConfigError(
                f"{self.run_dir} already holds a run. Continue it with "
                f"`cnnlab train --resume {self.run_dir}`, or choose another --out."
            )
        distributed.barrier(self.dist)  # every rank has checked before rank 0 writes
        if self.dist.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            write_text(self.run_dir / runs.CONFIG, self.config.to_yaml())
        self._save_last()

    def _score(self, row: dict[str, Any]) -> list[float]:
        """Higher is better.  Validation accuracy ties (common on small validation sets,
        where it saturates at 1.0 early) are broken by the lower validation loss."""
        if self.config.monitor == "val_acc":
            return [row["val_acc"], -row["val_loss"]]
        return [-row["val_loss"]]

    def _bookkeeping(self, row: dict[str, Any]) -> None:
        if self.dist.is_main:
            history = "".join(f"{json.dumps(r)}\n" for r in self.history)
            write_text(self.run_dir / runs.HISTORY, history)
        best_row = self.history[self.best_epoch - 1] if self.best_epoch else None
        if best_row is None or self._score(row) > self._score(best_row):
            self.best_epoch, self.bad_epochs = row["epoch"], 0
            self._save_best(row)
        else:
            self.bad_epochs += 1
        self._save_last()
        self.log(
            f"epoch {row['epoch']:>3}/{self.config.epochs}  "
            f"train loss {row['train_loss']:.4f} acc {row['train_acc']:.4f}  "
            f"val loss {row['val_loss']:.4f} acc {row['val_acc']:.4f}  "
            f"lr {row['lr']:.2e}  {row['time']:.1f}s"
        )

    def training_epoch(self, epoch: int) -> tuple[Loader, torch.Generator]:
        """Epoch ``epoch``'s training batches and the generator of its random transforms.

        Both are fixed by ``(seed, epoch)`` alone, so a resumed run sees what an
        uninterrupted one would; the generator is a stream of its own (not the
        sample order's) for augmentation, mixing and adversarial examples.
        """
        loader = make_loader(
            self.data.train,
            self.config.batch_size,
            shuffle=True,
            seed=self.config.seed,
            epoch=epoch,
            device=self.device,
        )
        return loader, epoch_generator(self.config.seed + 1, epoch)

    def training_batches(
        self, loader: Loader, generator: torch.Generator
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """``(images, targets, labels)`` as training sees them: augmented, then mixed.

        ``targets`` are the labels, or soft targets after Mixup/CutMix.
        """
        cfg = self.config
        for images, labels, indices in loader.with_indices():
            if self.augment:
                images = self.augment(images, generator, Samples(indices, loader.epoch, cfg.seed))
            targets = labels
            if cfg.mixup > 0 or cfg.cutmix > 0:
                images, targets = mix_batch(
                    images, labels, len(self.data.classes), generator, cfg.mixup, cfg.cutmix
                )
            yield images, targets, labels

    def _train_epoch(self) -> tuple[float, float]:
        cfg = self.config
        self.model.train()
        keep_frozen_in_eval(self.frozen)
        loader, generator = self.training_epoch(self.epoch)
        per_step = not isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)
        loss_sum = torch.zeros((), device=self.device)
        correct = torch.zeros((), dtype=torch.long, device=self.device)
        seen = 0
        bar = tqdm(
            self.training_batches(loader, generator),
            total=len(loader),
            desc=f"epoch {self.epoch + 1}/{cfg.epochs}",
            leave=False,
            disable=True if self.quiet else None,
            dynamic_ncols=True,
        )
        last_step = len(loader) - 1
        for step, (images, targets, labels) in enumerate(bar):
            global_batch = len(labels)
            images, targets, labels = distributed.shard(self.dist, images, targets, labels)
            if cfg.adv_train in ("fgsm-rs", "pgd"):  # train on the attack's examples (Madry)
                images = adversarial_batch(
                    self.model,
                    images,
                    labels,
                    cfg.adv_train,
                    cfg.adv_eps,
                    steps=cfg.adv_steps,
                    generator=generator,
                )
            loss, logits = self._batch_loss(images, targets, labels, generator)
            self._require_finite(loss, step)
            # Each process's mean loss, weighted by its share of the global batch: with DDP's
            # averaging over W processes the gradient is that of the global batch's mean loss.
            share = len(labels) * self.dist.world_size / global_batch
            self.scaler.scale(loss * share / cfg.accumulate).backward()
            if cfg.sam > 0:  # the gradient at w + ε̂ replaces ∇L(w) (Foret et al. 2021)
                with sam.ascent(self.model, cfg.sam):
                    perturbed, _ = self._batch_loss(images, targets, labels, generator)
                    self._require_finite(
                        perturbed, step, "The loss at the SAM-perturbed weights", " or --sam"
                    )
                    (perturbed * share).backward()
            if (step + 1) % cfg.accumulate == 0 or step == last_step:
                self.optimizer_step(per_step)
            loss_sum += loss.detach() * len(labels)
            correct += (logits.argmax(1) == labels).sum()
            seen += len(labels)
            if not bar.disable and step % 10 == 0:
                bar.set_postfix(
                    loss=f"{loss_sum.item() / seen:.4f}", acc=f"{correct.item() / seen:.4f}"
                )
        bar.close()
        totals = distributed.all_sum(
            self.dist,
            torch.stack([loss_sum, correct.to(loss_sum.dtype), loss_sum.new_tensor(seen)]),
        )
        return (totals[0] / totals[2]).item(), (totals[1] / totals[2]).item()

    def _require_finite(
        self, loss: torch.Tensor, step: int, what: str = "The loss", remedy: str = ""
    ) -> None:
        """Stop a diverging run before its NaN/inf gradient reaches the weights."""
        if not torch.isfinite(loss):
            raise TrainingDivergedError(
                f"{what} became {loss.item()} at epoch {self.epoch + 1}, step {step + 1}. "
                f"The last good checkpoint is kept in {self.run_dir / runs.LAST}. Lower the "
                f"learning rate (--lr){remedy}, add --grad-clip, or check the data."
            )

    def _batch_loss(
        self,
        images: torch.Tensor,
        targets: torch.Tensor,
        labels: torch.Tensor,
        generator: torch.Generator,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The training loss of one batch (with its penalties) and the batch's logits."""
        cfg = self.config
        with self.autocast():
            if cfg.adv_train == "trades":
                logits, loss = trades_loss(
                    self.forward_model,
                    images,
                    labels,
                    cfg.adv_eps,
                    beta=cfg.trades_beta,
                    steps=cfg.adv_steps,
                    criterion=self.criterion,
                    generator=generator,
                )
            else:
                output = self.forward_model(images)
                loss, logits = classification_loss(output, targets, self.criterion)
            if self.teacher is not None:
                loss = distillation_loss(
                    logits, self.teacher(images), loss, cfg.distill_temperature, cfg.distill_alpha
                )
        if cfg.l1 > 0:
            loss = loss + cfg.l1 * l1_penalty(self.model)
        return loss, logits

    def optimizer_step(self, per_step: bool) -> None:
        """One update from the accumulated gradients, then the constraints and averages."""
        cfg = self.config
        if cfg.grad_clip is not None:
            self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        if cfg.max_norm is not None:
            apply_max_norm(self.model, cfg.max_norm)
        if self.ema is not None:
            self.ema.update_parameters(self.model)
        if per_step:
            self.scheduler.step()

    def autocast(self):
        """bf16/fp16 autocast for ``precision`` other than fp32 (Micikevicius et al. 2018)."""
        dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(self.config.precision)
        return torch.autocast(self.device.type, dtype=dtype, enabled=dtype is not None)

    @property
    def eval_model(self) -> nn.Module:
        """The model that is validated and saved: the weight average with ``ema``."""
        return self.ema.module if self.ema is not None else self.model

    @torch.inference_mode()
    def evaluate_split(self, dataset) -> tuple[float, float]:
        """Mean loss and accuracy of the current (or averaged) model on ``dataset``."""
        model = self.eval_model
        model.eval()
        loss_sum, correct, seen = 0.0, 0, 0
        for images, labels in make_loader(dataset, 512, shuffle=False, device=self.device):
            logits = model(images)
            loss_sum += nn.functional.cross_entropy(logits, labels, reduction="sum").item()
            correct += (logits.argmax(1) == labels).sum().item()
            seen += len(labels)
        return loss_sum / max(seen, 1), correct / max(seen, 1)
