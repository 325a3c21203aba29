"""A user's detection data: YOLO text labels and COCO JSON annotations.

YOLO (Ultralytics' layout):

    DIR/data.yaml              names: [cat, dog]   (or {0: cat, 1: dog}; or DIR/classes.txt,
                                                    one name per line)
    DIR/images/train/a.png     DIR/labels/train/a.txt   one object per line:
    DIR/images/val/b.png       DIR/labels/val/b.txt     "class cx cy w h", normalized to [0, 1]

COCO (Lin et al. 2014, "Data format"):

    DIR/train.json      {"images": [{"id", "file_name"}], "categories": [{"id", "name"}],
    DIR/val.json         "annotations": [{"image_id", "category_id", "bbox": [x, y, w, h]}]}
      (or test.json)
    DIR/images/<file_name>  (or DIR/<file_name>)

The ``val`` part (``val.json`` / ``test.json`` for COCO) becomes the test split;
without one, a fixed 20 % of the images is held out (the seed of
`TEST_SPLIT_SEED`).  Images keep their size, which they must then all share
(an image of another size is refused, naming both sizes), unless
``image_size`` is given: then each image is letterboxed into ``image_size`` x
``image_size`` (scaled by one factor to fit, keeping its aspect ratio,
centred on a black square; its boxes scaled and shifted with it, YOLOv5's
"letterbox").  Images are read grey when the first one is grey, RGB
otherwise; an image without a label file has no objects.  Boxes
that leave their image, have x2 < x1, or name a class that is not in the list
are refused with the file that holds them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
import yaml

from cnnlab.data.detection import DetectionDataset, check_boxes, pad_targets
from cnnlab.data.image import IMAGE_SUFFIXES, read_image, resize
from cnnlab.data.splits import TEST_FRACTION, TEST_SPLIT_SEED, random_split
from cnnlab.errors import ConfigError, DataError
from cnnlab.fileio import read_regular

MAX_LABEL_BYTES = 64 * 2**20


def _read_text(path: Path) -> str:
    try:
        return read_regular(path, limit=MAX_LABEL_BYTES, what="Label file").decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path} is not UTF-8 text ({exc}); save it as UTF-8.") from exc


def _folder(data_dir: str | os.PathLike | None, kind: str) -> Path:
    if data_dir is None or not Path(data_dir).is_dir():
        raise DataError(
            f"--dataset {kind} reads a folder of your data: give it with --data-dir DIR "
            f"(got {data_dir!r}); see the layout in the docs (Detection)."
        )
    return Path(data_dir)


class _Images:
    """Decodes images to the first one's channels, and to ``size`` x ``size`` by letterbox
    when ``size`` is given, otherwise to their own size, which must be the first one's."""

    def __init__(self, size: int | None = None) -> None:
        if size is not None and size < 1:
            raise ConfigError(f"image_size must be a positive number of pixels, got {size}.")
        self.size = size
        self.channels: int | None = None
        self.first: tuple[Path, tuple[int, int]] | None = None

    def read(self, path: Path) -> tuple[torch.Tensor, tuple[int, int]]:
        """``(image at the common size, its own (height, width))``."""
        if self.channels is None:
            first = read_image(path, 3)
            self.channels = 1 if bool((first == first[:1]).all()) else 3
        image = read_image(path, self.channels)
        own = (image.shape[1], image.shape[2])
        if self.first is None:
            self.first = (path, own)
        if self.size is not None:
            return letterbox(image, self.size), own
        if own != self.first[1]:
            raise DataError(
                f"{path} is {own[1]}x{own[0]} pixels but {self.first[0]} is "
                f"{self.first[1][1]}x{self.first[1][0]}: the images of a detection data set "
                "are batched together, so they must share one size. Resize them to one size, "
                "or load them with image_size=N (load_data(..., image_size=N)) to letterbox "
                "every image into N x N."
            )
        return image, own

    def place(self, boxes: torch.Tensor, own: tuple[int, int]) -> torch.Tensor:
        """Boxes ``(K, 4)`` in an image's own pixels → in its pixels as `read` returns it."""
        if self.size is None:
            return boxes
        return letterbox_boxes(boxes, own, self.size)


