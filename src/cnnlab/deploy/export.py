"""Export a run's model: ONNX (validated with onnxruntime) and ``torch.export`` programs.

Both formats take images in [0, 1] of the run's input shape with any batch
size: the run's normalization is the first module of its model, so it is part
of the exported graph.  The file also carries the class names, the input shape
and the normalization as metadata (ONNX ``metadata_props``; a ``cnnlab.json``
entry of the ``.pt2`` archive), so that ``cnnlab predict model.onnx img.png``
needs no run directory.

ONNX goes through ``torch.onnx.export(..., dynamo=True)`` (the ``torch.export``
based exporter) and is checked with onnxruntime on a sample of the run's test
split: logits within ``atol`` of PyTorch's and identical predictions.

Every task whose model returns one tensor exports (`OUTPUTS` names it):
classification and segmentation (``logits``; segmentation's predictions are
compared pixel by pixel), reconstruction (``restored`` images) and embedding
runs (``embeddings``; unit vectors, compared within ``atol``).  A detector
returns boxes through data-dependent post-processing (NMS) and is refused.
"""

from __future__ import annotations

import io
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from cnnlab.data import make_loader
from cnnlab.data.splits import spread_subset
from cnnlab.deploy.optional import require
from cnnlab.errors import CnnlabError, ConfigError, check_choice
from cnnlab.fileio import write_bytes
from cnnlab.nn.norm import Normalize
from cnnlab.runs import Run, fit_to_input, load_run, read_meta
from cnnlab.tasks.embedding_run import EmbeddingRun, load_embedding_run

FORMATS = ("onnx", "exported-program")
#: The ONNX output of each exported task; whether predictions (arg-max over dim 1) are compared.
OUTPUTS = {
    "classification": ("logits", True),
    "segmentation": ("logits", True),
    "autoencoder": ("restored", False),
    "denoise": ("restored", False),
    "noise2void": ("restored", False),
    "embedding": ("embeddings", False),
}
SUFFIXES = {"onnx": ".onnx", "exported-program": ".pt2"}
METADATA_PREFIX = "cnnlab."
PROGRAM_METADATA = "cnnlab.json"
ONNX_OPSET = 18


class ExportError(CnnlabError):
    """A model that cannot be exported (an operation without a translation) or that disagrees."""


@dataclass
class ExportResult:
    """What `export_run` wrote and how the export compared with PyTorch."""

    path: Path
    format: str
    num_images: int = 0
    max_abs_diff: float = 0.0
    same_predictions: bool | None = True  # None: the task has no predictions to compare
    metadata: dict[str, str] = field(default_factory=dict)


def model_metadata(run: Run) -> dict[str, str]:
    """Task, class names, input shape and preprocessing of ``run`` as string key/value pairs."""
    normalize = _normalize_of(run.model)
    values: dict[str, Any] = {
        "task": run.meta.get("task", "classification"),
        "classes": run.meta["classes"],
        "input_shape": list(run.input_shape),
        "input_range": [0.0, 1.0],
        "model": run.meta.get("model"),
        "model_kwargs": run.meta.get("model_kwargs", {}),
    }
    if normalize is not None:
        values["mean"] = normalize.mean.flatten().tolist()
        values["std"] = normalize.std.flatten().tolist()
        values["preprocessing"] = (
            "images in [0, 1], NCHW float32; (x - mean) / std is part of the graph"
        )
    return {METADATA_PREFIX + key: json.dumps(value) for key, value in values.items()}


def _normalize_of(model: nn.Module) -> Normalize | None:
    return next((m for m in model.modules() if isinstance(m, Normalize)), None)


def example_input(input_shape: tuple[int, int, int], batch: int = 2) -> torch.Tensor:
    """A fixed random batch of images in [0, 1] to trace with."""
    return torch.rand(batch, *input_shape, generator=torch.Generator().manual_seed(0))


def dynamic_batch() -> tuple[dict[int, Any]]:
    """``dynamic_shapes`` of a one-input model: any batch size."""
    return ({0: torch.export.Dim("batch", min=1, max=4096)},)


