"""Transfer learning: start from a trained run, freeze by layer groups, discriminative rates.

The lecture's three regimes (after Yosinski, Clune, Bengio & Lipson 2014, "How
transferable are features in deep neural networks?", and Razavian et al. 2014):

* ``freeze="features"`` — feature extractor: the pretrained network is fixed
  and only the new head is trained (little data, similar task);
* ``freeze="partial"`` — fine-tuning: the last block of ``features`` and the
  head are trained, earlier blocks stay fixed;
* ``freeze="none"`` — full retraining from the pretrained weights.

Discriminative learning rates (Howard & Ruder 2018, "Universal language model
fine-tuning", Sec. 3.2): block k from the top gets ``lr / lr_decay**k``, so that
early, general features move less than late, task-specific ones.

A cnnlab classifier is ``Sequential(normalize, net)`` with ``net.features``
(whose children are the blocks) and ``net.head``.  Batch-norm layers in frozen
blocks are kept in eval mode while training, so their running statistics stay
those of the pretrained data.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from cnnlab import runs
from cnnlab.errors import CheckpointError, ConfigError, check_choice
from cnnlab.models.pretrained import find_weights_file, is_weights_name, pretrained_weights
from cnnlab.models.registry import model_info
from cnnlab.models.weights import LoadReport, load_torchvision_weights, read_state_dict
from cnnlab.train.config import FREEZE_MODES


def load_pretrained(
    model: nn.Module,
    source: str | os.PathLike,
    keep_normalization: bool = False,
    model_name: str | None = None,
) -> LoadReport:
    """Load the network weights of a run directory (its best weights), a weights file,
    or torchvision's weights of ``model_name`` by name (``"DEFAULT"``, ``"IMAGENET1K_V1"``:
    the local file `cnnlab.models.pretrained` finds, nothing is downloaded).

    The head is re-initialised when the number of classes differs and the first
    convolution adapted when the number of channels does.  The input
    normalization of ``model`` (fitted to the new data) is kept, unless
    ``keep_normalization``: then the source's mean and std (a run's, or the
    named weights' preprocessing, ImageNet's) replace it where their shapes
    fit, so that frozen features see inputs scaled as in their training
    (re-fitting it would shift every input the frozen layers see).
    """
    named = None
    if is_weights_name(source):
        named = pretrained_weights(str(model_name), model_info(str(model_name)).torchvision, source)
        source = find_weights_file(named)
        state = dict(read_state_dict(source))
        for key, values in (("mean", named.preprocessing.mean), ("std", named.preprocessing.std)):
            state[f"normalize.{key}"] = torch.tensor(values).view(-1, 1, 1)  # Normalize's shape
    elif Path(source).is_dir():
        source = Path(source)
        meta = runs.read_meta(source)
        state = runs.load_best(source, meta)
    else:
        source = Path(source)
        state = read_state_dict(source)
    net_state = {
        k.removeprefix("net."): v for k, v in state.items() if not k.startswith("normalize.")
    }
    if keep_normalization:
        _keep_normalization(model, state)
    try:
        return load_torchvision_weights(_net(model), net_state)
    except CheckpointError as exc:
        advice = (
            "torchvision's weights are for its ImageNet architecture, and on images of at "
            "most 64 pixels cnnlab builds the CIFAR stem: add --model-arg stem=imagenet."
            if named
            else "Fine-tune with the same --model (and --model-arg) the pretrained run used."
        )
        raise CheckpointError(
            f"The pretrained weights in {source} do not fit this model: {exc} {advice}"
        ) from exc


def _keep_normalization(model: nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Copy the source's ``normalize.mean``/``normalize.std`` into ``model`` where shapes fit."""
    normalize = getattr(model, "normalize", None)
    for name in ("mean", "std"):
        source = state.get(f"normalize.{name}")
        target = getattr(normalize, name, None)
        if source is not None and target is not None and source.shape == target.shape:
            target.copy_(source)


def _net(model: nn.Module) -> nn.Module:
    return model.net if hasattr(model, "net") else model


def blocks(model: nn.Module) -> list[nn.Module]:
    """The children of ``features`` that have parameters, from input to output."""
    net = _net(model)
    if not hasattr(net, "features") or not hasattr(net, "head"):
        raise ConfigError(
            f"{type(net).__name__} has no features/head split; freezing by layer groups needs "
            "a cnnlab model (create_model)."
        )
    return [child for child in net.features.children() if any(True for _ in child.parameters())]


def freeze(model: nn.Module, mode: str) -> list[nn.Module]:
    """Set ``requires_grad`` for ``mode``; return the frozen blocks (to keep in eval mode)."""
    check_choice("freeze mode", mode, FREEZE_MODES)
    feature_blocks = blocks(model)
    frozen = {"none": [], "partial": feature_blocks[:-1], "features": feature_blocks}[mode]
    for parameter in model.parameters():
        parameter.requires_grad_(True)
    for block in frozen:
        block.requires_grad_(False)
    return frozen


def keep_frozen_in_eval(frozen: list[nn.Module]) -> None:
    """Batch norms of frozen blocks keep their statistics: call after ``model.train()``."""
    for block in frozen:
        block.eval()


def discriminative_param_groups(model: nn.Module, lr: float, lr_decay: float = 1.0) -> list[dict]:
    """Optimizer parameter groups: the head at ``lr``, block k from the top at lr / decay**k.

    Frozen parameters are left out.  Parameters outside ``features`` and
    ``head`` (none in cnnlab models) join the head's group.
    """
    if lr_decay < 1.0:
        raise ConfigError(f"lr_decay must be >= 1 (1: one rate for all), got {lr_decay}.")
    feature_blocks = blocks(model)
    groups: list[dict] = []
    seen: set[int] = set()
    for depth, block in enumerate(reversed(feature_blocks), start=1):
        params = [p for p in block.parameters() if p.requires_grad]
        seen.update(id(p) for p in block.parameters())
        if params:
            groups.append({"params": params, "lr": lr / lr_decay**depth})
    rest = [p for p in model.parameters() if id(p) not in seen and p.requires_grad]
    groups.insert(0, {"params": rest, "lr": lr})
    return [g for g in groups if g["params"]]


def trainable_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


@torch.no_grad()
def reset_head(model: nn.Module) -> None:
    """Re-initialise every layer of the head (PyTorch's default initialisation)."""
    for module in _net(model).head.modules():
        if hasattr(module, "reset_parameters"):
            module.reset_parameters()
