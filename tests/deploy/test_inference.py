"""The inference path: same outputs as the eager model, without the training-only work."""

import pytest
import torch
from torch import nn

from cnnlab.deploy import prepare
from cnnlab.models import create_model
from cnnlab.nn.repvgg import RepVGGBlock
from tests.batchnorm_helpers import randomize_batch_norm

ZOO = [
    ("resnet18", 32),
    ("mobilenet_v2", 32),
    ("repvgg_a0", 32),
    ("efficientnet_b0", 32),
    ("resnet20", 32),
]


def trained_looking(name: str) -> nn.Module:
    torch.manual_seed(0)
    model = create_model(name, num_classes=10, in_chans=3)
    return randomize_batch_norm(model, seed=1)


@pytest.mark.parametrize(("name", "size"), ZOO)
def test_prepared_model_gives_the_eager_outputs(name, size):
    model = trained_looking(name)
    x = torch.rand(3, 3, size, size, generator=torch.Generator().manual_seed(2))
    with torch.inference_mode():
        expected = model(x)
        got = prepare(model)(x)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5 * expected.abs().max().item())


def test_prepared_model_has_no_batch_norm_after_a_convolution_and_no_gradients():
    model = trained_looking("resnet18")
    fast = prepare(model)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in fast.modules())
    assert not fast.training and not any(p.requires_grad for p in fast.parameters())
    assert any(isinstance(m, nn.BatchNorm2d) for m in model.modules())  # original untouched


def test_repvgg_blocks_collapse_into_single_convolutions():
    fast = prepare(trained_looking("repvgg_a0"))
    assert not any(isinstance(m, RepVGGBlock) for m in fast.modules())


def test_convolution_weights_are_channels_last_unless_asked_otherwise():
    model = trained_looking("resnet20")

    def first_conv(module: nn.Module) -> nn.Conv2d:
        return next(m for m in module.modules() if isinstance(m, nn.Conv2d))

    assert first_conv(prepare(model)).weight.is_contiguous(memory_format=torch.channels_last)
    assert first_conv(prepare(model, channels_last=False)).weight.is_contiguous()


def test_without_fusion_the_batch_norms_stay():
    fast = prepare(trained_looking("resnet20"), fuse=False)
    assert any(isinstance(m, nn.BatchNorm2d) for m in fast.modules())


@pytest.mark.slow
def test_compiled_model_gives_the_eager_outputs():
    model = trained_looking("resnet20")
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    with torch.inference_mode():
        expected = model(x)
        got = prepare(model, compile=True)(x)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)


def test_load_run_for_inference_gives_the_run_outputs_without_batch_norm(tmp_path):
    from cnnlab.runs import load_run
    from tests.deploy.conftest import write_run

    run_dir = write_run(tmp_path / "resnet20", "resnet20")
    trained, fast = load_run(run_dir), load_run(run_dir, inference=True)
    images = torch.rand(8, *trained.input_shape, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        torch.testing.assert_close(fast.model(images), trained.model(images), atol=1e-5, rtol=1e-5)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in fast.model.modules())
    assert any(isinstance(m, nn.BatchNorm2d) for m in trained.model.modules())
    assert not any(p.requires_grad for p in fast.model.parameters())
    assert fast.classes == trained.classes