def _failure(what: str, exc: Exception) -> ExportError:
    """An `ExportError` naming the operation the exporter stopped at, where it says."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))
    ops = re.findall(r"\b(?:aten|prims)\.[A-Za-z_]\w*", text)
    # The ONNX exporter puts the cause after "## Exception summary" as "<class ...>: message".
    causes = re.findall(r"^<class '[\w.]+'>: (.+)$", text, flags=re.MULTILINE)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    cause = causes[0] if causes else (lines[0] if lines else type(exc).__name__)
    operation = f"operation {ops[0]}" if ops else "an operation"
    return ExportError(
        f"Cannot export the model to {what}: {operation} could not be translated "
        f"({cause[:300]}). Export another model, or run it with PyTorch "
        "(cnnlab predict RUN ...)."
    )


def export_program(
    model: nn.Module, input_shape: tuple[int, int, int]
) -> torch.export.ExportedProgram:
    """``torch.export`` of ``model`` (eval mode) for images of ``input_shape``, any batch size."""
    try:
        return torch.export.export(
            model.eval(), (example_input(input_shape),), dynamic_shapes=dynamic_batch()
        )
    except Exception as exc:  # torch.export raises many types; each is a failed trace
        raise _failure("a torch.export program", exc) from exc


def export_onnx(
    model: nn.Module,
    input_shape: tuple[int, int, int],
    metadata: dict[str, str] | None = None,
    output_name: str = "logits",
) -> bytes:
    """The ONNX model (serialized) of ``model`` for images of ``input_shape``, any batch size."""
    for module in ("onnx", "onnxscript"):
        require(module)
    try:
        program = torch.onnx.export(
            model.eval(),
            (example_input(input_shape),),
            input_names=["images"],
            output_names=[output_name],
            dynamic_shapes=dynamic_batch(),
            opset_version=ONNX_OPSET,
            dynamo=True,
            verbose=False,
            report=False,
        )
    except Exception as exc:  # the exporter wraps torch.export and translation errors
        raise _failure("ONNX", exc) from exc
    proto = program.model_proto
    for key, value in (metadata or {}).items():
        proto.metadata_props.add(key=key, value=value)
    return proto.SerializeToString()


def _sample(run: Run | EmbeddingRun, limit: int) -> torch.Tensor:
    if isinstance(run, EmbeddingRun):  # the held-out identities' test images
        test = run.load_data().test
        images = test.subset(spread_subset(len(test), limit))
    else:
        images = run.load_split("test", limit=limit).images
    batches = [fit_to_input(x, run.input_shape) for x, _ in make_loader(images, 256, shuffle=False)]
    return torch.cat(batches)


def _load(run_dir: str | os.PathLike) -> tuple[Run | EmbeddingRun, str]:
    """The run and its task; a task whose model does not return one tensor is refused."""
    task = read_meta(run_dir).get("task", "classification")
    if task not in OUTPUTS:
        raise ConfigError(
            f"{run_dir} was trained with --task {task}, whose model returns boxes through "
            "data-dependent post-processing (non-maximum suppression), so it is not exported. "
            f"Run it with PyTorch: cnnlab predict {run_dir} IMAGE..."
        )
    run = load_embedding_run(run_dir) if task == "embedding" else load_run(run_dir)
    return run, task


def export_run(
    run_dir: str | os.PathLike,
    format: str = "onnx",
    out: str | os.PathLike | None = None,
    *,
    limit: int = 256,
    atol: float = 1e-4,
    threads: int | None = None,
) -> ExportResult:
    """Export the model of ``run_dir`` and check it on up to ``limit`` test images.

    ``out`` defaults to ``model.onnx`` / ``model.pt2`` in the run directory.  An
    export whose logits differ by more than ``atol`` or whose predicted classes
    differ from PyTorch's is an `ExportError` (and no file is written).
    """
    if format == "torchscript":
        raise ConfigError(
            "TorchScript export is not offered: torch 2.14 deprecates torch.jit.save and "
            "torch.jit.load in favour of torch.export. Use --format exported-program (a .pt2 "
            "file that torch.export.load reads) or --format onnx."
        )
    check_choice("export format", format, FORMATS)
    run, task = _load(run_dir)
    output, predictions = OUTPUTS[task]
    path = Path(out) if out is not None else run.path / ("model" + SUFFIXES[format])
    metadata = model_metadata(run)
    images = _sample(run, limit)
    with torch.inference_mode():
        expected = run.model.eval()(images)
    if format == "onnx":
        from cnnlab.deploy.onnx_model import OnnxClassifier

        data = export_onnx(run.model, run.input_shape, metadata, output)
        got = OnnxClassifier.from_bytes(data, threads=threads).logits(images)
    else:
        program = export_program(run.model, run.input_shape)
        got = program.module()(images).detach()
        data = _save_program(program, metadata)
    result = _compare(path, format, expected, got, atol, predictions)
    write_bytes(path, data)
    result.metadata = metadata
    return result


def _same_predictions(expected: torch.Tensor, got: torch.Tensor, atol: float) -> bool:
    if expected.shape[1] < 2:
        return True
    top = expected.topk(2, dim=1).values
    decided = (top[:, 0] - top[:, 1]) > 2 * atol
    return bool(torch.equal(got.argmax(1)[decided], expected.argmax(1)[decided]))


def _save_program(program: torch.export.ExportedProgram, metadata: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    torch.export.save(program, buffer, extra_files={PROGRAM_METADATA: json.dumps(metadata)})
    return buffer.getvalue()


def _compare(
    path: Path,
    format: str,
    expected: torch.Tensor,
    got: torch.Tensor,
    atol: float,
    predictions: bool = True,
) -> ExportResult:
    """Outputs within ``atol``; with ``predictions``, the same arg-max over dim 1 (the class
    of each image, or of each pixel of a segmentation map) wherever PyTorch's two highest
    outputs are more than 2·atol apart: closer ones are ties within the tolerance (an
    untrained segmentation net has pixels with exactly tied scores)."""
    diff = (got - expected).abs().max().item() if len(expected) else 0.0
    same = not predictions or _same_predictions(expected, got, atol)
    if diff > atol or not same:
        raise ExportError(
            f"The {format} export disagrees with PyTorch on the run's test images: largest "
            f"output difference {diff:.3g} (allowed {atol:g}), predictions "
            f"{'identical' if same else 'differ'}. The file was not written."
        )
    return ExportResult(path, format, len(expected), diff, same if predictions else None)


__all__ = [
    "FORMATS",
    "ExportError",
    "ExportResult",
    "export_onnx",
    "export_program",
    "export_run",
    "model_metadata",
]
