"""The training loss of a classifier's output, auxiliary classifiers included."""

from __future__ import annotations

from collections.abc import Callable

import torch

from cnnlab.models.base import AuxLogits

Criterion = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def classification_loss(
    output: torch.Tensor | AuxLogits, labels: torch.Tensor, criterion: Criterion
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(loss, main logits)`` for plain logits or `AuxLogits`.

    With auxiliary classifiers the loss is
    ``criterion(logits) + aux_weight · Σ_i criterion(aux_i)`` (Szegedy et al.
    2015, "Going deeper with convolutions", Sec. 5: weight 0.3).
    """
    if isinstance(output, AuxLogits):
        loss = criterion(output.logits, labels)
        for aux in output.aux:
            loss = loss + output.aux_weight * criterion(aux, labels)
        return loss, output.logits
    return criterion(output, labels), output
