"""Run directories: the unit that connects training, evaluation and reports.

Layout (see DESIGN.md)::

    RUN/config.yaml        the TrainConfig, re-runnable
    RUN/model.safetensors  best weights (normalization included as buffers)
    RUN/last.safetensors   latest weights + optimizer/scheduler/RNG state, for --resume
    RUN/meta.json          model name and kwargs, classes, input shape, epoch, metric, sha256
    RUN/history.jsonl      one JSON line per epoch
    RUN/metrics.json       final evaluation
    RUN/figures/           PNG figures
    RUN/report.html        self-contained report

:func:`load_run` goes from a directory to a ready model in one call.
"""

from __future__ import annotations

import json
import os
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from cnnlab.errors import CheckpointError, ConfigError
from cnnlab.models.registry import create_model_for_input
from cnnlab.nn.norm import Normalize
from cnnlab.train.checkpoint import load_state, load_weights
from cnnlab.train.config import TrainConfig

CONFIG, BEST, LAST, META = "config.yaml", "model.safetensors", "last.safetensors", "meta.json"
HISTORY, METRICS, REPORT, FIGURES = "history.jsonl", "metrics.json", "report.html", "figures"


def build_classifier(
    model: str,
    model_kwargs: dict[str, Any],
    classes: list[str],
    input_shape: tuple[int, int, int],
    mean: torch.Tensor,
    std: torch.Tensor,
) -> nn.Sequential:
    """The network ``model`` behind a :class:`Normalize`: takes images in [0, 1]."""
    net = create_model_for_input(model, len(classes), input_shape, **model_kwargs)
    return nn.Sequential(OrderedDict(normalize=Normalize(mean, std), net=net))


def read_meta(run_dir: str | os.PathLike) -> dict[str, Any]:
    path = Path(run_dir) / META
    if not path.is_file():
        raise CheckpointError(
            f"{Path(run_dir)} is not a cnnlab run directory: {META} is missing. "
            "Pass a directory created by `cnnlab train`."
        )
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{path} is corrupt ({exc}); restore it or re-train.") from exc


def read_history(run_dir: str | os.PathLike) -> list[dict[str, Any]]:
    path = Path(run_dir) / HISTORY
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@dataclass
class Run:
    """A trained run: the model (eval mode, best weights), its classes and config."""

    path: Path
    model: nn.Module
    classes: list[str]
    input_shape: tuple[int, int, int]
    meta: dict[str, Any]
    config: TrainConfig

    @torch.inference_mode()
    def predict_proba(self, images: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
        """Softmax probabilities for images in [0, 1] of the model's input shape."""
        outputs = [
            torch.softmax(self.model(images[i : i + batch_size]).float(), dim=1)
            for i in range(0, len(images), batch_size)
        ]
        return torch.cat(outputs) if outputs else torch.empty(0, len(self.classes))


def load_run(run_dir: str | os.PathLike, weights: str = "best") -> Run:
    """Load a run directory: model with ``best`` (or ``last``) weights, in eval mode."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise CheckpointError(f"Run directory {run_dir} does not exist.")
    if weights not in ("best", "last"):
        raise ConfigError(f"weights must be 'best' or 'last', got {weights!r}.")
    meta = read_meta(run_dir)
    config = TrainConfig.from_yaml(run_dir / CONFIG)
    if weights == "best":
        state = load_weights(run_dir / BEST, meta.get("weights_sha256"))
    else:
        state = load_state(run_dir / LAST)["model"]
    try:
        model = build_classifier(
            meta["model"],
            meta["model_kwargs"],
            meta["classes"],
            tuple(meta["input_shape"]),
            state["normalize.mean"],
            state["normalize.std"],
        )
        model.load_state_dict(state)
    except (KeyError, RuntimeError) as exc:
        raise CheckpointError(
            f"The weights in {run_dir} do not fit the model described by its {META} ({exc})."
        ) from exc
    model.eval()
    return Run(run_dir, model, list(meta["classes"]), tuple(meta["input_shape"]), meta, config)
