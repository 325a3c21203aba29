"""Sharpness-aware minimization (Foret, Kleiner, Mobahi & Neyshabur 2021, "Sharpness-aware
minimization for efficiently improving generalization", ICLR).

SAM minimizes max_{‖ε‖₂ ≤ ρ} L(w + ε).  Its first-order solution (Eq. 2) is
ε̂(w) = ρ ∇L(w) / ‖∇L(w)‖₂, and the update uses the gradient at the perturbed point,
∇L(w + ε̂(w)) (Eq. 3, Algorithm 1).  One step therefore costs two forward and backward
passes on the same batch:

    loss(w).backward()                    # ∇L(w) in .grad
    with ascent(model, rho):              # w ← w + ε̂, .grad cleared
        loss(w + ε̂).backward()            # ∇L(w + ε̂) in .grad
    optimizer.step()                      # back at w, stepping with ∇L(w + ε̂)

Batch-normalization layers keep their running statistics during the second pass, so
that they average the batches once, as without SAM (the practice of the authors' code).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn


def ascent_direction(params: list[nn.Parameter], rho: float) -> list[torch.Tensor]:
    """ε̂ = ρ g / ‖g‖₂ over all of ``params`` together (Foret et al. 2021, Eq. 2)."""
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
    scale = rho / (norm + 1e-12)
    return [g * scale for g in grads]


@contextmanager
def ascent(model: nn.Module, rho: float) -> Iterator[None]:
    """Move ``model``'s weights to w + ε̂ for the second pass of a SAM step, then back.

    On entry the parameters' ``.grad`` hold ∇L(w); inside, they are cleared, and what
    the caller back-propagates there is the gradient the optimizer should apply.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    with torch.no_grad():
        steps = ascent_direction(params, rho)
        for p, step in zip(params, steps, strict=True):
            p.add_(step)
            p.grad = None
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [(m.momentum, _batches_tracked(m)) for m in norms]
    for m in norms:
        m.momentum = 0.0  # running = (1 − 0)·running + 0·batch: unchanged
    try:
        yield
    finally:
        for m, (momentum, tracked) in zip(norms, saved, strict=True):
            m.momentum = momentum
            if tracked is not None:
                m.num_batches_tracked.copy_(tracked)
        with torch.no_grad():
            for p, step in zip(params, steps, strict=True):
                p.sub_(step)


def _batches_tracked(norm: nn.Module) -> torch.Tensor | None:
    tracked = getattr(norm, "num_batches_tracked", None)
    return tracked.clone() if tracked is not None else None
