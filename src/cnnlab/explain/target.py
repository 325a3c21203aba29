"""What is explained: one score per image, chosen by ``target``.

A target is

* an ``int``: the same class for every image (column of an (N, K) output);
* a LongTensor (or sequence of ints) of shape (N,): one class per image;
* a callable ``f(output) -> Tensor of shape (N,)``: any score of the model
  output, so that models whose output is not plain logits (segmentation maps,
  detection heads) can be explained, e.g. ``lambda out: out[:, 3].sum((1, 2))``
  for the evidence of class 3 over a segmentation map.

Methods that evaluate several perturbed copies of a batch lay the copies out
copy-major (row ``k·N + n`` is copy ``k`` of image ``n``); `tile_target`
repeats a target to match.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from cnnlab.errors import ConfigError

Target = int | torch.Tensor | Sequence[int] | Callable[[torch.Tensor], torch.Tensor]


def check_target(target: Target, n: int) -> int | torch.Tensor | Callable:
    """``target`` for a batch of ``n`` images: an int, a (n,) LongTensor, or a callable."""
    if callable(target) and not isinstance(target, torch.Tensor):
        return target
    if isinstance(target, bool):
        raise ConfigError(f"target must be a class index, not {target!r}.")
    if isinstance(target, int):
        return target
    try:
        classes = torch.as_tensor(target)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise ConfigError(
            f"target must be an int, a sequence of ints or a callable, got {target!r}."
        ) from exc
    if classes.dtype.is_floating_point or classes.dtype == torch.bool:
        raise ConfigError(f"target classes must be integers, got dtype {classes.dtype}.")
    if classes.dim() == 0:
        return int(classes)
    if classes.shape != (n,):
        raise ConfigError(
            f"target has shape {tuple(classes.shape)}; give one class per image, shape ({n},)."
        )
    return classes.long()


def target_scores(output: torch.Tensor, target: Target) -> torch.Tensor:
    """The score that is explained, one per image: shape (N,)."""
    n = output.shape[0]
    target = check_target(target, n)
    if callable(target):
        scores = target(output)
        if not isinstance(scores, torch.Tensor) or scores.shape != (n,):
            shape = tuple(scores.shape) if isinstance(scores, torch.Tensor) else type(scores)
            raise ConfigError(
                f"A target callable must return one score per image, shape ({n},); got {shape}."
            )
        return scores
    if output.dim() != 2:
        raise ConfigError(
            f"The model output has shape {tuple(output.shape)}, not (N, classes); pass target "
            "as a callable returning one score per image, e.g. lambda out: out[:, c].sum((1, 2))."
        )
    classes = torch.as_tensor(target, device=output.device).expand(n)
    if classes.min() < 0 or classes.max() >= output.shape[1]:
        raise ConfigError(
            f"target class out of range: the model has {output.shape[1]} outputs "
            f"(classes 0..{output.shape[1] - 1}), got {classes.unique().tolist()}."
        )
    return output.gather(1, classes[:, None])[:, 0]


def tile_target(target: Target, n: int, copies: int) -> int | torch.Tensor | Callable:
    """The target of ``copies`` copies of a batch of ``n`` images laid out copy-major."""
    target = check_target(target, n)
    return target.repeat(copies) if isinstance(target, torch.Tensor) else target


def score_gradient(
    model: torch.nn.Module, x: torch.Tensor, target: Target
) -> tuple[torch.Tensor, torch.Tensor]:
    """(scores, ∂score/∂x) for a batch; the graph is freed before returning.

    Works under ``torch.no_grad`` and on tensors made in inference mode too.
    """
    x = differentiable(x)
    with torch.enable_grad():
        scores = target_scores(model(x), target)
        (grad,) = torch.autograd.grad(scores.sum(), x)
    return scores.detach(), grad


def differentiable(x: torch.Tensor) -> torch.Tensor:
    """A leaf copy of ``x`` that requires grad (inference-mode tensors are cloned first)."""
    return (x.clone() if x.is_inference() else x.detach()).requires_grad_(True)
