"""The classification loss with auxiliary classifiers (cnnlab.train.losses)."""

import torch
from torch import nn

from cnnlab.models.base import AuxLogits
from cnnlab.train.losses import classification_loss


def test_plain_logits_give_the_criterion():
    logits, labels = torch.randn(4, 3), torch.tensor([0, 1, 2, 0])
    loss, main = classification_loss(logits, labels, nn.CrossEntropyLoss())
    assert main is logits
    torch.testing.assert_close(loss, nn.functional.cross_entropy(logits, labels))


def test_auxiliary_losses_are_added_with_their_weight():
    logits, aux1, aux2 = torch.randn(3, 4, 5).unbind(0)
    labels = torch.tensor([0, 1, 2, 3])
    ce = nn.functional.cross_entropy
    loss, main = classification_loss(AuxLogits(logits, (aux1, aux2), 0.3), labels, ce)
    assert main is logits
    torch.testing.assert_close(
        loss, ce(logits, labels) + 0.3 * (ce(aux1, labels) + ce(aux2, labels))
    )
