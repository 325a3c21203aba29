"""`cnnlab evaluate` and `predict` on a finished run."""

import json

import numpy as np
from PIL import Image

from tests.cli.helpers import run_cli


def test_evaluate_prints_and_writes_the_metrics(capsys, digits_run):
    code, out, _ = run_cli(capsys, "evaluate", str(digits_run), "--split", "val")
    assert code == 0 and "macro" in out and "weighted" in out
    metrics = json.loads((digits_run / "metrics.json").read_text())
    assert metrics["val"]["split"] == "val" and "test" in metrics


def test_evaluate_on_a_data_set_with_other_classes_is_refused(capsys, digits_run, tmp_path):
    from tests.data_helpers import write_idx_dataset

    write_idx_dataset(tmp_path / "fmnist", num_images=20)
    code, _, err = run_cli(
        capsys,
        "evaluate",
        str(digits_run),
        "--dataset",
        "fashion-mnist",
        "--data-dir",
        str(tmp_path / "fmnist"),
    )
    assert code == 2 and "not trained on" in err and "Traceback" not in err


def test_evaluate_on_another_data_set_maps_classes_by_name(capsys, digits_run, tmp_path):
    from tests.data_helpers import write_idx_dataset

    write_idx_dataset(tmp_path / "mnist", num_images=40)
    code, _, _ = run_cli(
        capsys,
        "evaluate",
        str(digits_run),
        "--dataset",
        "mnist",
        "--data-dir",
        str(tmp_path / "mnist"),
    )
    assert code == 0
    metrics = json.loads((digits_run / "metrics.json").read_text())
    assert metrics["mnist/test"]["num_images"] == 40


def test_predict_takes_images_of_any_size_and_mode(capsys, digits_run, tmp_path):
    rng = np.random.default_rng(0)
    paths = []
    for mode, size in (("RGB", (50, 37)), ("L", (8, 8)), ("RGBA", (100, 100))):
        path = tmp_path / f"img_{mode}.png"
        channels = {"RGB": 3, "L": 1, "RGBA": 4}[mode]
        pixels = rng.integers(0, 256, (size[1], size[0], channels), dtype=np.uint8)
        Image.fromarray(pixels.squeeze(-1) if channels == 1 else pixels, mode).save(path)
        paths.append(str(path))
    jpeg = tmp_path / "img.jpg"
    Image.open(paths[0]).save(jpeg)
    code, out, _ = run_cli(capsys, "predict", str(digits_run), *paths, str(jpeg), "--top-k", "3")
    assert code == 0
    lines = out.strip().splitlines()
    assert len(lines) == 4
    probs = [float(tok) for tok in lines[0].split(": ", 1)[1].replace(",", "").split()[1::2]]
    assert len(probs) == 3 and probs == sorted(probs, reverse=True) and sum(probs) <= 1.0 + 1e-6


def test_predict_names_an_unreadable_image(capsys, digits_run, tmp_path):
    bad = tmp_path / "notes.png"
    bad.write_text("not an image")
    code, _, err = run_cli(capsys, "predict", str(digits_run), str(bad))
    assert code == 2 and "notes.png" in err


def test_tampered_checkpoint_is_refused(capsys, digits_run, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(digits_run, copy)
    weights = copy / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-10])
    code, _, err = run_cli(capsys, "evaluate", str(copy))
    assert code == 2 and "sha256" in err


def test_evaluate_several_runs_prints_and_writes_the_ensemble(capsys, digits_run, tmp_path):
    out = tmp_path / "ensemble"
    code, text, _ = run_cli(
        capsys, "evaluate", str(digits_run), str(digits_run), "--tta", "crops", "--out", str(out)
    )
    assert code == 0
    assert text.count("member ") == 2 and "ensemble of 2 runs" in text
    assert (out / "metrics.json").is_file() and (out / "report.html").is_file()
