"""Weight penalties and constraints applied by the Trainer.

* L1 penalty λ Σ|w| over the weight tensors (not biases or normalization
  parameters), added to the loss; it drives weights to exactly zero (Tibshirani
  1996; the lecture contrasts it with L2, which is the optimizers'
  ``weight_decay``: coupled in SGD/Adam, decoupled in AdamW, Loshchilov & Hutter 2019).
* Max-norm constraint: after each update, rescale every unit's incoming weight
  vector whose L2 norm exceeds ``c`` back to norm ``c`` (Srebro & Shraibman
  2005; Srivastava et al. 2014, "Dropout", Sec. 5.1, used with dropout and
  c ≈ 3-4).  A unit is an output channel of a convolution (its F·F·D weights)
  or a row of a linear layer.
"""

from __future__ import annotations

import torch
from torch import nn

_WEIGHTED = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)


def penalized_weights(model: nn.Module) -> list[torch.Tensor]:
    """The weight tensors of the convolutions and linear layers of ``model``."""
    return [m.weight for m in model.modules() if isinstance(m, _WEIGHTED)]


def l1_penalty(model: nn.Module) -> torch.Tensor:
    """Σ |w| over the convolution and linear weights."""
    weights = penalized_weights(model)
    if not weights:
        return torch.zeros(())
    return torch.stack([w.abs().sum() for w in weights]).sum()


@torch.no_grad()
def apply_max_norm(model: nn.Module, max_norm: float) -> None:
    """Rescale each unit's incoming weight vector to L2 norm at most ``max_norm``, in place."""
    for weight in penalized_weights(model):
        weight.copy_(torch.renorm(weight, p=2, dim=0, maxnorm=max_norm))