def _letterbox_geometry(own: tuple[int, int], size: int) -> tuple[int, int, int, int]:
    """``(height, width, top, left)`` of an image of ``own`` size inside the square."""
    height, width = own
    scale = min(size / height, size / width)
    inner_h, inner_w = max(round(height * scale), 1), max(round(width * scale), 1)
    return inner_h, inner_w, (size - inner_h) // 2, (size - inner_w) // 2


def letterbox(image: torch.Tensor, size: int) -> torch.Tensor:
    """A uint8 ``(C, H, W)`` image scaled to fit ``size`` x ``size`` with its aspect ratio,
    centred on a black square (`letterbox_boxes` moves its boxes the same way)."""
    inner_h, inner_w, top, left = _letterbox_geometry(tuple(image.shape[-2:]), size)
    square = torch.zeros(image.shape[0], size, size, dtype=torch.uint8)
    square[:, top : top + inner_h, left : left + inner_w] = resize(image, (inner_h, inner_w))
    return square


def letterbox_boxes(boxes: torch.Tensor, own: tuple[int, int], size: int) -> torch.Tensor:
    """Boxes ``(K, 4)`` xyxy of an image of ``own`` (height, width) → in its letterbox."""
    inner_h, inner_w, top, left = _letterbox_geometry(own, size)
    scale = torch.tensor([inner_w / own[1], inner_h / own[0]] * 2)
    return boxes * scale + torch.tensor([left, top] * 2, dtype=boxes.dtype)


def _dataset(images, boxes, classes, names) -> DetectionDataset:
    if not images:
        raise DataError("no images found; check the folder layout (see the docs, Detection).")
    return DetectionDataset(torch.stack(images), pad_targets(boxes, classes), names)


def _hold_out_test(pool: DetectionDataset) -> tuple[DetectionDataset, DetectionDataset]:
    keep, test = random_split(len(pool), TEST_FRACTION, TEST_SPLIT_SEED)
    return pool.subset(keep), pool.subset(test)


def _yolo_names(root: Path) -> list[str]:
    if (root / "data.yaml").is_file():
        names = (yaml.safe_load(_read_text(root / "data.yaml")) or {}).get("names")
        if isinstance(names, dict):
            names = [names[k] for k in sorted(names)]
        if isinstance(names, list) and names:
            return [str(n) for n in names]
        raise DataError(f"{root / 'data.yaml'} has no 'names' list of the classes; add one.")
    if (root / "classes.txt").is_file():
        return [line.strip() for line in _read_text(root / "classes.txt").splitlines() if line]
    raise DataError(
        f"{root} names no classes: add data.yaml with 'names: [...]' or classes.txt "
        "(one class name per line, in the order of the class indices)."
    )


def _yolo_labels(path: Path, names: list[str], own: tuple[int, int]):
    boxes, classes = [], []
    height, width = own
    text = _read_text(path) if path.is_file() else ""
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        try:
            cls, (cx, cy, w, h) = int(fields[0]), (float(v) for v in fields[1:])
        except ValueError:
            raise DataError(
                f"{path}, line {number}: expected 'class cx cy w h', got {line!r}."
            ) from None
        if not 0 <= cls < len(names):
            raise DataError(
                f"{path}, line {number}: class {cls} is not one of the {len(names)} classes "
                f"{names} (indices 0-{len(names) - 1}); fix the label or the class list."
            )
        x1, y1 = (cx - w / 2) * width, (cy - h / 2) * height
        boxes.append([x1, y1, x1 + w * width, y1 + h * height])
        classes.append(cls)
    boxes = torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4)
    check_boxes(boxes, height, width, str(path))
    return boxes, torch.tensor(classes, dtype=torch.int64)


