"""What every ``cnnlab explain`` route shares: image files in, figures into the report."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import torch

from cnnlab.data import load_image
from cnnlab.report.figures import figure_to_png
from cnnlab.runs import add_figure


def slug(text: str) -> str:
    """``text`` as a file name (``+`` becomes ``p``: grad-cam++ -> grad-campp)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text.replace("+", "p"))


def load_files(run: Any, paths: list[str], device: str) -> torch.Tensor:
    """Image files as a batch in [0, 1] of the run's input shape, on ``device``."""
    channels, height, width = run.input_shape
    return torch.stack([load_image(p, channels, (height, width)) for p in paths]).to(device)


def save_explanation(fig, run: Any, name: str) -> Path:
    """Record ``fig`` in the run's "Explanations" report section (``cnnlab report`` shows it);
    print and return its path."""
    path = add_figure(
        run.path,
        "Explanations",
        f"explain/{slug(name)}.png",
        figure_to_png(fig),
        name.replace("_", " "),
    )
    print(path)
    return path
