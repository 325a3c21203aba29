"""Measuring robustness: robust accuracy, success rate, perturbation sizes, curves, ρ_adv.

References
----------
Moosavi-Dezfooli, Fawzi & Frossard (2016). DeepFool. CVPR, eq. (15): the
robustness ρ_adv = mean over images of ‖r̂(x)‖₂ / ‖x‖₂.
Athalye, Carlini & Wagner (2018). Obfuscated gradients give a false sense of
security. ICML, Sec. 3.1, and Carlini et al. (2019). On evaluating adversarial
robustness, Sec. 5: signs of gradient masking (a single step beating an
iterative attack, black-box attacks beating white-box ones).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from cnnlab.attack.base import Attack, check_batch, frozen, per_sample_norm
from cnnlab.attack.blackbox import Square
from cnnlab.attack.gradient import FGSM, PGD
from cnnlab.errors import ConfigError, check_positive
from cnnlab.runs import Run, RunSplit, predict_dataset


@dataclass
class AttackResult:
    """Adversarial examples of one attack on a set of images, and what they achieved.

    ``metrics``: ``num_images``, ``clean_accuracy``, ``robust_accuracy`` (on the
    adversarial images, against the true labels), ``success_rate`` (among the
    images the model classified correctly: the fraction misclassified after the
    attack, or for a targeted attack the fraction classified as the target),
    ``mean_linf`` / ``mean_l2`` / ``mean_l0`` (perturbation norms over the
    successful examples; L0 counts changed pixel values) and ``seconds``.
    """

    adversarial: torch.Tensor
    clean_predictions: torch.Tensor
    adversarial_predictions: torch.Tensor
    metrics: dict[str, Any] = field(default_factory=dict)


@torch.no_grad()
def predict(model: nn.Module, images: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    """Predicted classes of ``images`` (model left in its mode)."""
    if len(images) == 0:
        return torch.empty(0, dtype=torch.long, device=images.device)
    return torch.cat(
        [model(images[i : i + batch_size]).argmax(1) for i in range(0, len(images), batch_size)]
    )


def evaluate_attack(
    model: nn.Module,
    attack: Attack,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    targets: torch.Tensor | None = None,
    batch_size: int = 256,
) -> AttackResult:
    """Run ``attack`` batch by batch and measure it.

    Parameters
    ----------
    model
        classifier taking images in [0, 1].
    attack
        any `Attack`; targeted attacks need ``targets``
        and untargeted ones take none (a ConfigError otherwise).
    images, labels
        the test images (N, C, H, W) in [0, 1] and true classes (N,).
    targets
        target classes (N,) of a targeted attack.
    batch_size
        images per attack call.
    """
    check_positive("batch_size", batch_size)
    images, labels = check_batch(images, labels)
    if attack.targeted != (targets is not None):
        raise ConfigError(
            f"{type(attack).__name__} is {'' if attack.targeted else 'un'}targeted: "
            + (
                "give targets=, the classes to reach."
                if attack.targeted
                else "leave out targets=, or build it with targeted=True."
            )
        )
    goal = labels if targets is None else torch.as_tensor(targets, device=images.device).long()
    started = time.perf_counter()
    adversarial = torch.cat(
        [
            attack(model, images[i : i + batch_size], goal[i : i + batch_size])
            for i in range(0, len(images), batch_size)
        ]
    )
    seconds = time.perf_counter() - started
    with frozen(model):
        clean = predict(model, images, batch_size)
        after = predict(model, adversarial, batch_size)
    correct = clean == labels
    if targets is None:
        eligible, success = correct, after != labels
    else:
        eligible, success = correct & (labels != goal), after == goal
    success = success & eligible
    delta = adversarial - images
    metrics = {
        "attack": repr(attack),
        "num_images": len(images),
        "clean_accuracy": correct.float().mean().item(),
        "robust_accuracy": (after == labels).float().mean().item(),
        "success_rate": _mean(success[eligible].float()),
        "seconds": seconds,
    }
    for norm in ("linf", "l2", "l0"):
        metrics[f"mean_{norm}"] = _mean(per_sample_norm(delta[success], norm))
    return AttackResult(adversarial, clean, after, metrics)


def attack_split(
    run: Run,
    split: RunSplit,
    attack: Attack,
    *,
    target: int | None = None,
    batch_size: int = 256,
    device: str | torch.device = "cpu",
) -> tuple[torch.Tensor, torch.Tensor, AttackResult]:
    """Attack a run's model on every image of ``split`` (from `Run.load_split`).

    Returns the images in [0, 1] as the model takes them, their labels as the
    run's class indices, and `evaluate_attack`'s result; ``target`` (a
    class index of the run) makes every image's goal that class.
    """
    model = run.model.to(device)
    images, _, labels = predict_dataset(model, split.images, run.input_shape, device=device)
    images = images.to(device).float() / 255
    labels = split.class_map[labels].to(device)
    targets = None if target is None else torch.full_like(labels, target)
    result = evaluate_attack(model, attack, images, labels, targets=targets, batch_size=batch_size)
    return images, labels, result


def _mean(values: torch.Tensor) -> float:
    return values.mean().item() if len(values) else float("nan")


def robust_accuracy(
    model: nn.Module, attack: Attack, images: torch.Tensor, labels: torch.Tensor, **kwargs: Any
) -> float:
    """Accuracy on ``attack``'s adversarial examples of ``images``."""
    return evaluate_attack(model, attack, images, labels, **kwargs).metrics["robust_accuracy"]


