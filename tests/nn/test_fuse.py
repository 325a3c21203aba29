"""Conv+BN folding and re-parameterization (cnnlab.nn.fuse)."""

import torch
from torch import nn

from cnnlab.models import create_model
from cnnlab.nn.fuse import fuse_conv_bn, reparameterize
from tests.batchnorm_helpers import (
    assert_fusion_keeps_outputs,
    batch_norm_count,
    randomize_batch_norm,
)


def test_fused_model_gives_the_same_outputs_with_fewer_modules():
    model = randomize_batch_norm(create_model("simple_cnn", channels=(8, 16, 32)))
    fused = assert_fusion_keeps_outputs(model, torch.rand(4, 1, 32, 32), atol=1e-5)
    assert batch_norm_count(fused) == 0
    assert len(list(fused.modules())) == len(list(model.modules())) - 3


def test_fusing_leaves_the_original_model_alone():
    model = create_model("simple_cnn").train()
    fuse_conv_bn(model)
    assert model.training and any(isinstance(m, nn.BatchNorm2d) for m in model.modules())


class _TwoBranch(nn.Module):
    """conv3x3(x) + conv1x1(x): collapses into one 3x3 conv."""

    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Conv2d(2, 3, 3, padding=1), nn.Conv2d(2, 3, 1)

    def forward(self, x):
        return self.a(x) + self.b(x)

    def reparameterize(self):
        conv = nn.Conv2d(2, 3, 3, padding=1)
        conv.weight.data = self.a.weight + nn.functional.pad(self.b.weight, [1, 1, 1, 1])
        conv.bias.data = self.a.bias + self.b.bias
        return conv


def test_reparameterize_replaces_blocks_that_know_how():
    model = nn.Sequential(_TwoBranch(), nn.BatchNorm2d(3))
    randomize_batch_norm(model)
    plain = reparameterize(model)
    x = torch.rand(2, 2, 8, 8)
    torch.testing.assert_close(plain(x), model(x), rtol=1e-5, atol=1e-5)
    assert [type(m) for m in plain] == [nn.Conv2d]
