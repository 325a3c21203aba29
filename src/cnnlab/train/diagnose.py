"""Per-layer activation and gradient statistics of one batch: will this network train?

`diagnose` runs one forward and one backward pass and records, for every
*layer* — each module that owns parameters (convolutions, linear layers,
normalization layers, PReLU) and each activation module (`ACTIVATIONS`),
every call of it, in the order of the forward pass —

* the statistics of its output a: mean, (population) standard deviation,
  fraction of exactly-zero values, a histogram, and after ReLU-like
  activations the fraction of *dead* units (channels or features that are zero
  for every example and position of the batch);
* the standard deviation of ∂L/∂a, the gradient reaching that output;
* the L2 norm of ∂L/∂θ over the module's own parameters θ.

L is the cross-entropy on ``labels``, or the sum of the outputs without labels.
Activations shrinking or growing from layer to layer, gradients that vanish on
the way back and units that never fire are the symptoms of a bad
initialization (Glorot & Bengio 2010, Sec. 4.2; He et al. 2015, Sec. 2.2).

`init_experiment` is the lecture's demonstration (also CS231n's): 10
fully-connected layers of 500 tanh units on N(0, 1) inputs.  With weights drawn
from N(0, 0.01²) every layer multiplies the activation scale by about
0.01·√500 ≈ 0.22, so after 10 layers it is ~10⁻⁷ and the gradients of the
weights vanish with it; Xavier/Glorot initialization, Var(w) = 2 / (fan_in +
fan_out) (Glorot & Bengio 2010, eq. 16), keeps tanh activations spread over
(-1, 1); ReLU halves the variance at every layer under Xavier, and He
initialization, Var(w) = 2 / fan_in (He et al. 2015, eq. 10), compensates.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from cnnlab.errors import ConfigError, check_positive
from cnnlab.models.base import AuxLogits
from cnnlab.nn.act import Maxout, ScaledTanh
from cnnlab.nn.hooks import hooks
from cnnlab.train.init import initialize
from cnnlab.train.losses import classification_loss

#: Modules recorded as activation functions (besides every module with parameters).
ACTIVATIONS = (
    nn.ReLU,
    nn.ReLU6,
    nn.LeakyReLU,
    nn.PReLU,
    nn.RReLU,
    nn.ELU,
    nn.CELU,
    nn.SELU,
    nn.GELU,
    nn.SiLU,
    nn.Mish,
    nn.Hardswish,
    nn.Hardsigmoid,
    nn.Hardtanh,
    nn.Sigmoid,
    nn.Tanh,
    nn.Softplus,
    nn.Softsign,
    ScaledTanh,
    Maxout,
)
#: Activations that output exactly zero for every negative input: their units can die.
RELU_LIKE = (nn.ReLU, nn.ReLU6)

#: The lecture's initialization experiment: (row label, activation, ``--init`` scheme).
INIT_EXPERIMENT = (
    ("tanh, N(0, 0.01²)", "tanh", "normal"),
    ("tanh, Xavier", "tanh", "xavier_normal"),
    ("ReLU, Xavier", "relu", "xavier_normal"),
    ("ReLU, He", "relu", "kaiming_normal"),
)
#: Histogram range of the experiment per activation: tanh's range, and ReLU's bulk.
_EXPERIMENT_RANGE = {"tanh": (-1.0, 1.0), "relu": (0.0, 4.0)}
_EXPERIMENT_CLASSES = 10
_EXPERIMENT_BINS = 51  # odd: one bin is centred on 0, where the collapsed activations are


@dataclass
class LayerStats:
    """Statistics of one layer call for one batch (see the module docstring).

    Attributes
    ----------
    name
        the module's name in ``model.named_modules()``; a second call of the same
        module in one forward pass is named ``name#2``, and so on.
    type
        the module's class name.
    shape
        shape of the output.
    is_activation
        the module is one of `ACTIVATIONS`.
    mean, std
        mean and population standard deviation of the output.
    zero_fraction
        fraction of output values that are exactly 0.
    dead_fraction
        ReLU-like activations only (else None): fraction of units (dimension 1:
        channels or features) that are 0 for every example and position of the batch.
    hist_counts, hist_edges
        histogram of the output: ``bins`` counts and ``bins + 1`` edges.
    grad_std
        population std of ∂L/∂output; None if no gradient flows to the output.
    grad_norm
        L2 norm of ∂L/∂θ over the module's own trainable parameters (on its first
        call only); None without such parameters.
    """

    name: str
    type: str
    shape: tuple[int, ...]
    is_activation: bool
    mean: float
    std: float
    zero_fraction: float
    dead_fraction: float | None
    hist_counts: torch.Tensor
    hist_edges: torch.Tensor
    grad_std: float | None = None
    grad_norm: float | None = None


class _Recorder:
    """Hooks that summarise each output at once (a later in-place op may change it), and
    the gradient that reaches it."""

    def __init__(self, bins: int, hist_range: tuple[float, float] | None):
        self.bins, self.hist_range = bins, hist_range
        self.layers: list[tuple[LayerStats, nn.Module]] = []
        self.calls: dict[str, int] = {}
        self.by_call: dict[tuple[str, int], LayerStats] = {}

    def record(self, name: str, module: nn.Module, inputs, output) -> None:
        # Calls are numbered as nn.hooks numbers them for record_grad: every call counts.
        self.calls[name] = self.calls.get(name, 0) + 1
        call = self.calls[name]
        if not isinstance(output, torch.Tensor) or not output.is_floating_point():
            return
        if output.numel() == 0:
            return
        values = output.detach()
        stats = LayerStats(
            name=name if call == 1 else f"{name}#{call}",
            type=type(module).__name__,
            shape=tuple(output.shape),
            is_activation=isinstance(module, ACTIVATIONS),
            **_output_stats(values, isinstance(module, RELU_LIKE), self.bins, self.hist_range),
        )
        self.layers.append((stats, module))
        self.by_call[name, call] = stats

    def record_grad(self, name: str, module: nn.Module, call: int, grad: torch.Tensor) -> None:
        stats = self.by_call.get((name, call))
        if stats is not None:
            stats.grad_std = grad.detach().float().std(correction=0).item()


def _output_stats(
    values: torch.Tensor, relu_like: bool, bins: int, hist_range: tuple[float, float] | None
) -> dict:
    flat = values.float().flatten()
    dead = None
    if relu_like and values.dim() >= 2:
        alive = (values != 0).transpose(0, 1).flatten(1).any(dim=1)
        dead = 1.0 - alive.float().mean().item()
    finite = flat[torch.isfinite(flat)]
    if hist_range is not None:
        low, high = hist_range
        finite = finite.clamp(low, high)  # out-of-range values count in the end bins
    elif finite.numel():
        low, high = finite.min().item(), finite.max().item()
    else:
        low, high = 0.0, 0.0
    if low == high:  # a constant output: centre it in the histogram
        low, high = low - 0.5, high + 0.5
    return {
        "mean": flat.mean().item(),
        "std": flat.std(correction=0).item(),
        "zero_fraction": (flat == 0).float().mean().item(),
        "dead_fraction": dead,
        "hist_counts": torch.histc(finite, bins, low, high).cpu(),
        "hist_edges": torch.linspace(low, high, bins + 1),
    }


def diagnose(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor | None = None,
    *,
    train: bool = True,
    bins: int = 50,
    hist_range: tuple[float, float] | None = None,
) -> list[LayerStats]:
    """Activation and gradient statistics of every layer of ``model`` for one batch.

    Parameters
    ----------
    model
        the network; its parameters, gradients (``.grad``), buffers and mode are
        left as they were.
    images
        a batch of inputs, on the model's device.
    labels
        class indices for a cross-entropy loss; without them the loss is the sum
        of the outputs.
    train
        run in training mode (batch-norm on batch statistics, dropout on), as
        the first training step sees the network; running statistics are restored.
    bins
        number of histogram bins.
    hist_range
        ``(low, high)`` of every histogram (values outside count in the end
        bins); default: each layer's minimum and maximum.

    Returns
    -------
    list of LayerStats
        In the order of the forward pass.

    References
    ----------
    Glorot & Bengio (2010), "Understanding the difficulty of training deep
    feedforward neural networks", Sec. 4.2 (activation and gradient statistics
    per layer).
    """
    check_positive("bins", bins)
    if not images.is_floating_point():
        raise ConfigError(
            f"images must be a floating-point tensor, got {images.dtype}; "
            "convert uint8 images with images.float() / 255."
        )
    if hist_range is not None and not hist_range[0] < hist_range[1]:
        raise ConfigError(f"hist_range must be (low, high) with low < high, got {hist_range}.")
    recorder = _Recorder(bins, hist_range)
    names = [
        name
        for name, module in model.named_modules()
        if isinstance(module, ACTIVATIONS) or any(True for _ in module.parameters(recurse=False))
    ]
    forward = {name: partial(recorder.record, name) for name in names}
    gradient = {name: partial(recorder.record_grad, name) for name in names}
    was_training = model.training
    buffers = {name: buffer.detach().clone() for name, buffer in model.named_buffers()}
    try:
        model.train(train)
        with hooks(model, forward, gradient=gradient):
            inputs = images.detach().clone().requires_grad_(True)
            output = model(inputs)
            if not recorder.layers:
                raise ConfigError(
                    f"{type(model).__name__} has no layers to diagnose: no module with "
                    "parameters or activation module returned a tensor. Build the model from "
                    "nn.Module layers."
                )
            if labels is None:
                loss = (output.logits if isinstance(output, AuxLogits) else output).sum()
            else:
                loss, _ = classification_loss(output, labels, F.cross_entropy)
            owners = _parameter_owners(recorder.layers)
            params = [p for _, module_params in owners for p in module_params]
            grads = torch.autograd.grad(loss, [inputs, *params], allow_unused=True)[1:]
    finally:
        model.train(was_training)
        with torch.no_grad():
            for name, buffer in model.named_buffers():
                buffer.copy_(buffers[name])
    for stats, module_params in owners:
        own = [g for g in grads[: len(module_params)] if g is not None]
        grads = grads[len(module_params) :]
        if own:
            stats.grad_norm = math.sqrt(sum(g.float().square().sum().item() for g in own))
    return [stats for stats, _ in recorder.layers]


def _parameter_owners(
    layers: list[tuple[LayerStats, nn.Module]],
) -> list[tuple[LayerStats, list[nn.Parameter]]]:
    """The first call of each module with trainable parameters, and those parameters."""
    seen: set[int] = set()
    owners = []
    for stats, module in layers:
        params = [p for p in module.parameters(recurse=False) if p.requires_grad]
        if params and id(module) not in seen:
            seen.add(id(module))
            owners.append((stats, params))
    return owners


def deep_mlp(
    depth: int = 10, width: int = 500, act: str = "tanh", num_classes: int | None = None
) -> nn.Sequential:
    """``depth`` fully-connected layers of ``width`` units, each followed by ``act``
    (``tanh`` or ``relu``), and a linear ``head`` to ``num_classes`` outputs if given:
    the network of the initialization experiment."""
    check_positive("depth", depth)
    check_positive("width", width)
    activations = {"tanh": nn.Tanh, "relu": nn.ReLU}
    if act not in activations:
        raise ConfigError(f"act must be one of {sorted(activations)}, got {act!r}.")
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    for k in range(1, depth + 1):
        layers[f"fc{k}"] = nn.Linear(width, width)
        layers[f"{act}{k}"] = activations[act]()
    if num_classes is not None:
        layers["head"] = nn.Linear(width, check_positive("num_classes", num_classes))
    return nn.Sequential(layers)


def init_experiment(
    depth: int = 10, width: int = 500, samples: int = 1000, seed: int = 0
) -> dict[str, list[LayerStats]]:
    """The lecture's experiment: activation statistics of `deep_mlp` on N(0, 1)
    inputs for each row of `INIT_EXPERIMENT`.

    Returns ``{row label: the statistics of the activation layers, first to last}``.
    A linear head (initialised like the rest) scores 10 random classes, so that the
    cross-entropy's ``grad_std`` shows the backward pass as well.  The global random
    state is left untouched.
    """
    check_positive("samples", samples)
    generator = torch.Generator().manual_seed(seed)
    inputs = torch.randn(samples, width, generator=generator)
    labels = torch.randint(0, _EXPERIMENT_CLASSES, (samples,), generator=generator)
    results = {}
    for label, act, scheme in INIT_EXPERIMENT:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = initialize(deep_mlp(depth, width, act, _EXPERIMENT_CLASSES), scheme)
        stats = diagnose(
            model, inputs, labels, bins=_EXPERIMENT_BINS, hist_range=_EXPERIMENT_RANGE[act]
        )
        results[label] = [s for s in stats if s.is_activation]
    return results


def format_layer_stats(stats: Sequence[LayerStats]) -> str:
    """A text table of `diagnose`'s statistics, one row per layer."""
    width = max([len("layer"), *(len(s.name) for s in stats)])
    type_width = max([len("type"), *(len(s.type) for s in stats)])
    header = (
        f"{'layer':<{width}}  {'type':<{type_width}}  {'output':<16} {'mean':>10} {'std':>10} "
        f"{'zero':>6} {'dead':>6} {'grad std':>10} {'|grad θ|':>10}"
    )
    rows = [header, "-" * len(header)]
    for s in stats:
        shape = "x".join(str(d) for d in s.shape[1:]) or "-"
        dead = "-" if s.dead_fraction is None else f"{s.dead_fraction:6.1%}"
        rows.append(
            f"{s.name:<{width}}  {s.type:<{type_width}}  {shape:<16} {s.mean:>10.3g} "
            f"{s.std:>10.3g} {s.zero_fraction:>6.1%} {dead:>6} {_num(s.grad_std):>10} "
            f"{_num(s.grad_norm):>10}"
        )
    return "\n".join(rows)


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.3e}"
