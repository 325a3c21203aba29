"""Detection data: padded box targets, det-canvas, and the YOLO and COCO readers."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from cnnlab.data import load_data
from cnnlab.data.det_canvas import compose_detection_canvases, load_detection_canvases
from cnnlab.data.detection import DetectionDataset, pad_targets, unpad_targets
from cnnlab.data.detection_formats import load_coco, load_yolo
from cnnlab.errors import ConfigError, DataError

IMAGES = torch.zeros(2, 1, 40, 60, dtype=torch.uint8)


def targets(*rows):
    boxes = [torch.tensor(r[0], dtype=torch.float32).reshape(-1, 4) for r in rows]
    return pad_targets(boxes, [torch.tensor(r[1], dtype=torch.int64) for r in rows])


def test_padding_round_trips_a_variable_number_of_boxes():
    boxes = [torch.tensor([[1.0, 2, 3, 4], [5, 6, 7, 8]]), torch.zeros(0, 4)]
    classes = [torch.tensor([1, 0]), torch.zeros(0, dtype=torch.int64)]
    padded = pad_targets(boxes, classes)
    assert padded.shape == (2, 2, 5)
    expected = zip(boxes, classes, strict=True)
    for (b, c), (eb, ec) in zip(unpad_targets(padded), expected, strict=True):
        torch.testing.assert_close(b, eb)
        assert torch.equal(c, ec)


def test_a_detection_dataset_subset_keeps_its_type_and_boxes():
    data = DetectionDataset(IMAGES, targets(([[0, 0, 10, 10]], [0]), ([], [])), ["a"])
    part = data.subset(torch.tensor([0]))
    assert isinstance(part, DetectionDataset)
    torch.testing.assert_close(part.targets(0)[0], torch.tensor([[0.0, 0, 10, 10]]))


@pytest.mark.parametrize(
    ("box", "message"),
    [
        ([10, 0, 5, 10], "x2 < x1"),
        ([0, 0, 61, 10], "outside the 60x40 image"),
        ([0, -5, 10, 10], "outside"),
    ],
)
def test_bad_boxes_are_refused_naming_the_image(box, message):
    with pytest.raises(DataError, match=message) as info:
        DetectionDataset(IMAGES, targets(([[0, 0, 5, 5]], [0]), ([box], [0])), ["a"])
    assert "image 1" in str(info.value)


def test_a_class_outside_the_list_is_refused():
    with pytest.raises(DataError, match="only 1 classes"):
        DetectionDataset(IMAGES, targets(([[0, 0, 5, 5]], [1]), ([], [])), ["a"])


def test_canvas_boxes_are_the_tight_boxes_of_the_ink():
    glyphs = torch.zeros(1, 1, 10, 10)
    glyphs[0, 0, 2:8, 3:6] = 1.0  # ink in rows 2-7, columns 3-5 of the glyph
    images, boxes, _ = compose_detection_canvases(
        glyphs, torch.tensor([0]), 5, size=50, per_canvas=(1, 3), scale=(20, 20), seed=1
    )
    for image, found in zip(images, boxes, strict=True):
        ink = image[0] > 0.35 * 255
        for x1, y1, x2, y2 in found.int().tolist():
            assert ink[y1:y2, x1:x2].any(0).all() and ink[y1:y2, x1:x2].any(1).all()
            assert not ink[y1:y2, x1 - 1].any() and not ink[y1:y2, x2].any()
        assert 1 <= len(found) <= 3


def test_det_canvas_is_fixed_with_one_to_five_objects_of_three_classes():
    first, _ = load_detection_canvases(train=30, test=1)
    again, _ = load_detection_canvases(train=30, test=1)
    assert torch.equal(first.images, again.images) and torch.equal(first.labels, again.labels)
    assert first.classes == ["0", "1", "2"] and first.image_shape == (1, 96, 96)
    counts = (first.labels[..., 4] >= 0).sum(1)
    assert counts.min() >= 1 and counts.max() <= 5
    assert set(first.labels[..., 4][first.labels[..., 4] >= 0].long().tolist()) == {0, 1, 2}


def test_an_unknown_canvas_source_is_refused():
    with pytest.raises(ConfigError, match="canvas source"):
        load_detection_canvases("cifar100")


def write_png(path, height=20, width=30, value=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((height, width), value, dtype=np.uint8)).save(path)


def test_yolo_labels_become_pixel_boxes(tmp_path):
    (tmp_path / "data.yaml").write_text("names: [cat, dog]\n")
    for part, stem in (("train", "a"), ("train", "b"), ("val", "c")):
        write_png(tmp_path / "images" / part / f"{stem}.png")
    (tmp_path / "labels" / "train").mkdir(parents=True)
    (tmp_path / "labels" / "train" / "a.txt").write_text("1 0.5 0.5 0.2 0.5\n0 0.1 0.1 0.2 0.2\n")
    train, test = load_yolo(tmp_path)
    assert train.classes == ["cat", "dog"] and len(train) == 2 and len(test) == 1
    boxes, classes = train.targets(0)
    torch.testing.assert_close(boxes, torch.tensor([[12.0, 5, 18, 15], [0, 0, 6, 4]]))
    assert classes.tolist() == [1, 0]
    assert len(train.targets(1)[0]) == 0  # no label file: no objects


def yolo_folder_of_two_sizes(root):
    """a.png 20x30 (height x width) and b.png 60x20, white, each with one centred box of half
    its width and height."""
    (root / "classes.txt").write_text("cat\n")
    write_png(root / "images" / "a.png", 20, 30, value=255)
    write_png(root / "images" / "b.png", 60, 20, value=255)
    (root / "labels").mkdir()
    for stem in ("a", "b"):
        (root / "labels" / f"{stem}.txt").write_text("0 0.5 0.5 0.5 0.5\n")


def test_yolo_images_of_different_sizes_are_refused_naming_both(tmp_path):
    yolo_folder_of_two_sizes(tmp_path)
    with pytest.raises(DataError, match=r"b\.png is 20x60 .*a\.png is 30x20.*image_size"):
        load_yolo(tmp_path)


def test_image_size_letterboxes_each_image_and_its_boxes(tmp_path):
    """Into 60 x 60: a (20x30) is scaled by 2 to 40x60, 10 rows of black above and below;
    its box (7.5, 5, 22.5, 15) becomes (15, 20, 45, 40). b (60x20) keeps its scale, 20
    black columns each side; its box (5, 15, 15, 45) becomes (25, 15, 35, 45)."""
    yolo_folder_of_two_sizes(tmp_path)
    splits = load_data("yolo", tmp_path, image_size=60, val_fraction=0.5)
    everything = [splits.train, splits.val, splits.test]
    images = torch.cat([part.images for part in everything if len(part)])
    labels = torch.cat([part.labels for part in everything if len(part)])
    assert images.shape[1:] == (1, 60, 60)
    by_height = {
        int((image[0, :, 30] > 0).sum()): row for image, row in zip(images, labels, strict=True)
    }
    torch.testing.assert_close(by_height[40][0, :4], torch.tensor([15.0, 20, 45, 40]))
    torch.testing.assert_close(by_height[60][0, :4], torch.tensor([25.0, 15, 35, 45]))
    for image in images:
        ink = image[0] > 0
        rows, cols = ink.any(1).nonzero()[:, 0], ink.any(0).nonzero()[:, 0]
        bounds = (rows.min().item(), rows.max().item(), cols.min().item(), cols.max().item())
        assert bounds in {(10, 49, 0, 59), (0, 59, 20, 39)}


def test_image_size_letterboxes_coco_images_too(tmp_path):
    write_png(tmp_path / "images" / "a.png", 20, 30)
    write_png(tmp_path / "images" / "b.png", 60, 20)
    coco_file(
        tmp_path / "train.json", [{"id": 1, "image_id": 0, "category_id": 3, "bbox": [3, 4, 6, 8]}]
    )
    coco_file(
        tmp_path / "val.json",
        [{"id": 1, "image_id": 0, "category_id": 7, "bbox": [5, 15, 10, 30]}],
        images=("b.png",),
    )
    train, test = load_coco(tmp_path, image_size=60)
    # a: scale 2, 10 rows down; b: scale 1, 20 columns right
    torch.testing.assert_close(train.targets(0)[0], torch.tensor([[6.0, 18, 18, 34]]))
    torch.testing.assert_close(test.targets(0)[0], torch.tensor([[25.0, 15, 35, 45]]))
    with pytest.raises(DataError, match="share one size"):
        load_coco(tmp_path)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("2 0.5 0.5 0.2 0.2", "class 2 is not one of the 2 classes"),
        ("0 0.5 0.5 0.2", "expected 'class cx cy w h'"),
        ("0 0.95 0.5 0.2 0.2", "outside"),
    ],
)
def test_bad_yolo_labels_are_refused_with_their_file(tmp_path, line, message):
    (tmp_path / "data.yaml").write_text("names: {0: cat, 1: dog}\n")
    write_png(tmp_path / "images" / "train" / "a.png")
    (tmp_path / "labels" / "train").mkdir(parents=True)
    (tmp_path / "labels" / "train" / "a.txt").write_text(line + "\n")
    with pytest.raises(DataError, match=message) as info:
        load_yolo(tmp_path)
    assert "a.txt" in str(info.value)


def coco_file(path, annotations, images=("a.png",)):
    path.write_text(
        json.dumps(
            {
                "images": [{"id": i, "file_name": name} for i, name in enumerate(images)],
                "categories": [{"id": 3, "name": "cat"}, {"id": 7, "name": "dog"}],
                "annotations": annotations,
            }
        )
    )


def test_coco_boxes_and_categories_are_read_in_category_order(tmp_path):
    write_png(tmp_path / "images" / "a.png")
    write_png(tmp_path / "images" / "b.png")
    annotations = [
        {"id": 1, "image_id": 0, "category_id": 7, "bbox": [2, 3, 10, 5]},
        {"id": 2, "image_id": 0, "category_id": 3, "bbox": [0, 0, 4, 4], "iscrowd": 1},
    ]
    coco_file(tmp_path / "train.json", annotations)
    coco_file(tmp_path / "val.json", [], images=("b.png",))
    train, test = load_coco(tmp_path)
    assert train.classes == ["cat", "dog"] and len(test) == 1
    boxes, classes = train.targets(0)
    torch.testing.assert_close(boxes, torch.tensor([[2.0, 3, 12, 8]]))  # crowd left out
    assert classes.tolist() == [1]


def test_a_coco_annotation_naming_an_unknown_category_is_refused(tmp_path):
    write_png(tmp_path / "images" / "a.png")
    coco_file(
        tmp_path / "train.json", [{"id": 5, "image_id": 0, "category_id": 4, "bbox": [0] * 4}]
    )
    with pytest.raises(DataError, match="category 4"):
        load_coco(tmp_path)


def test_yolo_and_coco_need_a_data_dir():
    with pytest.raises(DataError, match="--data-dir"):
        load_data("yolo")
    with pytest.raises(DataError, match="--data-dir"):
        load_data("coco")
