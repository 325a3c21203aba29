"""Training techniques as small objects composed into the Trainer's step.

A `Technique` overrides the hooks it needs; the Trainer calls every
technique's hook at the same point of every step, so the loop itself has no
branch for any of them.  Where the hooks sit in one step:

    batch = transform_batch(batch)          # global batch, data only: Mixup/CutMix
    batch = perturb(batch)                  # this process's shard, may use the model:
                                            #   adversarial examples (cnnlab.attack.defense)
    loss = wrap_loss(task loss)(batch)      # TRADES, distillation, L1 penalty
    backward(loss); after_backward(...)     # SAM's second pass
    before_update(); optimizer.step()       # gradient clipping
    after_update()                          # max-norm constraint, weight averaging (EMA)

Each technique reads its own section of `TrainConfig`
(``build_techniques`` turns the config into the list).  Techniques of rooms above
training (adversarial training lives with the attacks) are added by
`cnnlab.compose`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from cnnlab.data.mixing import mix_batch
from cnnlab.train import sam
from cnnlab.train.distill import Teacher, distillation_loss
from cnnlab.train.regularize import apply_max_norm, l1_penalty
from cnnlab.train.task import Batch

if TYPE_CHECKING:
    from cnnlab.train.config import TrainConfig
    from cnnlab.train.trainer import Trainer

LossFn = Callable[[Batch, torch.Generator], tuple[torch.Tensor, torch.Tensor]]
Backward = Callable[[torch.Tensor], None]


class Technique:
    """A training technique: every hook is optional and does nothing by default.

    ``name`` keys the technique's state in ``last.safetensors`` (when it has one).
    """

    name = "technique"

    def setup(self, trainer: Trainer) -> None:
        """Once, after the model and optimizer exist."""

    def transform_batch(self, batch: Batch, generator: torch.Generator) -> Batch:
        """The global batch before it is split over processes (data only, no model)."""
        return batch

    def perturb(self, trainer: Trainer, batch: Batch, generator: torch.Generator) -> Batch:
        """This process's batch before the forward pass; may query the model."""
        return batch

    def wrap_loss(self, loss_fn: LossFn) -> LossFn:
        """The loss computation, wrapped (``(batch, generator) -> (loss, prediction)``)."""
        return loss_fn

    def after_backward(
        self,
        trainer: Trainer,
        batch: Batch,
        generator: torch.Generator,
        loss_fn: LossFn,
        backward: Backward,
    ) -> None:
        """After the loss' backward pass, before the optimizer step."""

    def before_update(self, trainer: Trainer) -> None:
        """Before the optimizer step (the gradients are accumulated)."""

    def after_update(self, trainer: Trainer) -> None:
        """After the optimizer step."""

    def eval_model(self, model: nn.Module) -> nn.Module:
        """The model that is validated and saved."""
        return model

    def state_dict(self) -> dict[str, Any] | None:
        """State to checkpoint for resuming (None: nothing)."""
        return None

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore `state_dict`'s state."""


class Mixing(Technique):
    """Mixup (Zhang et al. 2018) and CutMix (Yun et al. 2019) of the global batch."""

    name = "mixing"

    def __init__(self, mixup: float, cutmix: float):
        self.mixup, self.cutmix = mixup, cutmix
        self.num_classes = 0

    def setup(self, trainer: Trainer) -> None:
        self.num_classes = len(trainer.data.classes)

    def transform_batch(self, batch: Batch, generator: torch.Generator) -> Batch:
        inputs, targets = mix_batch(
            batch.inputs, batch.labels, self.num_classes, generator, self.mixup, self.cutmix
        )
        return batch.replace(inputs=inputs, targets=targets)


class Distillation(Technique):
    """Knowledge distillation from a trained run (Hinton, Vinyals & Dean 2015, Sec. 2)."""

    name = "distillation"

    def __init__(self, teacher: str, temperature: float, alpha: float):
        self.source, self.temperature, self.alpha = teacher, temperature, alpha
        self.teacher: Teacher | None = None

    def setup(self, trainer: Trainer) -> None:
        self.teacher = Teacher(self.source, trainer.data.classes).to(trainer.device)

    def wrap_loss(self, loss_fn: LossFn) -> LossFn:
        def distilled(batch: Batch, generator: torch.Generator):
            loss, logits = loss_fn(batch, generator)
            soft = self.teacher(batch.inputs)
            return distillation_loss(logits, soft, loss, self.temperature, self.alpha), logits

        return distilled


