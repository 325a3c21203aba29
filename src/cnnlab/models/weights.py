"""Loading pretrained weights, torchvision's included, into cnnlab models.

cnnlab models name their layers after the structure of the network
(``features`` then ``head``, blocks built from `ConvNormAct`),
not after torchvision's attribute names.  A family that has a torchvision
counterpart declares how the names correspond as a class attribute:

    torchvision_keys = ((r"^conv1\\.", "features.stem.conv."), (r"^fc\\.", "head.fc."), ...)

an ordered table of ``(pattern, replacement)`` regular expressions; the first
pattern that matches a torchvision key rewrites it (`re.sub`).  Keys that
no pattern matches are kept as they are.

Two mismatches are adapted instead of refused, as a user expects when
fine-tuning (Yosinski et al. 2014, "How transferable are features in deep
neural networks?"):

* a different number of classes: the tensors of the output layer keep the
  model's fresh initialisation and are listed in the `LoadReport`;
* a different number of input channels: the first convolution's filters are
  repeated and rescaled by 3 / ``in_chans`` when ``in_chans`` is a multiple of
  3 (keeping the colour filters), and otherwise replaced on every channel by
  their sum over the RGB planes divided by ``in_chans`` (for one channel: the
  plain sum).  Either way the response to a grey image is unchanged.

Files are read with ``torch.load(weights_only=True)`` (no unpickling of code)
or as safetensors.
"""

from __future__ import annotations

import os
import pickle
import re
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn

from cnnlab.errors import CheckpointError

StateDict = dict[str, torch.Tensor]


@dataclass
class LoadReport:
    """What `load_torchvision_weights` did besides copying tensors."""

    reinitialized: list[str] = field(default_factory=list)  # head tensors left at their init
    adapted: list[str] = field(default_factory=list)  # first-conv filters summed or repeated

    def __str__(self) -> str:
        parts = []
        if self.reinitialized:
            parts.append(f"re-initialised for the new classes: {', '.join(self.reinitialized)}")
        if self.adapted:
            parts.append(f"adapted to the new input channels: {', '.join(self.adapted)}")
        return "; ".join(parts) or "all tensors loaded as they are"


def read_state_dict(path: str | os.PathLike) -> StateDict:
    """Tensors of a ``.pth``/``.pt`` (``weights_only``) or ``.safetensors`` file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"Weights file {path} does not exist. Pass the path of a .pth file.")
    try:
        if path.suffix == ".safetensors":
            return load_file(path)
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (SafetensorError, pickle.UnpicklingError, RuntimeError, OSError, EOFError) as exc:
        raise CheckpointError(
            f"Cannot read weights from {path} ({exc}). The file must be a state dict saved with "
            "torch.save(model.state_dict(), path) or a safetensors file."
        ) from exc
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path} does not hold a state dict (a mapping of names to tensors).")
    return state


def rename_keys(state: StateDict, rules: tuple[tuple[str, str], ...]) -> StateDict:
    """Rewrite each key with the first matching ``(pattern, replacement)`` rule."""
    compiled = [(re.compile(pattern), replacement) for pattern, replacement in rules]
    renamed: StateDict = {}
    for key, tensor in state.items():
        new_key = next((p.sub(r, key, count=1) for p, r in compiled if p.search(key)), key)
        renamed[new_key] = tensor
    return renamed


def load_torchvision_weights(model: nn.Module, state_dict: StateDict) -> LoadReport:
    """Load a torchvision (or cnnlab) state dict into ``model``.

    Parameters
    ----------
    model : nn.Module
        A cnnlab model; its ``torchvision_keys`` attribute, if any, maps the names.
    state_dict : dict of str to Tensor

    Returns
    -------
    LoadReport
        Which tensors were re-initialised (new head) or adapted (input channels).

    Raises
    ------
    CheckpointError
        Tensors are missing, unexpected or of a shape that cannot be adapted.
    """
    own = model.state_dict()
    if not set(state_dict) <= set(own):
        state_dict = rename_keys(state_dict, getattr(model, "torchvision_keys", ()))
    report = LoadReport()
    first_conv = next((k for k, v in own.items() if v.ndim == 4), None)
    head = _head_keys(model)
    loaded: StateDict = {}
    for key, tensor in state_dict.items():
        if key not in own:
            continue
        target = own[key]
        if tensor.shape == target.shape:
            loaded[key] = tensor
        elif key == first_conv and _same_but_channels(tensor, target):
            loaded[key] = _adapt_input_channels(tensor, target.shape[1])
            report.adapted.append(key)
        elif key in head and tensor.shape[1:] == target.shape[1:]:
            report.reinitialized.append(key)
        else:
            raise CheckpointError(
                f"Tensor {key} has shape {tuple(tensor.shape)} in the weights but "
                f"{tuple(target.shape)} in the model. The weights are for another variant: "
                "build the model with the options they were trained with."
            )
    unexpected = sorted(set(state_dict) - set(own))
    missing = sorted(set(own) - set(loaded) - set(report.reinitialized))
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if unexpected or missing:
        raise CheckpointError(
            "The weights do not match the model's layers: "
            f"{len(missing)} missing ({_first_few(missing)}), "
            f"{len(unexpected)} unexpected ({_first_few(unexpected)}). "
            "Check that the file is for this architecture."
        )
    model.load_state_dict(loaded, strict=False)
    return report


def _first_few(keys: list[str], n: int = 5) -> str:
    return ", ".join(keys[:n]) + (" ..." if len(keys) > n else "")


def _head_keys(model: nn.Module) -> set[str]:
    """Keys of the layers that may output class scores: every linear layer (main and
    auxiliary classifiers) and the last convolution (all-convolutional heads)."""
    names = [n for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    convs = [n for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    names += convs[-1:]
    return {f"{n}.{t}" if n else t for n in names for t in ("weight", "bias")}


def _same_but_channels(source: torch.Tensor, target: torch.Tensor) -> bool:
    return source.shape[0] == target.shape[0] and source.shape[2:] == target.shape[2:]


def _adapt_input_channels(weight: torch.Tensor, in_chans: int) -> torch.Tensor:
    """Filters for ``in_chans`` planes that respond to a grey image as before."""
    source_chans = weight.shape[1]
    if in_chans % source_chans == 0:
        return weight.repeat(1, in_chans // source_chans, 1, 1) * (source_chans / in_chans)
    grey = weight.sum(dim=1, keepdim=True) / in_chans
    return grey.expand(-1, in_chans, -1, -1).clone()
