"""Int8 quantization of a run's model: post-training (PTQ) and quantization-aware (QAT).

The PT2E flow (Jacob et al. 2018, "Quantization and Training of Neural Networks
for Efficient Integer-Arithmetic-Only Inference"): the model is captured with
``torch.export``, observers are inserted where the quantizer says, the
calibration images set each tensor's range, and ``convert`` replaces every
annotated float tensor ``x`` by ``dequantize(quantize(x))`` with

    q = clamp(round(x / scale) + zero_point, q_min, q_max),   x̂ = (q − zero_point) · scale

(eq. 1 of the paper).  The quantizer is torchao's ``X86InductorQuantizer``:
int8 weights, symmetric per output channel; uint8 activations, affine per
tensor — the scheme oneDNN's int8 convolutions run, which inductor lowers the
quantize/dequantize pairs onto when the result is ``torch.compile``'d.

Why torchao: torch 2.14 no longer ships ``torch.ao.quantization.quantize_pt2e``;
the PT2E flow and the x86 quantizer are maintained in ``torchao.quantization.pt2e``
(the eager-mode ``torch.ao.quantization`` API is deprecated).  torchao is an
optional dependency (``pip install 'cnnlab[quantize]'``).

Quantization-aware training inserts the same quantize/dequantize pairs as
fake-quantization during training (straight-through gradient, Sec. 3 of the
paper) and fine-tunes a few epochs at a small learning rate before converting.
"""

from __future__ import annotations

import importlib
import io
import json
import os
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from cnnlab.data import make_loader
from cnnlab.deploy.export import PROGRAM_METADATA, dynamic_batch, example_input, model_metadata
from cnnlab.errors import ConfigError
from cnnlab.fileio import write_bytes
from cnnlab.runs import Run, fit_to_input, load_run, read_meta, update_metrics
from cnnlab.runs.sections import add_table

EXTRA = "quantize"
INT8_FILE = "model.int8.pt2"
SECTION = "Quantization"


def _pt2e() -> tuple[Any, Any]:
    """torchao's PT2E module and x86 quantizer module, or how to install them."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            flow = importlib.import_module("torchao.quantization.pt2e.quantize_pt2e")
            x86 = importlib.import_module(
                "torchao.quantization.pt2e.quantizer.x86_inductor_quantizer"
            )
    except ImportError as exc:
        raise ConfigError(
            "int8 quantization needs torchao (PT2E quantization moved out of torch): "
            f"pip install 'cnnlab[{EXTRA}]'."
        ) from exc
    return flow, x86


def _quantizer(x86: Any, *, qat: bool) -> Any:
    config = x86.get_default_x86_inductor_quantization_config(is_qat=qat)
    return x86.X86InductorQuantizer().set_global(config)


def _capture(model: nn.Module, input_shape: tuple[int, int, int]) -> torch.fx.GraphModule:
    return torch.export.export(
        model, (example_input(input_shape),), dynamic_shapes=dynamic_batch()
    ).module()


@torch.no_grad()
def quantize_ptq(
    model: nn.Module, input_shape: tuple[int, int, int], calibration: Iterable[torch.Tensor]
) -> torch.fx.GraphModule:
    """Post-training static int8 quantization of ``model`` (eval mode; ``model`` is unchanged).

    ``calibration`` yields batches of images in [0, 1] (a few hundred training
    images); the observers record their activations' ranges.
    """
    flow, x86 = _pt2e()
    prepared = flow.prepare_pt2e(_capture(model.eval(), input_shape), _quantizer(x86, qat=False))
    seen = 0
    for images in calibration:
        prepared(images)
        seen += len(images)
    if seen == 0:
        raise ConfigError(
            "int8 calibration needs at least one image; the calibration set is empty."
        )
    return _drop_unused_tensors(flow.convert_pt2e(prepared))


def quantize_qat(
    model: nn.Module,
    input_shape: tuple[int, int, int],
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    *,
    epochs: int,
    lr: float,
) -> torch.fx.GraphModule:
    """Quantization-aware fine-tuning for ``epochs`` passes over ``batches``, then int8.

    ``batches`` yields ``(images, labels)``; the loss is cross-entropy and the
    optimizer SGD with momentum 0.9 at ``lr`` (a small fraction of the run's
    peak rate: the weights only adapt to the rounding).  Batch norm keeps
    updating its statistics during the fine-tuning, as in training.
    """
    if epochs < 1:
        raise ConfigError(f"--qat-epochs must be >= 1, got {epochs}.")
    flow, x86 = _pt2e()
    prepared = flow.prepare_qat_pt2e(
        _capture(model.train(), input_shape), _quantizer(x86, qat=True)
    )
    optimizer = torch.optim.SGD(prepared.parameters(), lr=lr, momentum=0.9)
    for _ in range(epochs):
        for images, labels in batches:
            optimizer.zero_grad(set_to_none=True)
            nn.functional.cross_entropy(prepared(images), labels).backward()
            optimizer.step()
    model.eval()
    _move_to_eval(prepared)
    with torch.no_grad():
        return _drop_unused_tensors(flow.convert_pt2e(prepared))


def _move_to_eval(prepared: torch.fx.GraphModule) -> None:
    """Batch norm and dropout of an exported graph in inference mode (``.eval()`` has no effect)."""
    utils = importlib.import_module("torchao.quantization.pt2e")
    utils.move_exported_model_to_eval(prepared)


@dataclass
class QuantizeResult:
    """fp32 against int8 on a run's test split, and the file written."""

    path: Path
    method: str  # "ptq" or "qat"
    num_images: int
    fp32_accuracy: float
    int8_accuracy: float
    agreement: float  # fraction of test images with the same predicted class
    fp32_mb: float
    int8_mb: float
    int8_layers: int  # convolutions and linear layers whose weights are int8
    layers: int  # all convolutions and linear layers

    def as_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "num_images": self.num_images,
            "fp32_accuracy": self.fp32_accuracy,
            "int8_accuracy": self.int8_accuracy,
            "agreement": self.agreement,
            "fp32_mb": self.fp32_mb,
            "int8_mb": self.int8_mb,
            "int8_layers": self.int8_layers,
            "layers": self.layers,
            "file": self.path.name,
        }