class L1Penalty(Technique):
    """λ·Σ|w| over the convolution and linear weights added to the loss."""

    name = "l1"

    def __init__(self, weight: float):
        self.weight = weight
        self.model: nn.Module | None = None

    def setup(self, trainer: Trainer) -> None:
        self.model = trainer.model

    def wrap_loss(self, loss_fn: LossFn) -> LossFn:
        def penalized(batch: Batch, generator: torch.Generator):
            loss, prediction = loss_fn(batch, generator)
            return loss + self.weight * l1_penalty(self.model), prediction

        return penalized


class SAM(Technique):
    """Sharpness-aware minimization: the step uses ∇L(w + ε̂) (Foret et al. 2021, Eq. 3)."""

    name = "sam"

    def __init__(self, rho: float):
        self.rho = rho

    def after_backward(self, trainer, batch, generator, loss_fn, backward) -> None:
        with sam.ascent(trainer.model, self.rho):
            perturbed, _ = loss_fn(batch, generator)
            trainer.require_finite(perturbed, "The loss at the SAM-perturbed weights", " or --sam")
            backward(perturbed)


class GradClip(Technique):
    """Clip the global gradient norm before each step (Pascanu et al. 2013)."""

    name = "grad_clip"

    def __init__(self, max_norm: float):
        self.max_norm = max_norm

    def before_update(self, trainer: Trainer) -> None:
        trainer.scaler.unscale_(trainer.optimizer)
        nn.utils.clip_grad_norm_(trainer.model.parameters(), self.max_norm)


class MaxNorm(Technique):
    """Max-norm constraint on each unit's incoming weights (Srivastava et al. 2014, Sec. 5.1)."""

    name = "max_norm"

    def __init__(self, max_norm: float):
        self.max_norm = max_norm

    def after_update(self, trainer: Trainer) -> None:
        apply_max_norm(trainer.model, self.max_norm)


class EMA(Technique):
    """An exponential moving average of the weights, validated and saved instead of them.

    After each step ŵ ← decay·ŵ + (1 − decay)·w (Polyak & Juditsky 1992; buffers
    such as batch-norm statistics are averaged too).
    """

    name = "ema"

    def __init__(self, decay: float):
        self.decay = decay
        self.average: AveragedModel | None = None

    def setup(self, trainer: Trainer) -> None:
        self.average = AveragedModel(
            trainer.model, multi_avg_fn=get_ema_multi_avg_fn(self.decay), use_buffers=True
        )

    def after_update(self, trainer: Trainer) -> None:
        self.average.update_parameters(trainer.model)

    def eval_model(self, model: nn.Module) -> nn.Module:
        return self.average.module

    def state_dict(self) -> dict[str, Any]:
        return self.average.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.average.load_state_dict(state)


def build_techniques(config: TrainConfig, adversarial: Technique | None = None) -> list[Technique]:
    """The techniques ``config`` switches on, in step order.

    ``adversarial`` is the adversarial-training technique (built by the attack
    room); it sits first among the loss wrappers, so that distillation and the
    L1 penalty apply to its loss.
    """
    chosen: list[Technique] = []
    if config.mixup > 0 or config.cutmix > 0:
        chosen.append(Mixing(config.mixup, config.cutmix))
    if adversarial is not None:
        chosen.append(adversarial)
    if config.teacher is not None:
        chosen.append(
            Distillation(config.teacher, config.distill_temperature, config.distill_alpha)
        )
    if config.l1 > 0:
        chosen.append(L1Penalty(config.l1))
    if config.sam > 0:
        chosen.append(SAM(config.sam))
    if config.grad_clip is not None:
        chosen.append(GradClip(config.grad_clip))
    if config.max_norm is not None:
        chosen.append(MaxNorm(config.max_norm))
    if config.ema is not None:
        chosen.append(EMA(config.ema))
    return chosen