def accuracy_curve(
    model: nn.Module,
    make_attack: Callable[[float], Attack],
    eps_values: Iterable[float],
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    batch_size: int = 256,
) -> list[float]:
    """Robust accuracy for each ε of ``eps_values``, ``make_attack(eps)`` giving the attack.

    ε = 0 gives the clean accuracy.  Plot with
    `cnnlab.report.attack_figures.plot_accuracy_curves`.
    """
    accuracies = []
    for eps in eps_values:
        if eps == 0:
            with frozen(model):
                accuracies.append((predict(model, images) == labels).float().mean().item())
        else:
            result = evaluate_attack(model, make_attack(eps), images, labels, batch_size=batch_size)
            accuracies.append(result.metrics["robust_accuracy"])
    return accuracies


def rho_adv(
    images: torch.Tensor, adversarial: torch.Tensor, mask: torch.Tensor | None = None
) -> float:
    """ρ_adv = mean ‖r̂(x)‖₂ / ‖x‖₂ (Moosavi-Dezfooli et al. 2016, eq. 15).

    ``mask`` restricts the mean to some images (e.g. those the attack fooled).
    """
    ratio = per_sample_norm(adversarial - images, "l2") / per_sample_norm(images, "l2").clamp(
        min=1e-12
    )
    return _mean(ratio if mask is None else ratio[mask])


@dataclass
class MaskingCheck:
    """Robust accuracies of the attacks compared, and a warning per suspicious pair."""

    accuracies: dict[str, float]
    warnings: list[str]

    @property
    def suspicious(self) -> bool:
        return bool(self.warnings)


def masking_warnings(accuracies: Mapping[str, float], tolerance: float = 0.02) -> list[str]:
    """The signs of gradient masking among robust accuracies keyed ``fgsm``, ``pgd``, ``square``.

    An attack "beats" another when it leaves ``tolerance`` less accuracy.
    FGSM beating PGD means the loss surface defeats iterative ascent; a
    gradient-free attack beating the gradient attacks means gradients are
    uninformative.  Either way the gradient attacks under-estimate the risk.
    """
    warnings = []
    fgsm, pgd, square = (accuracies.get(k) for k in ("fgsm", "pgd", "square"))
    if fgsm is not None and pgd is not None and fgsm < pgd - tolerance:
        warnings.append(
            f"FGSM ({fgsm:.1%}) beats PGD ({pgd:.1%}): the iterative attack is not "
            "following the gradient; suspect gradient masking."
        )
    gradient = [a for a in (fgsm, pgd) if a is not None]
    if square is not None and gradient and square < min(gradient) - tolerance:
        warnings.append(
            f"the gradient-free Square attack ({square:.1%}) beats the gradient attacks "
            f"({min(gradient):.1%}): gradients are uninformative; suspect gradient masking."
        )
    return warnings


def gradient_masking_check(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    eps: float,
    *,
    steps: int = 20,
    queries: int = 1000,
    tolerance: float = 0.02,
    seed: int = 0,
) -> MaskingCheck:
    """Run FGSM, PGD-``steps`` and Square at L∞ radius ``eps``; see `masking_warnings`."""
    attacks = {
        "fgsm": FGSM(eps),
        "pgd": PGD(eps, steps=steps, seed=seed),
        "square": Square(eps, queries=queries, seed=seed),
    }
    accuracies = {
        name: robust_accuracy(model, attack, images, labels) for name, attack in attacks.items()
    }
    return MaskingCheck(accuracies, masking_warnings(accuracies, tolerance))
