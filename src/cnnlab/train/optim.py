"""Optimizers and learning-rate schedules, chosen by name.

Optimizers: SGD (with momentum / Nesterov, Sutskever et al. 2013), Adagrad
(Duchi et al. 2011), Adadelta (Zeiler 2012), RMSprop (Tieleman & Hinton 2012),
Adam (Kingma & Ba 2015) and AdamW (decoupled weight decay, Loshchilov & Hutter
2019).

Schedules are stepped once per *iteration* (except ``plateau``, stepped once
per epoch on the validation loss) and accept a linear warm-up:
``step`` (divide by ``gamma`` every ``step_size`` epochs), ``cosine``
(Loshchilov & Hutter 2017, SGDR without restarts), ``linear`` (straight down
to zero, which Defazio et al. 2023, "When, why and how much? Adaptive learning
rate scheduling by refinement", arXiv:2310.07831, find to match or beat
cosine), ``onecycle`` (Smith & Topin 2019), ``plateau`` (reduce on plateau)
and ``constant``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch

from cnnlab.errors import check_choice, check_positive

OPTIMIZERS = ("sgd", "adagrad", "adadelta", "rmsprop", "adam", "adamw")
SCHEDULERS = ("constant", "step", "cosine", "linear", "onecycle", "plateau")


#: Optimizers with a single-kernel ("fused") implementation in PyTorch on the CPU and CUDA
#: (torch >= 2.4): one kernel for all parameters instead of a dozen small ops per tensor
#: (Adam's step over LeNet-5's parameters: 245 µs as a loop, 70 µs fused;
#: benchmarks/kernels.py).
FUSED = ("sgd", "adagrad", "adam", "adamw")
_FUSED_DEVICES = ("cpu", "cuda")


def build_optimizer(
    name: str,
    params: Iterable[torch.nn.Parameter] | Iterable[dict],
    lr: float,
    *,
    momentum: float = 0.9,
    nesterov: bool = False,
    weight_decay: float = 0.0,
) -> torch.optim.Optimizer:
    """Create the optimizer ``name`` (one of `OPTIMIZERS`).

    ``weight_decay`` is the coupled L2 penalty for every optimizer except
    ``adamw``, where it is decoupled from the gradient.  The fused implementation
    is used where PyTorch has one (`FUSED`), the multi-tensor one otherwise.
    """
    check_choice("optimizer", name, OPTIMIZERS)
    check_positive("lr", lr)
    check_positive("weight_decay", weight_decay, allow_zero=True)
    params = list(params)
    tensors = [
        t for group in params for t in (group["params"] if isinstance(group, dict) else [group])
    ]
    fused = name in FUSED and all(
        t.device.type in _FUSED_DEVICES and t.is_floating_point() for t in tensors
    )
    speed = {"fused": True} if fused else {"foreach": True}
    if name == "sgd":
        return torch.optim.SGD(
            params,
            lr=lr,
            momentum=momentum,
            nesterov=nesterov and momentum > 0,
            weight_decay=weight_decay,
            **speed,
        )
    if name == "adagrad":
        return torch.optim.Adagrad(params, lr=lr, weight_decay=weight_decay, **speed)
    if name == "adadelta":
        return torch.optim.Adadelta(params, lr=lr, weight_decay=weight_decay, **speed)
    if name == "rmsprop":
        return torch.optim.RMSprop(
            params, lr=lr, momentum=momentum, weight_decay=weight_decay, **speed
        )
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, **speed)
    return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, **speed)


def exclude_from_decay(params: Iterable[torch.nn.Parameter] | Iterable[dict]) -> list[dict]:
    """Parameter groups in which biases and normalization parameters get no weight decay.

    Every tensor of at most one dimension (biases, batch-norm scales and shifts,
    LeNet's subsampling coefficients) moves to a copy of its group with
    ``weight_decay=0``; convolution and linear weights keep the optimizer's
    decay.  This is "no bias decay" (Jia et al. 2018, "Highly scalable deep
    learning training system with mixed-precision"; He et al. 2019, "Bag of
    tricks for image classification with convolutional neural networks",
    Sec. 3.1): the regularization is meant for the weights, and behind batch
    norm a decayed scale only shrinks what the next layer has to undo.  Other
    options of a group (such as a discriminative ``lr``) are kept.
    """
    items = list(params)
    if not all(isinstance(item, dict) for item in items):
        items = [{"params": items}]
    groups = []
    for group in items:
        options = {k: v for k, v in group.items() if k != "params"}
        tensors = list(group["params"])
        decayed = [t for t in tensors if t.dim() > 1]
        exempt = [t for t in tensors if t.dim() <= 1]
        if decayed:
            groups.append({**options, "params": decayed})
        if exempt:
            groups.append({**options, "params": exempt, "weight_decay": 0.0})
    return groups


class WarmupSchedule:
    """Multiplicative LR factor per iteration: linear warm-up, then a decay.

    A picklable callable for `torch.optim.lr_scheduler.LambdaLR`.
    """

    def __init__(
        self, kind: str, total_steps: int, warmup_steps: int, step_size: int, gamma: float
    ):
        self.kind, self.total, self.warmup = kind, max(total_steps, 1), warmup_steps
        self.step_size, self.gamma = max(step_size, 1), gamma

    def __call__(self, step: int) -> float:
        if step < self.warmup:
            return (step + 1) / self.warmup
        progress = min((step - self.warmup) / max(self.total - self.warmup, 1), 1.0)
        if self.kind == "cosine":
            return 0.5 * (1.0 + math.cos(math.pi * progress))
        if self.kind == "linear":
            return 1.0 - progress
        if self.kind == "step":
            return self.gamma ** ((step - self.warmup) // self.step_size)
        return 1.0


def build_scheduler(
    name: str,
    optimizer: torch.optim.Optimizer,
    *,
    epochs: int,
    steps_per_epoch: int,
    warmup_epochs: float = 0.0,
    step_epochs: int = 30,
    gamma: float = 0.1,
    patience: int = 5,
) -> torch.optim.lr_scheduler.LRScheduler | torch.optim.lr_scheduler.ReduceLROnPlateau:
    """Create the schedule ``name`` (one of `SCHEDULERS`).

    All but ``plateau`` are stepped after every optimizer step.
    """
    check_choice("scheduler", name, SCHEDULERS)
    total = epochs * steps_per_epoch
    warmup = round(warmup_epochs * steps_per_epoch)
    if name == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="min", factor=gamma, patience=patience
        )
    if name == "onecycle":
        max_lrs = [group["lr"] for group in optimizer.param_groups]
        pct = warmup / total if warmup else 0.3
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer,
            max_lr=max_lrs,
            total_steps=max(total, 1),
            pct_start=min(max(pct, 0.01), 0.99),
        )
    schedule = WarmupSchedule(name, total, warmup, step_epochs * steps_per_epoch, gamma)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
