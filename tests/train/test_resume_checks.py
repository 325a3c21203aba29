"""What a resume checks in last.safetensors before it trusts it (issue 31)."""

import pytest
import torch

from cnnlab.train.config import INT_MAX
from cnnlab.train.trainer import _check_optimizer_kind, _match_parameter_layouts, _progress


def _optimizer(kind):
    return kind([torch.nn.Parameter(torch.zeros(2, 3))], lr=0.1)


def test_the_state_of_another_optimizer_is_refused():
    """load_state_dict would take Adam's settings into SGD, whose step then fails."""
    adam = _optimizer(torch.optim.Adam).state_dict()
    with pytest.raises(ValueError, match=r"another optimizer.*betas.*momentum"):
        _check_optimizer_kind(_optimizer(torch.optim.SGD), adam)
    _check_optimizer_kind(_optimizer(torch.optim.Adam), adam)


def test_optimizer_state_shaped_unlike_its_parameter_is_refused():
    sgd = torch.optim.SGD([torch.nn.Parameter(torch.zeros(2, 3))], lr=0.1, momentum=0.9)
    sgd.state[sgd.param_groups[0]["params"][0]] = {"momentum_buffer": torch.zeros(3)}
    with pytest.raises(ValueError, match=r"momentum_buffer \(3,\) for \(2, 3\)"):
        _match_parameter_layouts(sgd)


GOOD = {"epoch": 3, "best_epoch": 2, "bad_epochs": 1, "history": [{"val_acc": 0.5}] * 3}


@pytest.mark.parametrize(
    "change",
    [
        {"epoch": -5},
        {"epoch": INT_MAX + 1},
        {"epoch": "3"},
        {"epoch": 1.5},
        {"best_epoch": True},
        {"history": 5},
        {"history": [1, 2]},
    ],
    ids=["negative", "huge", "string", "fraction", "bool", "not-a-list", "rows-not-mappings"],
)
def test_tampered_trainer_progress_is_refused(change):
    with pytest.raises((TypeError, ValueError)):
        _progress({**GOOD, **change})


def test_the_trainer_progress_written_by_a_run_is_accepted():
    assert _progress(GOOD) == (3, 2, 1, GOOD["history"])
