import pytest
import torch

from cnnlab.errors import CheckpointError
from cnnlab.runs import load_state, load_weights, save_state, save_weights


def test_state_round_trip_keeps_tensors_scalars_and_int_keys(tmp_path):
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.randn(4, 3)).sum().backward()
    optimizer.step()
    state = {
        "optimizer": optimizer.state_dict(),
        "rng": torch.get_rng_state(),
        "trainer": {"epoch": 3, "best": None, "history": [{"a": 1.5}]},
    }
    save_state(tmp_path / "s.safetensors", state)
    loaded = load_state(tmp_path / "s.safetensors")
    assert loaded["trainer"] == state["trainer"]
    assert torch.equal(loaded["rng"], state["rng"])
    assert set(loaded["optimizer"]["state"]) == {0, 1}
    for key, value in state["optimizer"]["state"][0].items():
        assert torch.equal(loaded["optimizer"]["state"][0][key], value)
    fresh = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    fresh.load_state_dict(loaded["optimizer"])


def test_truncated_state_is_a_checkpoint_error(tmp_path):
    path = tmp_path / "s.safetensors"
    save_state(path, {"w": torch.ones(100)})
    path.write_bytes(path.read_bytes()[:-50])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_state(path)


def test_tampered_weights_fail_the_sha256_check(tmp_path):
    path = tmp_path / "w.safetensors"
    sha = save_weights(path, torch.nn.Linear(2, 2))
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="sha256"):
        load_weights(path, sha)


def test_unpicklable_values_are_refused(tmp_path):
    with pytest.raises(TypeError, match="cannot store"):
        save_state(tmp_path / "s.safetensors", {"f": object()})
    assert not list(tmp_path.iterdir())
