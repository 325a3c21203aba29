"""What every attack shares: the call shape, norms, projections and input checks.

An attack is a small class configured once and called on a batch:

    adversarial = PGD(eps=8 / 255)(model, images, labels)

Images are in pixel space [0, 1]; normalization is a module inside the model
(DESIGN.md).  With ``targeted=True`` the ``labels`` are the classes to reach,
otherwise the true classes to move away from.

During a call the model runs in eval mode with its parameters frozen; both its
training flag and every parameter's ``requires_grad`` are restored afterwards.
Gradients are taken with `torch.autograd.grad` with respect to the input
only, so nothing accumulates in ``.grad`` and no graph outlives a batch.
Randomness comes from the attack's own `torch.Generator` (``seed``), on
the CPU, so the same seed gives the same adversarial examples on any device.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn

from cnnlab.errors import ConfigError, DataError, check_choice
from cnnlab.nn.quantized import refuse_quantized

NORMS = ("linf", "l2")


class Attack:
    """Base class: ``attack(model, images, labels) -> adversarial images`` in [0, 1].

    Subclasses implement `perturb`, which may assume a frozen model and
    checked inputs; ``__call__`` provides both.
    """

    targeted: bool = False

    def __call__(
        self, model: nn.Module, images: torch.Tensor, labels: torch.Tensor
    ) -> torch.Tensor:
        images, labels = check_batch(images, labels)
        with frozen(model):
            return self.perturb(model, images, labels).detach()

    def perturb(self, model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def __repr__(self) -> str:
        options = ", ".join(
            f"{k}={v!r}" for k, v in vars(self).items() if not isinstance(v, torch.Generator)
        )
        return f"{type(self).__name__}({options})"


@contextlib.contextmanager
def frozen(model: nn.Module, eval_mode: bool = True) -> Iterator[nn.Module]:
    """Run ``model`` with ``requires_grad=False`` parameters (and in eval mode); restore both.

    An int8 model is refused: attacks need gradients (`cnnlab.nn.quantized`).
    """
    refuse_quantized(model, "An attack")
    was_training = model.training
    flags = [(p, p.requires_grad) for p in model.parameters()]
    try:
        for p, _ in flags:
            p.requires_grad_(False)
        if eval_mode:
            model.eval()
        yield model
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)
        model.train(was_training)


def check_batch(images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``images`` as float (N, C, H, W) in [0, 1] and ``labels`` as int64 (N,) on its device."""
    if not torch.is_tensor(images) or images.ndim != 4 or not images.is_floating_point():
        raise DataError(
            "images must be a float tensor of shape (N, C, H, W), got "
            f"{getattr(images, 'dtype', type(images).__name__)} "
            f"{tuple(getattr(images, 'shape', ()))}."
        )
    if images.numel() and (images.min() < 0 or images.max() > 1):
        raise DataError(
            f"images must be in [0, 1] (got values in [{images.min():.3g}, {images.max():.3g}]). "
            "Attacks work in pixel space: put the normalization inside the model "
            "(cnnlab.nn.norm.Normalize), as load_run(...).model does."
        )
    labels = torch.as_tensor(labels, device=images.device).long()
    if labels.shape != (len(images),):
        raise DataError(f"labels must have shape ({len(images)},), got {tuple(labels.shape)}.")
    return images.detach(), labels


def check_eps(eps: float, norm: str) -> float:
    """A valid radius: in (0, 1] for L∞ (pixels are in [0, 1]), > 0 for L2."""
    check_choice("norm", norm, NORMS)
    if norm == "linf" and not 0 < eps <= 1:
        raise ConfigError(
            f"eps must be in (0, 1] for the L∞ norm (pixels are in [0, 1]), got {eps!r}; "
            "write 8/255 rather than 8."
        )
    if not eps > 0:
        raise ConfigError(f"eps must be > 0, got {eps!r}.")
    return float(eps)


def check_steps(steps: int) -> int:
    if not isinstance(steps, int) or steps < 1:
        raise ConfigError(f"steps must be an integer >= 1, got {steps!r}.")
    return steps


def make_generator(seed: int | torch.Generator) -> torch.Generator:
    """A CPU generator: ``seed`` itself if it is one, else a new one seeded with it."""
    if isinstance(seed, torch.Generator):
        return seed
    return torch.Generator().manual_seed(int(seed))


def per_sample_norm(x: torch.Tensor, norm: str) -> torch.Tensor:
    """‖x_i‖ for every sample i: ``'linf'``, ``'l2'``, ``'l1'`` or ``'l0'`` (nonzero count)."""
    flat = x.flatten(1)
    if norm == "linf":
        return flat.abs().amax(1)
    if norm == "l0":
        return (flat != 0).sum(1).to(x.dtype)
    return flat.norm(p=1 if norm == "l1" else 2, dim=1)


def _expand(values: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return values.view(-1, *([1] * (like.ndim - 1)))


def project(delta: torch.Tensor, eps: float, norm: str) -> torch.Tensor:
    """The closest point of the ε-ball around 0 (Madry et al. 2018, eq. 2's Π_{x+S})."""
    if norm == "linf":
        return delta.clamp(-eps, eps)
    length = per_sample_norm(delta, "l2")
    return delta * _expand(torch.clamp(eps / (length + 1e-12), max=1.0), delta)


def steepest_ascent(grad: torch.Tensor, norm: str) -> torch.Tensor:
    """The unit-norm direction of steepest ascent: sign(g) for L∞, g/‖g‖₂ for L2."""
    if norm == "linf":
        return grad.sign()
    return grad / _expand(per_sample_norm(grad, "l2") + 1e-12, grad)


def random_in_ball(
    like: torch.Tensor, eps: float, norm: str, generator: torch.Generator
) -> torch.Tensor:
    """A uniform sample of the ε-ball (L∞: uniform per pixel; L2: uniform in volume)."""
    shape = like.shape
    if norm == "linf":
        sample = (torch.rand(shape, generator=generator) * 2 - 1) * eps
    else:
        direction = torch.randn(shape, generator=generator)
        direction = direction / _expand(per_sample_norm(direction, "l2"), direction)
        radius = torch.rand(shape[0], generator=generator) ** (1.0 / like[0].numel())
        sample = direction * _expand(radius * eps, direction)
    return sample.to(like.device, like.dtype)


def input_gradient(
    model: nn.Module, images: torch.Tensor, objective
) -> tuple[torch.Tensor, torch.Tensor]:
    """(logits, ∂ Σ_i objective(logits)_i / ∂ images); no graph is kept."""
    images = images.detach().requires_grad_(True)
    logits = model(images)
    grad = torch.autograd.grad(objective(logits).sum(), images)[0]
    return logits.detach(), grad.detach()


def margin(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """z_y − max_{i≠y} z_i per sample: positive while ``labels`` is still the prediction."""
    true = logits.gather(1, labels[:, None]).squeeze(1)
    other = logits.scatter(1, labels[:, None], float("-inf")).amax(1)
    return true - other


def cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits, labels, reduction="none")


def succeeded(logits: torch.Tensor, labels: torch.Tensor, targeted: bool) -> torch.Tensor:
    """Boolean per sample: prediction equals the target (targeted) or differs from the label."""
    predictions = logits.argmax(1)
    return predictions == labels if targeted else predictions != labels
