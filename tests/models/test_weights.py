"""Loading state dicts into cnnlab models (cnnlab.models.weights)."""

import pickle

import pytest
import torch
from safetensors.torch import save_file

from cnnlab.errors import CheckpointError
from cnnlab.models import create_model
from cnnlab.models.weights import load_torchvision_weights, read_state_dict, rename_keys


def _simple(**kwargs):
    torch.manual_seed(0)
    return create_model("simple_cnn", channels=(4, 8), **kwargs).eval()


def test_weights_file_gives_the_same_outputs(tmp_path):
    source = _simple(in_chans=3)
    torch.save(source.state_dict(), tmp_path / "w.pth")
    save_file(source.state_dict(), tmp_path / "w.safetensors")
    x = torch.rand(2, 3, 16, 16)
    for name in ("w.pth", "w.safetensors"):
        loaded = create_model(
            "simple_cnn", channels=(4, 8), in_chans=3, weights=tmp_path / name
        ).eval()
        torch.testing.assert_close(loaded(x), source(x))


def test_new_number_of_classes_reinitialises_the_head_and_says_so():
    source, target = _simple(num_classes=10), _simple(num_classes=3)
    report = load_torchvision_weights(target, source.state_dict())
    assert report.reinitialized == ["head.fc.weight", "head.fc.bias"]
    torch.testing.assert_close(target.features.conv1.conv.weight, source.features.conv1.conv.weight)


def test_single_channel_model_sums_the_rgb_filters():
    source, target = _simple(in_chans=3), _simple(in_chans=1)
    report = load_torchvision_weights(target, source.state_dict())
    assert report.adapted == ["features.conv1.conv.weight"]
    grey = torch.rand(2, 1, 16, 16)
    torch.testing.assert_close(target(grey), source(grey.expand(-1, 3, -1, -1)))


@pytest.mark.parametrize("in_chans", [2, 5, 6])
def test_more_channels_keep_the_response_to_grey(in_chans):
    source, target = _simple(in_chans=3), _simple(in_chans=in_chans)
    load_torchvision_weights(target, source.state_dict())
    grey = torch.rand(2, 1, 16, 16)
    torch.testing.assert_close(
        target(grey.expand(-1, in_chans, -1, -1)), source(grey.expand(-1, 3, -1, -1))
    )


def test_a_multiple_of_three_channels_keeps_the_colour_filters():
    source, target = _simple(in_chans=3), _simple(in_chans=6)
    load_torchvision_weights(target, source.state_dict())
    w, w6 = source.features.conv1.conv.weight, target.features.conv1.conv.weight
    torch.testing.assert_close(w6[:, 3:], w / 2)


def test_weights_of_another_architecture_are_refused_with_the_keys():
    with pytest.raises(CheckpointError, match="missing"):
        load_torchvision_weights(_simple(), {"conv.weight": torch.zeros(1)})
    wider = create_model("simple_cnn", channels=(6, 8)).state_dict()
    with pytest.raises(CheckpointError, match="another variant"):
        load_torchvision_weights(_simple(), wider)


def test_rename_rules_apply_the_first_matching_pattern():
    state = {"layer1.0.conv1.weight": torch.zeros(1), "fc.bias": torch.zeros(1)}
    rules = (
        (r"^layer(\d)\.(\d+)\.conv(\d)\.", r"features.layer\1.\2.conv\3.conv."),
        (r"^layer", "never."),
        (r"^fc\.", "head.fc."),
    )
    assert list(rename_keys(state, rules)) == [
        "features.layer1.0.conv1.conv.weight",
        "head.fc.bias",
    ]


def test_pickled_code_in_a_weights_file_is_not_executed(tmp_path):
    class Payload:
        def __reduce__(self):
            return (exec, ("raise SystemExit('executed')",))

    path = tmp_path / "evil.pth"
    path.write_bytes(pickle.dumps({"w": Payload()}))
    with pytest.raises(CheckpointError, match="Cannot read weights"):
        read_state_dict(path)


def test_missing_weights_file_is_named(tmp_path):
    with pytest.raises(CheckpointError, match=r"nothing\.pth does not exist"):
        create_model("simple_cnn", weights=tmp_path / "nothing.pth")