def _images(run: Run, split: str, limit: int | None, batch_size: int = 128) -> Iterator[Any]:
    data = run.load_split(split, limit=limit)
    for images, labels in make_loader(data.images, batch_size, shuffle=False):
        yield fit_to_input(images, run.input_shape), data.class_map[labels]


@torch.no_grad()
def _predictions(model: nn.Module, batches: Iterable[Any]) -> tuple[torch.Tensor, torch.Tensor]:
    predicted, truth = [], []
    for images, labels in batches:
        predicted.append(model(images).argmax(1))
        truth.append(labels)
    return torch.cat(predicted), torch.cat(truth)


def count_int8_layers(module: torch.fx.GraphModule) -> tuple[int, int]:
    """``(layers with int8 weights, all conv/linear layers)`` of a converted graph.

    The quantizer leaves a layer in float where its pattern is not supported
    (e.g. a convolution fed by an operation it does not annotate)."""
    layers = [
        node
        for node in module.graph.nodes
        if node.op == "call_function" and str(node.target).startswith(("aten.conv", "aten.linear"))
    ]
    quantized = [
        node
        for node in layers
        if isinstance(node.args[1], torch.fx.Node)
        and "dequantize_per_channel" in str(node.args[1].target)
    ]
    return len(quantized), len(layers)


def load_int8_program(path: str | os.PathLike) -> torch.export.ExportedProgram:
    """Load a ``model.int8.pt2`` (importing torchao first registers its quantize operators)."""
    _pt2e()
    return torch.export.load(path)


def _drop_unused_tensors(module: torch.fx.GraphModule) -> torch.fx.GraphModule:
    """Delete the float weights that ``convert`` replaced by int8 copies (no node reads them)."""
    used = {node.target for node in module.graph.nodes if node.op == "get_attr"}
    tensors = [name for name, _ in (*module.named_parameters(), *module.named_buffers())]
    for name in tensors:
        if name not in used:
            owner, _, attribute = name.rpartition(".")
            delattr(module.get_submodule(owner), attribute)
    return module


