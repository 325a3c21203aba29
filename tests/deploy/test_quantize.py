"""Int8 quantization (torchao's PT2E flow): the int8 model agrees with fp32 on a trained run."""

import shutil

import pytest
import torch

pytest.importorskip("torchao", reason="int8 quantization needs the 'quantize' extra (torchao)")

from cnnlab import runs
from cnnlab.deploy.quantize import (
    INT8_FILE,
    load_int8_program,
    quantize_ptq,
    quantize_run,
)
from cnnlab.errors import ConfigError


@pytest.fixture
def run_copy(digits_run, tmp_path):
    return shutil.copytree(digits_run, tmp_path / "run")


def test_ptq_quantizes_weights_to_int8_and_keeps_the_accuracy(run_copy):
    result = quantize_run(run_copy, calibration=256)
    assert result.method == "ptq" and result.num_images > 100
    assert result.fp32_accuracy > 0.8
    assert abs(result.int8_accuracy - result.fp32_accuracy) <= 0.02
    assert result.agreement >= 0.97
    metrics = runs.read_metrics(run_copy)["quantization"]
    assert metrics["int8_accuracy"] == pytest.approx(result.int8_accuracy)
    table = runs.read_sections(run_copy)["Quantization"][0]["table"]
    assert [row[0] for row in table["rows"]] == ["fp32", "int8 (ptq)"]

    # LeNet-5: C1, F6 and the output are int8; S2, S4 (trainable pooling as grouped convs), the
    # partially connected C3 and C5 (behind them) the x86 quantizer leaves in float.
    assert result.int8_layers >= 3 and result.layers == 7
    assert metrics["int8_layers"] == result.int8_layers
    program = load_int8_program(run_copy / INT8_FILE)
    images = torch.rand(3, *runs.load_run(run_copy).input_shape)
    assert program.module()(images).shape == (3, 10)  # any batch size
    targets = {str(node.target) for node in program.graph.nodes if node.op == "call_function"}
    assert any("quantize_per_channel" in t for t in targets), (
        "weights are not quantized per channel"
    )
    assert any("quantize_per_tensor" in t for t in targets), "activations are not quantized"


def test_ptq_follows_the_quantization_equation_on_one_layer():
    """A lone convolution: int8 weights symmetric per output channel (scale = max|W| / 127.5),
    uint8 input affine per tensor, and the output equals conv(x̂, Ŵ) + b computed by hand."""
    torch.manual_seed(0)
    layer = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3))
    calibration = [torch.rand(16, 1, 8, 8)]
    int8 = quantize_ptq(layer, (1, 8, 8), calibration)
    weight = layer[0].weight.detach()

    w_scale = weight.abs().amax(dim=(1, 2, 3)) / 127.5
    graph_w_scale = next(b for name, b in int8.named_buffers() if "scale" in name)
    torch.testing.assert_close(graph_w_scale, w_scale)
    w_scale = w_scale[:, None, None, None]
    w_hat = (weight / w_scale).round().clamp(-128, 127) * w_scale

    # The activation range comes from a histogram observer (it may clip outliers), so take
    # its scale and zero point from the graph and check them against the data's range.
    quantize = next(n for n in int8.graph.nodes if "quantize_per_tensor" in str(n.target))
    x_scale, x_zero = quantize.args[1], quantize.args[2]
    assert x_scale == pytest.approx(calibration[0].max().item() / 255, rel=0.01) and x_zero == 0
    x = calibration[0][:4]
    x_hat = (((x / x_scale).round() + x_zero).clamp(0, 255) - x_zero) * x_scale
    expected = torch.nn.functional.conv2d(x_hat, w_hat, layer[0].bias.detach())
    torch.testing.assert_close(int8(x), expected, atol=1e-5, rtol=1e-5)


def test_quantize_refuses_an_empty_calibration_set():
    with pytest.raises(ConfigError, match="calibration"):
        quantize_ptq(torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3)), (1, 8, 8), [])


def test_qat_fine_tunes_and_keeps_the_accuracy(run_copy):
    result = quantize_run(run_copy, qat_epochs=1, limit=200)
    assert result.method == "qat"
    assert result.int8_accuracy >= result.fp32_accuracy - 0.03


@pytest.mark.slow
def test_frozen_compile_lowers_the_int8_program_onto_onednn_and_keeps_its_outputs():
    """``compile_frozen`` on an int8 program: torchao's freezing passes pre-pack the int8
    weights (the convolution becomes ``onednn.qconv_pointwise``) and the outputs stay those
    of the uncompiled program, to one activation quantization step."""
    from torch._dynamo.utils import counters

    from cnnlab.deploy.inference import compile_frozen
    from cnnlab.models import create_model

    torch.manual_seed(0)
    model = create_model("resnet20", num_classes=10).eval()
    int8 = quantize_ptq(model, (3, 32, 32), [torch.rand(16, 3, 32, 32)])
    x = torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    counters.clear()
    with torch.inference_mode():
        expected = int8(x)
        got = compile_frozen(int8)(x)
    assert counters["inductor"]["qconv_weight_prepack_matcher_count"] >= 19
    torch.testing.assert_close(got, expected, atol=0.05 * expected.abs().max().item(), rtol=0)
    assert (got.argmax(1) == expected.argmax(1)).float().mean() >= 0.75