def _yolo_part(root: Path, part: str | None, names: list[str], reader: _Images):
    image_dir = root / "images" / part if part else root / "images"
    label_dir = root / "labels" / part if part else root / "labels"
    images, boxes, classes = [], [], []
    for path in sorted(p for p in image_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES):
        image, own = reader.read(path)
        found, labels = _yolo_labels(label_dir / f"{path.stem}.txt", names, own)
        images.append(image)
        boxes.append(reader.place(found, own))
        classes.append(labels)
    return _dataset(images, boxes, classes, names)


def load_yolo(
    data_dir: str | os.PathLike | None, *, image_size: int | None = None
) -> tuple[DetectionDataset, DetectionDataset]:
    """Train and test sets of a YOLO-format folder (see the module docstring)."""
    root = _folder(data_dir, "yolo")
    if not (root / "images").is_dir():
        raise DataError(f"{root} has no images/ folder; a YOLO data set keeps its images there.")
    names = _yolo_names(root)
    reader = _Images(image_size)
    if (root / "images" / "train").is_dir():
        train = _yolo_part(root, "train", names, reader)
        held = next((p for p in ("val", "test") if (root / "images" / p).is_dir()), None)
        if held is not None:
            return train, _yolo_part(root, held, names, reader)
        return _hold_out_test(train)
    return _hold_out_test(_yolo_part(root, None, names, reader))


def _coco_part(path: Path, root: Path, reader: _Images, names: list[str] | None):
    try:
        document = json.loads(_read_text(path))
        categories = sorted(document["categories"], key=lambda c: c["id"])
        entries, annotations = document["images"], document.get("annotations", [])
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise DataError(
            f"{path} is not COCO JSON with 'images' and 'categories' ({exc!r}); fix the file."
        ) from exc
    ids = {c["id"]: i for i, c in enumerate(categories)}
    part_names = [str(c["name"]) for c in categories]
    if names is not None and part_names != names:
        raise DataError(f"{path} has the categories {part_names}, the training file {names}.")
    by_image: dict = {}
    for ann in annotations:
        if ann.get("iscrowd", 0):
            continue  # crowd regions are ignored by COCO's evaluation, not objects
        if ann["category_id"] not in ids:
            raise DataError(
                f"{path}: annotation {ann.get('id')} names category {ann['category_id']}, "
                f"which is not among the categories {sorted(ids)}; add it or fix the annotation."
            )
        by_image.setdefault(ann["image_id"], []).append(ann)
    images, boxes, classes = [], [], []
    for entry in entries:
        folder = root / "images" if (root / "images" / entry["file_name"]).is_file() else root
        image, own = reader.read(folder / entry["file_name"])
        anns = by_image.get(entry["id"], [])
        xywh = torch.tensor([a["bbox"] for a in anns], dtype=torch.float32).reshape(-1, 4)
        xyxy = torch.cat([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], 1)
        check_boxes(xyxy, own[0], own[1], f"{path}, image {entry['file_name']}")
        images.append(image)
        boxes.append(reader.place(xyxy, own))
        classes.append(torch.tensor([ids[a["category_id"]] for a in anns], dtype=torch.int64))
    return _dataset(images, boxes, classes, part_names)


def load_coco(
    data_dir: str | os.PathLike | None, *, image_size: int | None = None
) -> tuple[DetectionDataset, DetectionDataset]:
    """Train and test sets of a COCO-format folder (see the module docstring)."""
    root = _folder(data_dir, "coco")
    if not (root / "train.json").is_file():
        raise DataError(f"{root} has no train.json (COCO annotations of the training images).")
    reader = _Images(image_size)
    train = _coco_part(root / "train.json", root, reader, None)
    held = next((root / f for f in ("val.json", "test.json") if (root / f).is_file()), None)
    if held is None:
        return _hold_out_test(train)
    return train, _coco_part(held, root, reader, train.classes)
