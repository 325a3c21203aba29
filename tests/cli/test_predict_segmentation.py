"""``cnnlab predict`` on a segmentation run: index-PNG mask and colour overlay per image."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from cnnlab import TrainConfig, Trainer, runs
from cnnlab.data.canvas import load_digit_canvases
from cnnlab.data.segfolder import read_mask
from cnnlab.report.segmentation_figures import class_colours
from tests.cli.helpers import run_cli


@pytest.fixture(scope="module")
def segmentation_run(tmp_path_factory):
    """A one-epoch segnet_small run on a segfolder of 20 canvases (a small final evaluation)."""
    root = tmp_path_factory.mktemp("segfolder")
    _, canvases = load_digit_canvases(train=1, test=22)
    (root / "images").mkdir()
    (root / "masks").mkdir()
    (root / "classes.txt").write_text("\n".join(canvases.classes))
    for i in range(20):
        Image.fromarray(canvases.images[i, 0].numpy()).save(root / "images" / f"{i}.png")
        Image.fromarray(canvases.labels[i].numpy().astype(np.uint8)).save(
            root / "masks" / f"{i}.png"
        )
    config = TrainConfig(
        task="segmentation",
        model="segnet_small",
        dataset="segfolder",
        data_dir=str(root),
        epochs=1,
        batch_size=8,
    )
    run_dir = tmp_path_factory.mktemp("seg") / "run"
    Trainer(config, run_dir, quiet=True).fit()
    return run_dir, canvases.images[20:22]


def test_predict_writes_the_mask_and_overlay_of_each_image(capsys, segmentation_run, tmp_path):
    run_dir, canvases = segmentation_run
    paths = []
    for i, canvas in enumerate(canvases):
        paths.append(tmp_path / f"canvas{i}.png")
        Image.fromarray(canvas[0].numpy()).save(paths[-1])
    out_dir = tmp_path / "masks"
    code, out, _ = run_cli(
        capsys, "predict", str(run_dir), *map(str, paths), "--masks-dir", str(out_dir)
    )
    assert code == 0
    run = runs.load_run(run_dir)
    palette = np.array(class_colours(len(run.classes)).colors) * 255
    for path, canvas in zip(paths, canvases, strict=True):
        with torch.inference_mode():
            expected = run.model(canvas[None].float() / 255).argmax(1)[0]
        written = out_dir / f"{path.stem}.mask.png"
        assert Image.open(written).mode == "P"
        mask = read_mask(written, (64, 64), run.classes)  # segfolder reads it back
        assert torch.equal(mask, expected)
        overlay = np.asarray(Image.open(out_dir / f"{path.stem}.overlay.png")).astype(float)
        grey = canvas[0].numpy().astype(float)
        background = (mask == 0).numpy()
        assert np.array_equal(overlay[background], np.repeat(grey[background, None], 3, 1))
        for c in mask.unique().tolist():
            if c:  # half image, half class colour
                blended = 0.5 * grey[(mask == c).numpy(), None] + 0.5 * palette[c]
                assert np.abs(overlay[(mask == c).numpy()] - blended).max() <= 1
        shares = torch.bincount(mask.flatten(), minlength=len(run.classes)) / mask.numel()
        line = next(line for line in out.splitlines() if line.startswith(f"{path}:"))
        top = int(shares.argmax())
        assert f"{run.classes[top]} {100 * shares[top]:.1f} %" in line


def test_predict_resizes_back_to_the_files_own_size(capsys, segmentation_run, tmp_path):
    run_dir, canvases = segmentation_run
    path = tmp_path / "big.png"
    Image.fromarray(canvases[0, 0].numpy()).resize((96, 80)).convert("RGB").save(path)
    code, _, _ = run_cli(capsys, "predict", str(run_dir), str(path), "--masks-dir", str(tmp_path))
    assert code == 0
    assert Image.open(tmp_path / "big.mask.png").size == (96, 80)
    assert Image.open(tmp_path / "big.overlay.png").size == (96, 80)
