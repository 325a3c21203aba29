"""The classic experiments (cnnlab.experiments, cnnlab experiment NAME) on tiny settings."""

import json

import pytest

from cnnlab.errors import UnknownNameError
from cnnlab.experiments import run_experiment
from cnnlab.experiments.activation import _first_epoch, _verdict
from tests.cli.helpers import run_cli


def _metrics(folder):
    return json.loads((folder / "metrics.json").read_text())


def test_init_experiment_writes_its_table_figure_and_report(capsys, tmp_path):
    code, text, _ = run_cli(capsys, "experiment", "init", "--out", str(tmp_path / "init"))
    assert code == 0 and "report:" in text
    stds = _metrics(tmp_path / "init")["init"]
    small = next(label for label in stds if "0.01" in label and "tanh" in label)
    xavier = next(label for label in stds if "Xavier" in label and "tanh" in label)
    assert stds[small][-1] < 1e-6 < 0.1 < stds[xavier][-1]  # vanishing vs kept
    html = (tmp_path / "init" / "report.html").read_text()
    assert "Initialisation experiment" in html and "activation_std" in json.dumps(
        json.loads((tmp_path / "init" / "sections.json").read_text())
    )


def test_imbalance_shows_the_accuracy_pitfall(tmp_path):
    metrics = run_experiment(
        "imbalance", tmp_path / "imb", dataset="digits", classes=["0", "1"], epochs=2
    )
    train, _, test = (metrics["counts"][s] for s in ("train", "val", "test"))
    assert train[1] == round(train[0] * 0.05 / 0.95)  # 95/5
    assert test[1] == max(1, round(test[0] * 0.05 / 0.95))
    majority = metrics["majority"]
    assert majority["accuracy"] == pytest.approx(test[0] / sum(test))
    assert majority["balanced_accuracy"] == 0.5 and majority["cohen_kappa"] == 0.0
    model = metrics["model"]
    assert model["balanced_accuracy"] == pytest.approx(sum(model["recall"]) / 2)
    assert (tmp_path / "imb" / "figures" / "minority_pr.png").is_file()
    assert (tmp_path / "imb" / "report.html").is_file()


def test_activation_experiment_runs_both_networks_and_states_its_verdict(tmp_path):
    metrics = run_experiment(
        "activation", tmp_path / "act", dataset="digits", epochs=2, per_class=20
    )
    for act in ("relu", "tanh"):
        curve = metrics["train_error"][act]
        assert len(curve) == 2 and all(0 <= e <= 1 for e in curve)
        assert metrics["epoch_reaching_target"][act] == _first_epoch(curve, 0.25)
    assert metrics["verdict"] == _verdict(metrics["epoch_reaching_target"], metrics["speedup"], 2)
    assert (tmp_path / "act" / "report.html").is_file()


def test_verdict_says_plainly_whether_the_paper_reproduces():
    assert _first_epoch([0.5, 0.3, 0.2, 0.1], 0.25) == 3
    assert "reproduces the paper's 6x" in _verdict({"relu": 2, "tanh": 12}, 6.0, 20)
    assert "does not reproduce" in _verdict({"relu": 4, "tanh": 8}, 2.0, 20)
    assert "not within 20" in _verdict({"relu": 5, "tanh": None}, None, 20)


def test_unknown_experiment_lists_the_known_ones(tmp_path):
    with pytest.raises(UnknownNameError, match="imbalance"):
        run_experiment("depth-of-field", tmp_path)


@pytest.mark.slow
def test_depth_experiment_trains_plain_and_residual_networks(tmp_path):
    """Two ResNet-sized models: minutes on a busy 2-core host, hence slow."""
    results = run_experiment(
        "depth", tmp_path / "depth", dataset="digits", depths=(20,), epochs=1, per_class=10
    )
    assert set(results) == {"plain20", "resnet20"}
    assert all(len(r["train_error"]) == 1 for r in results.values())
    assert (tmp_path / "depth" / "figures" / "depth.png").is_file()


def test_depth_verdict_compares_the_depths_as_he_et_al():
    from cnnlab.experiments.depth import _verdict as depth_verdict

    def curves(**final):
        return {name: {"train_error": [0.9, error]} for name, error in final.items()}

    paper = curves(plain20=0.10, plain56=0.15, resnet20=0.10, resnet56=0.05)
    text = depth_verdict(paper, (20, 56))
    assert "plain network's training error is higher" in text
    assert "ResNet's is lower" in text
    other = curves(plain20=0.15, plain56=0.10, resnet20=0.05, resnet56=0.10)
    assert "is not higher" in depth_verdict(other, (20, 56))
    assert "is not lower" in depth_verdict(other, (20, 56))
