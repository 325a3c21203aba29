"""Int8 models are for inference: explanations and attacks refuse them with what to use."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("torchao", reason="int8 quantization needs the 'quantize' extra (torchao)")

from cnnlab.attack.dense import DensePGD
from cnnlab.attack.gradient import FGSM, PGD
from cnnlab.deploy.quantize import quantize_ptq
from cnnlab.errors import ConfigError
from cnnlab.explain import grad_cam, integrated_gradients, saliency
from cnnlab.models import create_model
from cnnlab.nn.quantized import is_quantized

SHAPE = (1, 16, 16)


@pytest.fixture(scope="module")
def models():
    """A small CNN in fp32 and its PT2E int8 program (calibrated on random images)."""
    torch.manual_seed(0)
    fp32 = create_model("simple_cnn", num_classes=3, in_chans=1).eval()
    calibration = [torch.rand(4, *SHAPE, generator=torch.Generator().manual_seed(1))]
    return fp32, quantize_ptq(fp32, SHAPE, calibration)


def test_the_int8_program_is_recognised_and_the_fp32_model_is_not(models):
    fp32, int8 = models
    assert is_quantized(int8) and not is_quantized(fp32)


@pytest.mark.parametrize(
    "call",
    [
        lambda m, x: saliency(m, x, 0),
        lambda m, x: grad_cam(m, x, 0),
        lambda m, x: integrated_gradients(m, x, 0, steps=2),
        lambda m, x: FGSM(0.1)(m, x, torch.zeros(len(x), dtype=torch.long)),
        lambda m, x: PGD(0.1, steps=2)(m, x, torch.zeros(len(x), dtype=torch.long)),
        lambda m, x: DensePGD.fgsm(0.1, loss="mse")(m, x, torch.zeros(len(x), 3)),
    ],
    ids=["saliency", "grad-cam", "integrated-gradients", "fgsm", "pgd", "dense-fgsm"],
)
def test_explanations_and_attacks_say_int8_models_are_for_inference(models, call):
    fp32, int8 = models
    x = torch.rand(2, *SHAPE, generator=torch.Generator().manual_seed(2))
    with pytest.raises(ConfigError, match=r"int8 models are for inference.*fp32 model"):
        call(int8, x)
    call(fp32, x)  # the fp32 model it came from works
