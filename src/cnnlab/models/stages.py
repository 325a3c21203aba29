r"""The stages of a network: where its feature maps change resolution.

A stage ends with the last module that produces maps at a given *reduction*
(stride with respect to the input), as in timm's ``feature_info`` (Wightman,
"PyTorch Image Models", ``timm.models.FeatureInfo``) and the feature pyramid
of Lin et al. (2017), "Feature pyramid networks for object detection",
Sec. 3: "we choose the output of the last layer of each stage".  Stage 0 is
the first resolution the trunk produces (the stem's output for an ImageNet
network, the first full-resolution stage for a CIFAR one).

The stages are found, not declared per family.  The trunk (``model.features``;
the whole model when ``features`` is a method, as in U-Net, or absent) runs
with its weights swapped for ``meta`` tensors (shapes only: no memory, no
arithmetic) on inputs of sides `L_1 = 2^{15}` and `L_2 = 2^{16}`,
with a hook on every module of its chain (the children of nested
``nn.Sequential``/``nn.ModuleList`` containers, whose outputs are the maps
passed along).  A module whose outputs have sides `o_1, o_2` has reduction

    r = round((L_2 - L_1) / (o_2 - o_1)),

exact because `o = L/r - c` with a border `c` (padding, unpadded
convolutions) that does not depend on `L`.  Normalization layers keep
the shape, so the pass skips their (slow, decomposed) meta arithmetic.  The chain is read until the
resolution stops following the input (a flattening, an adaptive pooling) or
shrinking (a decoder).
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call
from torch.overrides import TorchFunctionMode

from cnnlab.errors import CnnlabError, ConfigError
from cnnlab.nn.hooks import hooks

#: Input sides of the two meta-device passes (their difference is a multiple of every stride).
SIDES = (2**15, 2**16)


@dataclass(frozen=True)
class Stage:
    """One stage: the ``module`` whose output ends it, its channels and its reduction."""

    module: str
    num_chs: int
    reduction: int


class FeatureInfo:
    """What ``features_only`` models return, one entry per returned map (timm's interface).

    ``info[i]`` is a dict with ``num_chs``, ``reduction``, ``module`` and
    ``index`` (the stage's number among all stages of the network).
    """

    def __init__(self, stages: Sequence[Stage], out_indices: Sequence[int]):
        self.info = [
            {"num_chs": s.num_chs, "reduction": s.reduction, "module": s.module, "index": i}
            for i, s in ((i, stages[i]) for i in out_indices)
        ]

    def channels(self) -> list[int]:
        """Channels of each returned map."""
        return [entry["num_chs"] for entry in self.info]

    def reduction(self) -> list[int]:
        """Stride of each returned map with respect to the input."""
        return [entry["reduction"] for entry in self.info]

    def module_name(self) -> list[str]:
        """Name (in the full model's ``named_modules()``) of the module each map comes from."""
        return [entry["module"] for entry in self.info]

    def __getitem__(self, item: int) -> dict:
        return self.info[item]

    def __len__(self) -> int:
        return len(self.info)

    def __iter__(self) -> Iterator[dict]:
        return iter(self.info)

    def __repr__(self) -> str:
        return f"FeatureInfo({self.info})"


def find_stages(model: nn.Module, in_chans: int) -> list[Stage]:
    """The stages of ``model`` for inputs of ``in_chans`` channels.

    Raises
    ------
    ConfigError
        The trunk produces no feature maps (a multilayer perceptron).
    """
    trunk = trunk_of(model)
    chain = list(_chain(model, trunk))
    small, large = (_trace(model, trunk, chain, in_chans, side) for side in SIDES)
    calls = Counter(name for name, _, _ in small)
    maps: list[tuple[str, int, int]] = []  # (name, channels, reduction) along the trunk
    for (name, chs, side_small), (_, _, side_large) in zip(small, large, strict=False):
        if side_large <= side_small:  # the maps no longer follow the input: the trunk ends
            break
        reduction = round((SIDES[1] - SIDES[0]) / (side_large - side_small))
        if maps and reduction < maps[-1][2]:  # a decoder: the trunk ends
            break
        maps.append((name, chs, reduction))
    modules = dict(model.named_modules())
    units = [_unit(modules, name) for name, _, _ in maps]
    stages = []
    for i, (_, _, reduction) in enumerate(maps):
        if i + 1 < len(maps) and maps[i + 1][2] == reduction:
            continue
        if i + 1 < len(maps) and units[i + 1] == units[i]:
            # the next stage's block starts at this resolution (ConvNeXt's downsampling
            # layer norm): the stage ends with the block before it
            before = units.index(units[i]) - 1
            if before >= 0 and maps[before][2] == reduction:
                i = before
        while calls[maps[i][0]] > 1 and i > 0 and maps[i - 1][2] == reduction:
            i -= 1  # a module run several times (U-Net's shared pool) cannot be hooked
        if calls[maps[i][0]] == 1:
            stages.append(Stage(_lift(modules, maps[i][0]), maps[i][1], reduction))
    if not stages:
        raise ConfigError(
            f"{type(model).__name__} produces no feature maps (its trunk does not keep "
            "an image layout), so features_only does not apply. Choose a convolutional model."
        )
    return stages


def trunk_of(model: nn.Module) -> nn.Module:
    """The module whose forward pass computes the feature maps: ``model.features`` when it
    is a module, else the model itself (its head then runs after the last stage)."""
    features = getattr(model, "features", None)
    return features if isinstance(features, nn.Module) else model


def _chain(model: nn.Module, trunk: nn.Module) -> Iterator[str]:
    """Names (in ``model``) of the leaves of the trunk's nested containers, the modules
    whose outputs are passed along; the head and auxiliary classifiers are left out."""
    prefix = "features." if trunk is not model else ""
    for name, child in trunk.named_children():
        if trunk is not model or name not in ("head", "aux"):
            yield from _leaves(child, prefix + name)


def _leaves(module: nn.Module, name: str) -> Iterator[str]:
    if type(module) in (nn.Sequential, nn.ModuleList):
        for child_name, child in module.named_children():
            yield from _leaves(child, f"{name}.{child_name}")
    else:
        yield name


class _ShapesOnly(TorchFunctionMode):
    """Inside the block, normalization functions return their input: same shape, no work."""

    SKIPPED = frozenset(
        (F.batch_norm, F.layer_norm, F.group_norm, F.instance_norm, torch.batch_norm)
    )

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if func in self.SKIPPED:
            return args[0] if args else kwargs["input"]
        return func(*args, **(kwargs or {}))


def _trace(model: nn.Module, trunk: nn.Module, chain: list[str], in_chans: int, side: int) -> list:
    """(name, channels, side) of every 4-D output of the chain on the meta device, in
    call order, up to the layer that fails at this size (a flattening linear layer)."""
    record: list[tuple[str, int, int]] = []

    def recorder(name: str):
        def hook(module: nn.Module, args: tuple, output) -> None:
            if isinstance(output, torch.Tensor) and output.ndim == 4:
                record.append((name, output.shape[1], output.shape[-1]))

        return hook

    meta = {
        name: torch.empty_like(tensor, device="meta")
        for name, tensor in (*trunk.named_parameters(), *trunk.named_buffers())
    }
    x = torch.empty(1, in_chans, side, side, device="meta")
    with (
        torch.no_grad(),
        hooks(model, {name: recorder(name) for name in chain}),
        contextlib.suppress(RuntimeError, CnnlabError),
        _ShapesOnly(),
    ):
        functional_call(trunk, meta, (x,))
    return record


def _unit(modules: dict[str, nn.Module], name: str) -> str:
    """The block of the trunk that ``name`` belongs to: its outermost ancestor below the
    trunk that is not a ``ModuleList`` (``features.stage2`` for ``features.stage2.block0``)."""
    parts = name.split(".")
    for end in range(2 if parts[0] == "features" else 1, len(parts)):
        prefix = ".".join(parts[:end])
        if type(modules[prefix]) is not nn.ModuleList:
            return prefix
    return name


def _lift(modules: dict[str, nn.Module], name: str) -> str:
    """The outermost container below the trunk whose output is ``name``'s:
    ``features.layer1.1`` -> ``features.layer1`` when block 1 is layer1's last."""
    while name.count(".") > 1:
        parent, _, child = name.rpartition(".")
        container = modules[parent]
        if type(container) is not nn.Sequential or list(container._modules)[-1] != child:
            break
        name = parent
    return name
