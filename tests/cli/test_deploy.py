"""`cnnlab export`, `predict` from an ONNX file or through the inference path, `bench`."""

import numpy as np
import pytest
from PIL import Image

from tests.cli.helpers import run_cli


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    path = tmp_path_factory.mktemp("images") / "digit.png"
    pixels = np.random.default_rng(0).integers(0, 256, (20, 20), dtype=np.uint8)
    Image.fromarray(pixels, "L").save(path)
    return str(path)


@pytest.fixture(scope="module")
def onnx_path(lenet_run, tmp_path_factory):
    path = tmp_path_factory.mktemp("export") / "lenet5.onnx"
    from cnnlab.cli import main

    assert main(["export", str(lenet_run), "--out", str(path), "--limit", "32"]) == 0
    return path


def test_export_writes_the_file_and_reports_the_check(capsys, lenet_run, tmp_path):
    out_file = tmp_path / "m.pt2"
    code, out, _ = run_cli(
        capsys, "export", str(lenet_run), "--format", "exported-program", "--out", str(out_file)
    )
    assert code == 0 and out_file.is_file()
    assert "identical predictions" in out and "test images" in out


def test_predict_from_the_onnx_file_prints_what_the_run_prints(capsys, lenet_run, onnx_path, image):
    _, from_run, _ = run_cli(capsys, "predict", str(lenet_run), image, "--top-k", "3")
    code, from_onnx, _ = run_cli(capsys, "predict", str(onnx_path), image, "--top-k", "3")
    assert code == 0 and from_onnx == from_run and from_run.count(",") == 2


def test_predict_fast_prints_what_the_eager_model_prints(capsys, lenet_run, image):
    _, eager, _ = run_cli(capsys, "predict", str(lenet_run), image)
    code, fast, _ = run_cli(capsys, "predict", str(lenet_run), image, "--fast")
    assert code == 0 and fast == eager


def test_export_of_a_missing_run_is_an_error_without_traceback(capsys, tmp_path):
    code, _, err = run_cli(capsys, "export", str(tmp_path / "nothing"))
    assert code == 2 and "nothing" in err and "Traceback" not in err


def test_bench_prints_a_markdown_row_per_engine(capsys):
    code, out, _ = run_cli(
        capsys,
        *("bench", "lenet5", "--input-size", "32", "--in-chans", "1", "--num-classes", "10"),
        *("--repeats", "3", "--batch-size", "4", "--batch-repeats", "1", "--threads", "1"),
    )
    assert code == 0
    rows = [line for line in out.splitlines() if line.startswith("| ")]
    engines = [row.split("|")[1].strip() for row in rows[1:]]
    assert engines == ["cnnlab eager", "cnnlab inference", "onnxruntime"]
