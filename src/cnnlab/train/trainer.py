"""The training loop: one plain loop for every task.

A readable loop in the spirit of nanoGPT's ``train.py``: for each epoch, one
pass over the shuffled training split, one over the validation split, then the
bookkeeping (history, best checkpoint, last checkpoint, early stopping).  What
is learned is the `Task`'s business (model, batches,
loss, metrics, final evaluation); techniques (Mixup, SAM, EMA, distillation,
adversarial training ...) are `Technique`
objects whose hooks are called at fixed points of `Trainer.train_step`.
Callbacks get ``on_batch_end``, ``on_epoch_end`` and ``on_fit_end``.

Determinism: the model is initialised from ``seed``, the data order of epoch
``e`` depends only on ``(seed, e)``, and the global RNG state (dropout) is
saved with every ``last.safetensors``, so a resumed run ends with the same
weights as an uninterrupted one.

Most users build a Trainer through `cnnlab.Trainer`, which picks the
task and techniques a `TrainConfig` names.
"""

from __future__ import annotations

import functools
import math
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm

from cnnlab import runs
from cnnlab.data import DataSplits, channel_stats, make_loader, mean_image
from cnnlab.data.loader import Loader, epoch_generator
from cnnlab.errors import CheckpointError, CnnlabError, ConfigError, TrainingDivergedError
from cnnlab.fileio import read_yaml_mapping, write_text
from cnnlab.metrics.cost import model_cost
from cnnlab.report.figures import plot_learning_curves, save_figure
from cnnlab.train import distributed
from cnnlab.train.config import INT_MAX, TrainConfig
from cnnlab.train.init import initialize
from cnnlab.train.optim import build_optimizer, build_scheduler, exclude_from_decay
from cnnlab.train.task import Batch, Task
from cnnlab.train.techniques import LossFn, Technique
from cnnlab.train.transfer import (
    discriminative_param_groups,
    freeze,
    keep_frozen_in_eval,
    load_pretrained,
    reset_head,
)
from cnnlab.version import __version__


