"""Checkpoints as safetensors: weights, optimizer, scheduler and RNG state.

Nothing is ever unpickled.  A state (any nesting of dicts, lists, tensors and
JSON scalars, such as ``optimizer.state_dict()``) is split into its tensors,
stored by path in a safetensors file, and a JSON skeleton stored in the file's
metadata under ``"cnnlab"``, in which each tensor is replaced by a reference
``{"__tensor__": "path"}``.  Writes are atomic; `load_state` turns
truncated or tampered files into `CheckpointError`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from cnnlab.errors import CheckpointError
from cnnlab.fileio import atomic_path, sha256_file

_TENSOR = "__tensor__"
_INT_KEYS = "__int_keys__"


def _split(obj: Any, path: str, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, torch.Tensor):
        tensors[path] = obj.detach().to("cpu").contiguous().clone()
        return {_TENSOR: path}
    if isinstance(obj, dict):
        int_keys = all(isinstance(k, int) for k in obj) and bool(obj)
        out = {str(k): _split(v, f"{path}.{k}", tensors) for k, v in obj.items()}
        if int_keys:
            out[_INT_KEYS] = True
        return out
    if isinstance(obj, (list, tuple)):
        return [_split(v, f"{path}.{i}", tensors) for i, v in enumerate(obj)]
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot store a {type(obj).__name__} at {path!r} in a checkpoint")


def _join(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """The state of a skeleton; ``KeyError``/``ValueError`` for a reference or key it lacks."""
    if isinstance(obj, dict):
        if _TENSOR in obj:
            ref = obj[_TENSOR]
            if not isinstance(ref, str) or ref not in tensors:
                raise KeyError(ref)
            return tensors[ref]
        int_keys = obj.pop(_INT_KEYS, False)
        return {(int(k) if int_keys else k): _join(v, tensors) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_join(v, tensors) for v in obj]
    return obj


MAX_SKELETON_DEPTH = 64
"""The deepest nesting a checkpoint's JSON skeleton may have (PyTorch states nest 4-5 deep)."""


def _depth(text: str) -> int:
    """The deepest bracket nesting of the JSON ``text`` (brackets inside strings counted too)."""
    depth = deepest = 0
    for char in text:
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def save_state(path: str | os.PathLike, state: dict[str, Any]) -> str:
    """Write ``state`` atomically to ``path``; return the file's sha256."""
    tensors: dict[str, torch.Tensor] = {}
    skeleton = _split(state, "s", tensors)
    payload = st_save(tensors, metadata={"cnnlab": json.dumps(skeleton)})
    with atomic_path(path) as tmp:
        tmp.write_bytes(payload)
    return sha256_file(path)


def load_state(path: str | os.PathLike, expected_sha256: str | None = None) -> dict[str, Any]:
    """Read a state written by `save_state`, optionally verifying its sha256."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"Checkpoint {path} does not exist.")
    if expected_sha256 is not None and sha256_file(path) != expected_sha256:
        raise CheckpointError(
            f"Checkpoint {path} does not match the sha256 recorded in meta.json: the file was "
            "modified or truncated after it was written. Re-train, or restore the file."
        )
    data = path.read_bytes()
    try:
        tensors = st_load(data)
        header_len = int.from_bytes(data[:8], "little")
        text = json.loads(data[8 : 8 + header_len])["__metadata__"]["cnnlab"]
        if _depth(text) > MAX_SKELETON_DEPTH:  # json.loads would recurse without bound
            raise ValueError(f"its skeleton nests deeper than {MAX_SKELETON_DEPTH} levels")
        skeleton = json.loads(text)
        if not isinstance(skeleton, dict):
            raise TypeError(f"its skeleton is a {type(skeleton).__name__}, not a mapping")
        return _join(skeleton, tensors)
    except (SafetensorError, ValueError, KeyError, TypeError, RecursionError) as exc:
        detail = f"no tensor {exc}" if isinstance(exc, KeyError) else str(exc)
        raise CheckpointError(
            f"Checkpoint {path} is not a valid cnnlab safetensors file ({detail}). It may be "
            "truncated or corrupt; re-train or restore it from a backup."
        ) from exc


def save_weights(path: str | os.PathLike, model: torch.nn.Module) -> str:
    """Write a model's state dict as plain safetensors (loadable by any tool)."""
    tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in model.state_dict().items()}
    payload = st_save(tensors, metadata={"format": "pt"})
    with atomic_path(path) as tmp:
        tmp.write_bytes(payload)
    return sha256_file(path)


def load_weights(
    path: str | os.PathLike, expected_sha256: str | None = None
) -> dict[str, torch.Tensor]:
    """Read a state dict written by `save_weights`."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"Weights file {path} does not exist.")
    if expected_sha256 is not None and sha256_file(path) != expected_sha256:
        raise CheckpointError(
            f"Weights file {path} does not match the sha256 recorded in meta.json: it was "
            "modified or truncated after training. Re-train, or restore the file."
        )
    try:
        weights = st_load(path.read_bytes())
    except (SafetensorError, ValueError) as exc:
        raise CheckpointError(
            f"Weights file {path} is not a valid safetensors file ({exc}); it may be truncated."
        ) from exc
    broken = [k for k, v in weights.items() if v.is_floating_point() and not v.isfinite().all()]
    if broken:  # a model with them predicts "nan" for every class
        raise CheckpointError(
            f"Weights file {path} holds NaN or infinite values (in {', '.join(broken[:3])}): "
            "training diverged before they were saved, or the file was altered. Re-train, "
            "e.g. with a lower --lr."
        )
    return weights
