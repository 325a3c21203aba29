"""The RepVGG block and its re-parameterization (cnnlab.nn.repvgg), Ding et al. (2021)."""

import pytest
import torch
from torch import nn

from cnnlab.nn.repvgg import RepVGGBlock
from tests.batchnorm_helpers import randomize_batch_norm


def trained_block(in_ch: int, out_ch: int, stride: int = 1, groups: int = 1) -> RepVGGBlock:
    """A block whose batch norms hold non-trivial running statistics and affine parameters."""
    torch.manual_seed(0)
    return randomize_batch_norm(RepVGGBlock(in_ch, out_ch, stride, groups))


@pytest.mark.parametrize(
    ("in_ch", "out_ch", "stride", "groups"),
    [(8, 8, 1, 1), (8, 16, 1, 1), (8, 8, 2, 1), (8, 8, 1, 2), (8, 16, 2, 4)],
)
def test_reparameterized_block_is_one_3x3_conv_with_the_same_outputs(in_ch, out_ch, stride, groups):
    block = trained_block(in_ch, out_ch, stride, groups)
    conv = block.reparameterize()
    assert isinstance(conv, nn.Conv2d) and conv.kernel_size == (3, 3) and conv.bias is not None
    assert conv.stride == (stride, stride) and conv.groups == groups
    x = torch.randn(2, in_ch, 9, 9)
    with torch.no_grad():
        expected = block(x)
        torch.testing.assert_close(conv(x), expected, rtol=1e-5, atol=1e-5 * expected.abs().max())


def test_identity_branch_only_when_shapes_match():
    assert isinstance(RepVGGBlock(8, 8).identity, nn.BatchNorm2d)
    assert RepVGGBlock(8, 16).identity is None
    assert RepVGGBlock(8, 8, stride=2).identity is None


def test_training_time_block_sums_three_branches():
    block = trained_block(4, 4)
    x = torch.randn(1, 4, 5, 5)
    with torch.no_grad():
        expected = block.dense(x) + block.pointwise(x) + block.identity(x)
        torch.testing.assert_close(block(x), expected)


def test_block_trains_and_its_gradients_reach_every_branch():
    block = RepVGGBlock(4, 4).train()
    block(torch.randn(2, 4, 6, 6)).square().mean().backward()
    for name, p in block.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_reparameterize_uses_the_block_dtype():
    block = trained_block(4, 4).double()
    assert block.reparameterize().weight.dtype == torch.float64
