"""A trained run loaded back: model, classes, configuration and its data.

`load_run` goes from a directory to a ready model in one call;
`Run.load_split` gives the images a run was trained, validated or tested
on (or another data set's split, mapped onto the run's classes by name).
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from cnnlab.data import DataSplits, load_data
from cnnlab.data.datasets import ImageDataset
from cnnlab.data.splits import spread_subset
from cnnlab.errors import CheckpointError, ConfigError, DataError
from cnnlab.fileio import read_yaml_mapping
from cnnlab.models.registry import create_model_for_input
from cnnlab.nn.fuse import inference_copy
from cnnlab.nn.norm import Normalize
from cnnlab.runs.checkpoint import load_state
from cnnlab.runs.layout import CONFIG, LAST
from cnnlab.runs.predict import class_index_map
from cnnlab.runs.records import read_meta
from cnnlab.runs.weights import load_best

SPLITS = ("train", "val", "test")
SPLIT_OPTIONS = ("val_fraction", "test_fraction", "seed", "classes", "per_class", "canvas_source")
# Tasks whose model predicts an image (cnnlab.tasks.reconstruction): its outputs are
# the input's channels, not the classes (which only label the images).
IMAGE_TASKS = ("autoencoder", "denoise", "noise2void")


def build_classifier(
    model: str,
    model_kwargs: dict[str, Any],
    classes: list[str],
    input_shape: tuple[int, int, int],
    mean: torch.Tensor,
    std: torch.Tensor,
    num_outputs: int | None = None,
) -> nn.Sequential:
    """The network ``model`` behind a `Normalize`: takes images in [0, 1].

    It has ``num_outputs`` outputs (default: one per class).
    """
    outputs = len(classes) if num_outputs is None else num_outputs
    net = create_model_for_input(model, outputs, input_shape, **model_kwargs)
    return nn.Sequential(OrderedDict(normalize=Normalize(mean, std), net=net))


def load_config_data(
    config: Mapping[str, Any], dataset: str | None = None, data_dir: str | None = None
) -> DataSplits:
    """The data of a run's configuration (``config.yaml`` as a mapping), split as in training.

    With another ``dataset`` its whole splits are loaded (the run's class and
    per-class selection apply to its own data set only).
    """
    own = dataset is None or dataset == config["dataset"]
    options = {key: config.get(key) for key in SPLIT_OPTIONS if key in config}
    if not own:
        options.update(classes=None, per_class=None, test_fraction=None, canvas_source=None)
    return load_data(
        dataset or config["dataset"],
        (data_dir or config.get("data_dir")) if own else data_dir,
        download=bool(config.get("download", False)) and own,
        **options,
    )


@dataclass
class RunSplit:
    """One split of a data set, as a run sees it: labels mapped onto the run's classes."""

    dataset: str
    name: str
    images: ImageDataset
    class_map: torch.Tensor  # data-set label -> the run's class index


def read_config(run_dir: str | os.PathLike) -> dict[str, Any]:
    """``config.yaml`` of ``run_dir`` as a mapping."""
    return read_yaml_mapping(Path(run_dir) / CONFIG, CheckpointError, "Run configuration")


@dataclass
class Run:
    """A trained run: the model (eval mode, best weights), its classes and config."""

    path: Path
    model: nn.Module
    classes: list[str]
    input_shape: tuple[int, int, int]
    meta: dict[str, Any]
    config: dict[str, Any]

    @torch.inference_mode()
    def predict_proba(self, images: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
        """Softmax probabilities for images in [0, 1] of the model's input shape."""
        outputs = [
            torch.softmax(self.model(images[i : i + batch_size]).float(), dim=1)
            for i in range(0, len(images), batch_size)
        ]
        return torch.cat(outputs) if outputs else torch.empty(0, len(self.classes))

    @property
    def dataset(self) -> str:
        """The data set the run was trained on."""
        return self.config["dataset"]

    def load_split(
        self,
        split: str = "test",
        *,
        dataset: str | None = None,
        data_dir: str | None = None,
        limit: int | None = None,
    ) -> RunSplit:
        """``split`` of the run's data set, or of ``dataset`` (classes matched by name).

        ``limit`` keeps a fixed draw of at most that many images spread over the
        whole split.  An empty split is an error that names the alternatives.
        """
        if split not in SPLITS:
            raise DataError(f"Unknown split {split!r}; choose one of {', '.join(SPLITS)}.")
        data = load_config_data(self.config, dataset, data_dir)
        images = getattr(data, split)
        if len(images) == 0:
            raise DataError(
                f"The {split} split of {data.name} is empty for this run (test_fraction "
                f"{self.config.get('test_fraction')}, val_fraction "
                f"{self.config.get('val_fraction')}); use another split (--split val) or "
                "another data set (--dataset ... --data-dir ...)."
            )
        if limit is not None:
            images = images.subset(spread_subset(len(images), limit))
        return RunSplit(data.name, split, images, class_index_map(self.classes, data.classes))


def load_run(run_dir: str | os.PathLike, weights: str = "best", *, inference: bool = False) -> Run:
    """Load a run directory: model with ``best`` (or ``last``) weights, in eval mode.

    ``inference=True`` gives the model's inference form instead
    (`cnnlab.nn.fuse.inference_copy`: RepVGG blocks collapsed, batch norm
    folded into the convolutions, channels-last, no gradients): the same outputs,
    less work; not for training or for methods that need gradients.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise CheckpointError(f"Run directory {run_dir} does not exist.")
    if weights not in ("best", "last"):
        raise ConfigError(f"weights must be 'best' or 'last', got {weights!r}.")
    meta = read_meta(run_dir)
    config = read_config(run_dir)
    state = load_best(run_dir, meta) if weights == "best" else load_state(run_dir / LAST)["model"]
    try:
        model = build_classifier(
            meta["model"],
            meta["model_kwargs"],
            meta["classes"],
            tuple(meta["input_shape"]),
            state["normalize.mean"],
            state["normalize.std"],
            meta["input_shape"][0] if meta.get("task") in IMAGE_TASKS else None,
        )
        model.load_state_dict(state)
    except (KeyError, RuntimeError) as exc:
        raise CheckpointError(
            f"The weights in {run_dir} do not fit the model described by its meta.json ({exc})."
        ) from exc
    model = inference_copy(model) if inference else model.eval()
    return Run(run_dir, model, list(meta["classes"]), tuple(meta["input_shape"]), meta, config)