def _program_bytes(module: torch.fx.GraphModule, run: Run) -> bytes:
    program = torch.export.export(
        module, (example_input(run.input_shape),), dynamic_shapes=dynamic_batch()
    )
    metadata = {**model_metadata(run), "cnnlab.quantization": json.dumps("int8 pt2e x86")}
    buffer = io.BytesIO()
    torch.export.save(program, buffer, extra_files={PROGRAM_METADATA: json.dumps(metadata)})
    return buffer.getvalue()


def quantize_run(
    run_dir: str | os.PathLike,
    *,
    calibration: int = 512,
    qat_epochs: int = 0,
    qat_lr: float | None = None,
    limit: int | None = None,
    out: str | os.PathLike | None = None,
) -> QuantizeResult:
    """Quantize the best weights of a classification run to int8 and compare with fp32.

    ``calibration`` training images calibrate PTQ; with ``qat_epochs`` > 0 the
    model is fine-tuned quantization-aware on the training split instead (at
    ``qat_lr``, default 1 % of the run's peak learning rate).  Both models are
    evaluated on the test split (``limit`` images at most); the int8 program is
    written to ``out`` (default ``RUN/model.int8.pt2``), the comparison to
    metrics.json (``quantization``) and the report's "Quantization" section.
    """
    run = load_run(run_dir)
    task = read_meta(run.path).get("task", "classification")
    if task != "classification":
        raise ConfigError(
            f"int8 quantization supports classification runs; {run.path} is a {task} run."
        )
    if calibration < 1:
        raise ConfigError(f"--calibration must be >= 1 image, got {calibration}.")
    if qat_epochs < 0:
        raise ConfigError(f"--qat-epochs must be >= 0 (0: post-training), got {qat_epochs}.")
    if limit is not None and limit < 1:
        raise ConfigError(f"--limit must be >= 1 test image, got {limit}.")
    torch.manual_seed(0)
    if qat_epochs > 0:
        lr = qat_lr if qat_lr is not None else 0.01 * float(run.config.get("lr", 0.01))
        train = list(_images(run, "train", None, batch_size=int(run.config.get("batch_size", 64))))
        int8 = quantize_qat(run.model, run.input_shape, train, epochs=qat_epochs, lr=lr)
        run = load_run(run_dir)  # QAT trained a copy's graph; the fp32 baseline is the run's own
    else:
        calibrate = (images for images, _ in _images(run, "train", calibration))
        int8 = quantize_ptq(run.model, run.input_shape, calibrate)
    test = list(_images(run, "test", limit))
    fp32_pred, truth = _predictions(run.model, test)
    int8_pred, _ = _predictions(int8, test)
    path = Path(out) if out is not None else run.path / INT8_FILE
    write_bytes(path, _program_bytes(int8, run))
    weights = sum(t.numel() * t.element_size() for t in run.model.state_dict().values())
    int8_layers, layers = count_int8_layers(int8)
    result = QuantizeResult(
        path=path,
        method="qat" if qat_epochs > 0 else "ptq",
        num_images=len(truth),
        fp32_accuracy=(fp32_pred == truth).float().mean().item(),
        int8_accuracy=(int8_pred == truth).float().mean().item(),
        agreement=(fp32_pred == int8_pred).float().mean().item(),
        fp32_mb=weights / 1e6,
        int8_mb=path.stat().st_size / 1e6,
        int8_layers=int8_layers,
        layers=layers,
    )
    _record(run.path, result)
    return result


def _record(run_dir: Path, result: QuantizeResult) -> None:
    update_metrics(run_dir, ["quantization"], result.as_dict())
    add_table(
        run_dir,
        SECTION,
        "int8",
        ["model", "test accuracy", "size (MB)"],
        [
            ["fp32", round(result.fp32_accuracy, 4), round(result.fp32_mb, 3)],
            [f"int8 ({result.method})", round(result.int8_accuracy, 4), round(result.int8_mb, 3)],
        ],
        caption=(
            f"Int8 (PT2E, x86 quantizer) against fp32 on {result.num_images} test images; "
            f"the two predict the same class for {100 * result.agreement:.1f} % of them; "
            f"{result.int8_layers} of {result.layers} convolutions and linear layers run in int8. "
            "fp32 size counts the weights, int8 size the exported program file."
        ),
    )


__all__ = [
    "INT8_FILE",
    "QuantizeResult",
    "count_int8_layers",
    "load_int8_program",
    "quantize_ptq",
    "quantize_qat",
    "quantize_run",
]
