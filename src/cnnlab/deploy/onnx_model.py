"""Predict with an exported ONNX file through onnxruntime, without the run directory.

The file's metadata (written by `cnnlab.deploy.export.export_run`) gives
the class names and input shape; the normalization is part of the graph, so
the input is images in [0, 1], as for ``load_run(path).model``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from cnnlab.deploy.optional import require
from cnnlab.errors import CheckpointError

METADATA_PREFIX = "cnnlab."


class OnnxClassifier:
    """An onnxruntime session over an exported classifier, with its classes and input shape."""

    def __init__(self, session, source: str):
        self.session = session
        self.source = source
        meta = session.get_modelmeta().custom_metadata_map
        values = {
            key[len(METADATA_PREFIX) :]: json.loads(value)
            for key, value in meta.items()
            if key.startswith(METADATA_PREFIX)
        }
        self.metadata = values
        self.input_name = session.get_inputs()[0].name
        self.classes: list[str] | None = values.get("classes")
        shape = values.get("input_shape")
        self.input_shape: tuple[int, int, int] | None = tuple(shape) if shape else None

    @classmethod
    def from_bytes(
        cls, data: bytes, threads: int | None = None, source: str = "<memory>"
    ) -> OnnxClassifier:
        """A session over a serialized ONNX model; ``threads`` sets onnxruntime's intra-op pool."""
        ort = require("onnxruntime")
        options = ort.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        # Without this its threads spin after each run, taking the cores from whatever runs
        # next in this process (the next engine of cnnlab bench, the caller's own code).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
            raise CheckpointError(f"{source} is not a readable ONNX model ({exc}).") from exc
        return cls(session, source)

    @classmethod
    def load(cls, path: str | os.PathLike, threads: int | None = None) -> OnnxClassifier:
        """Open an ``.onnx`` file written by ``cnnlab export``."""
        path = Path(path)
        if not path.is_file():
            raise CheckpointError(f"ONNX file {path} does not exist.")
        model = cls.from_bytes(path.read_bytes(), threads, source=str(path))
        if model.classes is None or model.input_shape is None:
            raise CheckpointError(
                f"{path} has no cnnlab metadata (class names, input shape); export it "
                "with cnnlab export RUN --format onnx."
            )
        task = model.metadata.get("task", "classification")
        if task != "classification":
            output = model.session.get_outputs()[0].name
            raise CheckpointError(
                f"{path} holds a {task} model; predicting from an ONNX file works for "
                f"classifiers. Run it with onnxruntime (input {model.input_name!r}: images in "
                f"[0, 1], N x {' x '.join(map(str, model.input_shape))}; output {output!r}), "
                "or predict from its run directory: cnnlab predict RUN IMAGE..."
            )
        return model

    def logits(self, images: torch.Tensor) -> torch.Tensor:
        """Logits for a batch of images in [0, 1] (N, C, H, W)."""
        array = images.detach().to(torch.float32).contiguous().numpy()
        return torch.from_numpy(self.session.run(None, {self.input_name: array})[0])

    def predict_proba(self, images: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
        """Softmax probabilities, as `cnnlab.runs.Run.predict_proba`."""
        outputs = [
            torch.softmax(self.logits(images[i : i + batch_size]), dim=1)
            for i in range(0, len(images), batch_size)
        ]
        return torch.cat(outputs) if outputs else torch.empty(0, len(self.classes or []))
