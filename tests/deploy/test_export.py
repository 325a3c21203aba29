"""Export to ONNX and torch.export programs: same predictions, metadata carried along."""

import json
import sys
import zipfile

import pytest
import torch
from torch import nn

from cnnlab.deploy import OnnxClassifier, export_onnx, export_run
from cnnlab.deploy.export import ExportError
from cnnlab.deploy.optional import require
from cnnlab.errors import CnnlabError, ConfigError
from cnnlab.runs import load_run


@pytest.fixture(scope="module")
def onnx_file(lenet_digits_run, tmp_path_factory):
    path = tmp_path_factory.mktemp("export") / "lenet5.onnx"
    return export_run(lenet_digits_run, "onnx", path, limit=64)


def test_onnx_export_is_checked_on_the_test_split(onnx_file):
    assert onnx_file.path.is_file() and onnx_file.num_images == 64
    assert onnx_file.max_abs_diff <= 1e-4 and onnx_file.same_predictions


def test_onnx_file_carries_classes_input_shape_and_preprocessing(onnx_file, lenet_digits_run):
    model = OnnxClassifier.load(onnx_file.path)
    run = load_run(lenet_digits_run)
    assert model.classes == run.classes and model.input_shape == run.input_shape
    assert model.metadata["mean"] == pytest.approx([0.3])
    assert model.metadata["std"] == pytest.approx([0.4])


@pytest.mark.parametrize("batch", [1, 5])
def test_onnx_model_takes_any_batch_size_and_matches_pytorch(onnx_file, lenet_digits_run, batch):
    run = load_run(lenet_digits_run)
    x = torch.rand(batch, *run.input_shape, generator=torch.Generator().manual_seed(batch))
    got = OnnxClassifier.load(onnx_file.path).predict_proba(x)
    torch.testing.assert_close(got, run.predict_proba(x), rtol=0, atol=1e-5)


def test_exported_program_round_trips_with_its_metadata(lenet_digits_run, tmp_path):
    result = export_run(lenet_digits_run, "exported-program", tmp_path / "m.pt2", limit=32)
    extra = {"cnnlab.json": ""}
    program = torch.export.load(result.path, extra_files=extra)
    run = load_run(lenet_digits_run)
    x = torch.rand(3, *run.input_shape)
    torch.testing.assert_close(program.module()(x), run.model(x).detach())
    assert json.loads(json.loads(extra["cnnlab.json"])["cnnlab.classes"]) == run.classes
    assert zipfile.is_zipfile(result.path)


class _Spectrum(nn.Module):
    """A model with an operation the ONNX exporter cannot translate (an SVD)."""

    def forward(self, x):
        v = x.flatten(1)
        return torch.linalg.svd(v.T @ v)[1][None, :3].expand(len(x), 3)


def test_an_operation_without_translation_is_named():
    with pytest.raises(ExportError, match=r"aten\._linalg_svd"):
        export_onnx(_Spectrum(), (1, 4, 4))


def test_unknown_format_is_refused(lenet_digits_run):
    with pytest.raises(CnnlabError, match="tflite"):
        export_run(lenet_digits_run, "tflite")


def test_a_missing_optional_dependency_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(ConfigError, match=r"cnnlab\[export\]"):
        require("onnxruntime")


def test_an_onnx_file_without_cnnlab_metadata_is_refused(tmp_path):
    from cnnlab.errors import CheckpointError

    path = tmp_path / "plain.onnx"
    path.write_bytes(export_onnx(nn.Sequential(nn.Flatten(), nn.Linear(4, 2)), (1, 2, 2)))
    with pytest.raises(CheckpointError, match="cnnlab export"):
        OnnxClassifier.load(path)


def test_torchscript_is_refused_with_the_replacement(lenet_digits_run):
    with pytest.raises(ConfigError, match="exported-program"):
        export_run(lenet_digits_run, "torchscript")
