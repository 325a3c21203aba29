"""``cnnlab predict`` for a detection run: print each image's boxes and draw them.

The image is resized to the run's input size for the detector, and the boxes
are scaled back to the file's own pixels; the drawing (``<stem>.boxes.png``
in ``--boxes-dir``, default the current folder) shows the original image with
each box, its class and its score.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from torchvision.io import write_png
from torchvision.utils import draw_bounding_boxes

from cnnlab.data.image import read_image, resize
from cnnlab.models.detection import detect
from cnnlab.runs import load_run


def predict_boxes_command(args: argparse.Namespace) -> int:
    """Detect the objects of each image file: print them and write a drawing of them."""
    run = load_run(args.run)
    channels, height, width = run.input_shape
    out_dir = Path(args.boxes_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for path in args.images:
        original = read_image(path, channels)
        scale = torch.tensor([original.shape[2] / width, original.shape[1] / height] * 2)
        image = resize(original, (height, width)).float().div(255)
        found = detect(run.model, image[None], args.min_score)[0]
        boxes = found.boxes * scale
        print(f"{path}: {len(boxes)} objects (score >= {args.min_score})")
        names = []
        for box, score, label in zip(
            boxes.tolist(), found.scores.tolist(), found.labels.tolist(), strict=True
        ):
            names.append(f"{run.classes[label]} {score:.2f}")
            corners = ", ".join(f"{v:.1f}" for v in box)
            print(f"  {run.classes[label]:<12} {score:.3f}  ({corners})")
        drawing = draw_bounding_boxes(
            original.expand(3, -1, -1), boxes, names, colors="red", width=2
        )
        target = out_dir / f"{Path(path).stem}.boxes.png"
        write_png(drawing, str(target))
        print(f"  drawn: {target}")
    return 0
