"""What ``explain`` and ``attack`` take: a run directory of a task they handle, not a program.

``explain`` and ``attack`` need the model's gradients, so an exported file (ONNX,
a ``.pt2`` program) and above all an int8 program (``cnnlab quantize``) are
refused with what to use instead; `run_task` reads the task of a run
directory so that each command can route it or name what works on it.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from cnnlab.errors import ConfigError
from cnnlab.runs import read_meta

PROGRAM_SUFFIXES = (".pt2", ".onnx")
PROGRAM_METADATA = "extra/cnnlab.json"  # cnnlab.deploy.export: extra file of a .pt2 archive
QUANTIZATION_KEY = "cnnlab.quantization"  # written by cnnlab.deploy.quantize


def is_int8_program(path: Path) -> bool:
    """Whether ``path`` is a ``.pt2`` archive that ``cnnlab quantize`` wrote (whatever its name)."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if n.endswith(PROGRAM_METADATA)]
            metadata = json.loads(archive.read(names[0])) if names else {}
    except (OSError, zipfile.BadZipFile, ValueError):
        return False
    return isinstance(metadata, dict) and QUANTIZATION_KEY in metadata


def run_task(path: str, command: str) -> str:
    """The task of the run directory ``path``; an exported or int8 model file is refused."""
    target = Path(path)
    if target.is_file() and target.suffix in PROGRAM_SUFFIXES:
        source = target.parent
        if target.suffix == ".pt2" and is_int8_program(target):
            raise ConfigError(
                f"{target} is an int8 model, and int8 models are for inference: their "
                f"quantized operations have no gradients, so `cnnlab {command}` cannot run on "
                f"them. {command.capitalize()} the fp32 run it was quantized from instead: "
                f"cnnlab {command} {source} ..."
            )
        raise ConfigError(
            f"{target} is an exported model, which is for inference (onnxruntime, "
            f"torch.export.load); `cnnlab {command}` needs the run directory it was exported "
            f"from: cnnlab {command} {source} ..."
        )
    return read_meta(path).get("task", "classification")