def normalization_stats(config: TrainConfig, data: DataSplits) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and std for `Normalize`, from the training split only."""
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
            elif torch.is_tensor(value) and value.numel() > 1:  # a tampered or foreign state
                raise ValueError(f"optimizer {key} {tuple(value.shape)} for {tuple(param.shape)}")


_NOT_SETTINGS = {"params", "initial_lr"}  # initial_lr: added by learning-rate schedulers


def _check_optimizer_kind(optimizer: torch.optim.Optimizer, saved: Any) -> None:
    """Raise ``ValueError`` when ``saved`` is the state of another kind of optimizer.

    ``load_state_dict`` accepts Adam's settings into SGD, whose first step then
    fails (KeyError 'momentum'); the settings each group carries tell them apart.
    """
    ours = set(optimizer.param_groups[0]) - _NOT_SETTINGS
    theirs = set(saved["param_groups"][0]) - _NOT_SETTINGS
    if ours != theirs:
        raise ValueError(
            f"it holds the state of another optimizer (settings {sorted(theirs - ours)} where "
            f"{type(optimizer).__name__} has {sorted(ours - theirs)}); was config.yaml's "
            "optimizer changed? Restore it, or start a new run"
        )


def _progress(state: Any) -> tuple[int, int, int, list[dict[str, Any]]]:
    """``(epoch, best_epoch, bad_epochs, history)`` of a checkpoint's trainer state, checked.

    Raises ``TypeError``/``ValueError`` (a `CheckpointError` for the caller) for
    counters that are not whole numbers in ``[0, INT_MAX]`` or a history that is not a
    list of rows (mappings).
    """
    counters = [state["epoch"], state["best_epoch"], state["bad_epochs"]]
    if not all(type(c) is int and 0 <= c <= INT_MAX for c in counters):
        raise ValueError(f"epoch counters {counters} are not whole numbers in 0..{INT_MAX}")
    history = state["history"]
    if not (isinstance(history, list) and all(isinstance(row, dict) for row in history)):
        raise TypeError("its history is not a list of one mapping per epoch")
    return (*counters, history)


class Trainer:
    """Train ``task`` as ``config`` says into ``run_dir``; see `fit` and `resume`."""

    def __init__(
        self,
        config: TrainConfig,
        run_dir: str | os.PathLike | None = None,
        *,
        task: Task,
        data: DataSplits,
        techniques: Sequence[Technique] = (),
        callbacks: Sequence[Any] = (),
        quiet: bool = False,
        log: Callable[[str], None] | None = None,
    ):
        self.config, self.task, self.data = config, task, data
        self.techniques = list(techniques)
        self.callbacks = list(callbacks)
        self.device = torch.device(config.device)
        self.dist = distributed.setup(self.device)  # one process unless started by torchrun
        self.quiet = quiet or not self.dist.is_main
        self.log = log or (lambda msg: None if self.quiet else print(msg, file=sys.stderr))
        if config.monitor not in task.monitors:
            raise ConfigError(
                f"monitor {config.monitor!r} is not measured by the {task.name} task; "
                f"choose one of {', '.join(task.monitors)}."
            )
        if config.precision == "fp16" and self.device.type != "cuda":
            raise ConfigError(
                "precision fp16 needs a CUDA device (its gradient scaler guards against "
                "underflow there); on the CPU use --precision bf16."
            )
        self.model = self._build_model()
        self.forward_model = self.model
        if self.dist.enabled:
            self.forward_model = DistributedDataParallel(self.model)
        if config.compile:
            self.forward_model = torch.compile(self.forward_model)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=config.precision == "fp16")
        self.optimizer, self.scheduler = self._build_optimizer()
        for technique in self.techniques:
            technique.setup(self)
        self.loss_fn = self._compose_loss()
        run_dir = Path(run_dir) if run_dir is not None else default_run_dir(config)
        self.run_dir = distributed.broadcast_object(self.dist, run_dir)
        self.epoch = 0
        self.best_epoch = 0  # 0: no epoch finished yet
        self.bad_epochs = 0
        self.history: list[dict[str, Any]] = []
        self.stop_requested = False
        self.step = 0  # the current batch of the epoch, for messages
        self.resumed = False  # continues a run directory from its last.safetensors
        self.claim: runs.RunClaim | None = None  # held by rank 0 while it writes run_dir

    # ------------------------------------------------------------------ setup
    def _build_model(self) -> nn.Module:
        cfg = self.config
        torch.manual_seed(cfg.seed)
        mean, std = normalization_stats(cfg, self.data)
        model = self.task.build_model(cfg, self.data, mean, std).to(self.device)
        if cfg.init is not None:
            initialize(model, cfg.init, data=self._init_batch())
        if cfg.pretrained is not None:
            self._load_pretrained(model, cfg.pretrained)
        self.frozen = freeze(model, cfg.freeze) if cfg.pretrained else []
        if cfg.channels_last:
            # NHWC lets oneDNN pick faster convolution kernels: 1.5-1.65x training
            # throughput for LeNet-5 on 2 CPU cores (benchmarks/RESULTS.md).
            model.to(memory_format=torch.channels_last)
        return model

    def _build_optimizer(self):
        cfg = self.config
        batches = math.ceil(len(self.data.train) / cfg.batch_size)
        self.steps_per_epoch = math.ceil(batches / cfg.accumulate)
        params = (
            discriminative_param_groups(self.model, cfg.lr, cfg.lr_decay)
            if cfg.pretrained
            else self.model.parameters()
        )
        if cfg.no_bias_decay:
            params = exclude_from_decay(params)
        optimizer = build_optimizer(
            cfg.optimizer,
            params,
            cfg.lr,
            momentum=cfg.momentum,
            nesterov=cfg.nesterov,
            weight_decay=cfg.weight_decay,
        )
        scheduler = build_scheduler(
            cfg.scheduler,
            optimizer,
            epochs=cfg.epochs,
            steps_per_epoch=self.steps_per_epoch,
            warmup_epochs=cfg.warmup_epochs,
            step_epochs=cfg.step_epochs,
            gamma=cfg.gamma,
        )
        return optimizer, scheduler

    def _compose_loss(self) -> LossFn:
        """The task's loss, wrapped by each technique in turn, under autocast."""

        def task_loss(batch: Batch, generator: torch.Generator):
            return self.task.loss(self.forward_model(batch.inputs), batch)

        loss_fn = task_loss
        for technique in self.techniques:
            loss_fn = technique.wrap_loss(loss_fn)

        def autocast_loss(batch: Batch, generator: torch.Generator):
            with self.autocast():
                return loss_fn(batch, generator)

        return autocast_loss

    def _load_pretrained(self, model: nn.Module, source: str) -> None:
        cfg = self.config
        keep = cfg.freeze != "none" and not cfg.refit_normalization
        report = load_pretrained(model, source, keep_normalization=keep, model_name=cfg.model)
        source_meta = Path(source) / runs.META
        if source_meta.is_file() and runs.read_meta(source)["classes"] != self.data.classes:
            reset_head(model)  # a new label set: the old head means nothing
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
        if (run_dir / runs.LOCK).is_file() and not (run_dir / runs.LAST).is_file():
            raise CheckpointError(
                f"{run_dir} was stopped before its first checkpoint: there is nothing to "
                f"resume. Start it again with `cnnlab train --out {run_dir}` and its options."
            )
        if not (run_dir / runs.CONFIG).is_file() or not (run_dir / runs.LAST).is_file():
            raise CheckpointError(
                f"Cannot resume {run_dir}: it needs {runs.CONFIG} and {runs.LAST}, written by "
                "`cnnlab train`. Check the path."
            )
        values = read_yaml_mapping(run_dir / runs.CONFIG, ConfigError, "Run configuration")
        # Replaced before validation, so that a GPU run can continue on a CPU.
        changed = {k: v for k, v in {"epochs": epochs, "device": device}.items() if v is not None}
        config = TrainConfig.from_dict({**values, **changed})
        trainer = cls(config, run_dir, **kwargs)
        trainer._claim_run_dir(new=False)
        trainer._load_last()
        return trainer

    def _claim_run_dir(self, *, new: bool) -> None:
        """Claim the run directory for this run (rank 0 holds it; see
        `cnnlab.runs.claim`): a new run only in a new or empty directory (or
        one a run left before its first checkpoint); then clean up what a kill left."""
        error: CnnlabError | None = None
        if self.dist.is_main:
            try:
                if new and not runs.holds_run(self.run_dir):
                    runs.check_new_run_dir(self.run_dir)  # someone's files: write nothing
                self.claim = runs.claim_run_dir(self.run_dir)
                if new:
                    runs.check_new_run_dir(self.run_dir)  # again: a racing run may have won
                else:
                    runs.settle_best(self.run_dir)
                runs.remove_leftovers(self.run_dir)
            except CnnlabError as exc:
                self.release_run_dir()
                error = exc
        message = distributed.broadcast_object(self.dist, None if error is None else str(error))
        if error is not None:
            raise error
        if message is not None:
            raise CheckpointError(message)

    def release_run_dir(self) -> None:
        """Give up the claim of the run directory (`fit` does so when it ends)."""
        if self.claim is not None:
            self.claim.release()
            self.claim = None

    def _load_last(self) -> None:
        state = runs.load_state(self.run_dir / runs.LAST)
        try:
            self.model.load_state_dict(state["model"])
            _check_optimizer_kind(self.optimizer, state["optimizer"])
            self.optimizer.load_state_dict(state["optimizer"])
            _match_parameter_layouts(self.optimizer)
            if isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                self.scheduler.load_state_dict(state["scheduler"])
            else:
                self.scheduler.last_epoch = state["scheduler"]["last_epoch"]
            torch.set_rng_state(state["rng"])
            for technique in self.techniques:
                if technique.state_dict() is not None:
                    technique.load_state_dict(state[technique.name])
            progress = _progress(state["trainer"])
        except (KeyError, RuntimeError, ValueError, TypeError, AttributeError) as exc:
            raise CheckpointError(
                f"{self.run_dir / runs.LAST} does not match this run's configuration ({exc})."
            ) from exc
        self.epoch, self.best_epoch, self.bad_epochs, self.history = progress
        self.resumed = True

    def _save_last(self) -> None:
        if not self.dist.is_main:
            return
        if isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            scheduler_state = self.scheduler.state_dict()
        else:
            scheduler_state = {"last_epoch": self.scheduler.last_epoch}
        technique_states = {t.name: t.state_dict() for t in self.techniques}
        runs.save_state(
            self.run_dir / runs.LAST,
            {
                "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "scheduler": scheduler_state,
                "rng": torch.get_rng_state(),
                **{name: s for name, s in technique_states.items() if s is not None},
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
        runs.save_best(
            self.run_dir,
            self.eval_model,
            {
                "cnnlab_version": __version__,
                "task": self.task.name,
                "model": self.config.model,
                "model_kwargs": self.config.model_kwargs,
                "dataset": self.config.dataset,
                "classes": self.data.classes,
                "input_shape": list(self.data.input_shape),
                "normalization": self.config.normalization,
                "epoch": row["epoch"],
                "metric": {"name": self.config.monitor, "value": row[self.config.monitor]},
                "cost": self.cost,
                "config_changes": self.config.changes(),
            },
        )

    @functools.cached_property
    def cost(self) -> dict[str, int]:
        """Parameters, size and multiply-adds of one image (measured once, for meta.json)."""
        # The counter runs the model on a random image: keep the run's random stream.
        cuda = [self.device.index or 0] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=cuda):
            return model_cost(self.eval_model, self.data.input_shape)

    # ------------------------------------------------------------------- loop
    def fit(self) -> Path:
        """Train until ``config.epochs`` (or early stopping), then evaluate; return the run."""
        try:
            return self._fit()
        finally:
            self.release_run_dir()

    def _fit(self) -> Path:
        cfg = self.config
        if not self.resumed:  # a run stopped inside its first epoch resumes at epoch 0
            self._start_run_dir()
        while self.epoch < cfg.epochs:
            started = time.perf_counter()
            train_metrics = self.train_epoch()
            val_metrics = self.validate(self.data.val)
            if isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                self.scheduler.step(val_metrics["val_loss"])
            row = {
                "epoch": self.epoch,
                **train_metrics,
                **val_metrics,
                "lr": self.optimizer.param_groups[0]["lr"],
                "time": time.perf_counter() - started,
            }
            self.history.append(row)
            self._bookkeeping(row)
            self._callback("on_epoch_end", row)
            if self.stop_requested:
                break
            if cfg.early_stopping is not None and self.bad_epochs >= cfg.early_stopping:
                self.log(
                    f"early stopping: {cfg.monitor} has not improved for "
                    f"{self.bad_epochs} epochs (best at epoch {self.best_epoch})"
                )
                break
        self._callback("on_fit_end")
        if self.dist.is_main:
            self._finish()
        distributed.barrier(self.dist)  # rank 0 has written everything
        return self.run_dir

    def _finish(self) -> None:
        """The run directory's final parts: learning curves, then the task's evaluation."""
        save_figure(
            plot_learning_curves(self.history, self.config.monitor),
            self.run_dir / runs.FIGURES / "learning_curves.png",
        )
        split = "test" if len(self.data.test) else "val"
        if split == "val":
            self.log("no test split (test_fraction 0): the final evaluation is on validation")
        self.final_metrics = self.task.evaluate(self.run_dir, split, self.config.device)

    def _callback(self, hook: str, *args: Any) -> None:
        for callback in self.callbacks:
            method = getattr(callback, hook, None)
            if method is not None:
                method(self, *args)

    def _start_run_dir(self) -> None:
        self._claim_run_dir(new=True)
        if self.dist.is_main:
            write_text(self.run_dir / runs.CONFIG, self.config.to_yaml())
        self._save_last()

    def _bookkeeping(self, row: dict[str, Any]) -> None:
        if self.dist.is_main:
            runs.write_history(self.run_dir, self.history)
        if runs.best_epoch(self.history, self.config.monitor) == row["epoch"]:
            self.best_epoch, self.bad_epochs = row["epoch"], 0
            self._save_best(row)
        else:
            self.bad_epochs += 1
        self._save_last()
        shown = "  ".join(
            f"{key.replace('_', ' ')} {value:.4f}"
            for key, value in row.items()
            if key not in ("epoch", "lr", "time")
        )
        self.log(
            f"epoch {row['epoch']:>3}/{self.config.epochs}  {shown}  "
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

    def training_batches(self, loader: Loader, generator: torch.Generator) -> Iterator[Batch]:
        """The global batches as training sees them: prepared by the task, then transformed
        by the techniques (Mixup/CutMix)."""
        for batch in self.task.batches(loader, generator, loader.epoch):
            for technique in self.techniques:
                batch = technique.transform_batch(batch, generator)
            yield batch

    def batch_stream(self) -> Iterator[tuple[Batch, torch.Generator]]:
        """Training batches epoch after epoch from epoch 0, with their generators."""
        epoch = 0
        while True:
            loader, generator = self.training_epoch(epoch)
            for batch in self.training_batches(loader, generator):
                yield batch, generator
            epoch += 1

    def train_step(
        self, batch: Batch, generator: torch.Generator, *, update: bool, per_step: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor, Batch]:
        """Forward and backward of one global batch, then (``update``) the optimizer step.

        Returns this process's ``(loss, prediction, batch)``.
        """
        global_size = len(batch)
        batch = Batch(*distributed.shard(self.dist, batch.inputs, batch.targets, batch.labels))
        for technique in self.techniques:
            batch = technique.perturb(self, batch, generator)
        loss, prediction = self.loss_fn(batch, generator)
        self.require_finite(loss)
        # Each process's mean loss, weighted by its share of the global batch: with DDP's
        # averaging over W processes the gradient is that of the global batch's mean loss.
        share = len(batch) * self.dist.world_size / global_size

        def backward(value: torch.Tensor) -> None:
            self.scaler.scale(value * share / self.config.accumulate).backward()

        backward(loss)
        for technique in self.techniques:
            technique.after_backward(self, batch, generator, self.loss_fn, backward)
        if update:
            self.optimizer_step(per_step)
        return loss, prediction, batch

    def train_epoch(self) -> dict[str, float]:
        """One pass over the training split (epoch `epoch`, then advanced by one).

        Returns the epoch's training metrics (``train_loss`` and the task's). Used by
        `fit`, and by callers that train without a run directory (NAS proxies).
        """
        cfg = self.config
        self.model.train()
        keep_frozen_in_eval(self.frozen)
        loader, generator = self.training_epoch(self.epoch)
        per_step = not isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)
        loss_sum = torch.zeros((), device=self.device)
        sums: dict[str, torch.Tensor] = {}
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
        for step, global_batch in enumerate(bar):
            self.step = step
            update = (step + 1) % cfg.accumulate == 0 or step == last_step
            loss, prediction, batch = self.train_step(
                global_batch, generator, update=update, per_step=per_step
            )
            loss_sum += loss.detach() * len(batch)
            for key, value in self.task.batch_metrics(prediction, batch).items():
                sums[key] = sums[key] + value if key in sums else value
            seen += len(batch)
            self._callback("on_batch_end", step, loss)
            if not bar.disable and step % 10 == 0:
                bar.set_postfix(
                    loss=f"{loss_sum.item() / seen:.4f}",
                    **{k: f"{v.item() / seen:.4f}" for k, v in sums.items()},
                )
        bar.close()
        totals = distributed.all_sum(
            self.dist,
            torch.stack(
                [
                    loss_sum,
                    *(v.to(loss_sum.dtype) for v in sums.values()),
                    loss_sum.new_tensor(seen),
                ]
            ),
        )
        row = {"train_loss": (totals[0] / totals[-1]).item()}
        for i, key in enumerate(sums, start=1):
            row[f"train_{key}"] = (totals[i] / totals[-1]).item()
        self.epoch += 1
        return row

    def require_finite(self, loss: torch.Tensor, what: str = "The loss", remedy: str = "") -> None:
        """Stop a diverging run before its NaN/inf gradient reaches the weights."""
        if not torch.isfinite(loss):
            raise TrainingDivergedError(
                f"{what} became {loss.item()} at epoch {self.epoch + 1}, step "
                f"{self.step + 1}. The last good checkpoint is kept in "
                f"{self.run_dir / runs.LAST}. Lower the learning rate (--lr){remedy}, add "
                "--grad-clip, or check the data."
            )

    def optimizer_step(self, per_step: bool) -> None:
        """One update from the accumulated gradients, then the constraints and averages."""
        for technique in self.techniques:
            technique.before_update(self)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        for technique in self.techniques:
            technique.after_update(self)
        if per_step:
            self.scheduler.step()

    def autocast(self):
        """bf16/fp16 autocast for ``precision`` other than fp32 (Micikevicius et al. 2018)."""
        dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(self.config.precision)
        return torch.autocast(self.device.type, dtype=dtype, enabled=dtype is not None)

    def validate(self, dataset: Any) -> dict[str, float]:
        """The task's validation metrics of `eval_model` on ``dataset``."""
        return self.task.validate(self.eval_model, dataset, self.device)

    def technique(self, name: str) -> Technique | None:
        """The technique called ``name`` (e.g. ``"ema"``), or None when it is not used."""
        return next((t for t in self.techniques if t.name == name), None)

    @property
    def eval_model(self) -> nn.Module:
        """The model that is validated and saved: the weight average with ``ema``."""
        model = self.model
        for technique in self.techniques:
            model = technique.eval_model(model)
        return model
