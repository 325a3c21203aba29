import json

import pytest
import torch
from tests.train.conftest import NanAfter

from cnnlab import TrainConfig, Trainer, load_run
from cnnlab.errors import ConfigError, TrainingDivergedError, UnknownNameError
from cnnlab.runs import load_state, load_weights

FAST = {"epochs": 3, "seed": 3, "model": "simple_cnn", "model_kwargs": {"dropout": 0.3}}


class InterruptAfter:
    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, trainer, row):
        if row["epoch"] == self.epoch:
            raise KeyboardInterrupt


def _history(run_dir):
    return [json.loads(line) for line in (run_dir / "history.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("augment", [[], ["alternating_flip", "crop:2"]])
def test_resumed_run_ends_with_the_same_weights_as_an_uninterrupted_one(tmp_path, augment):
    config = TrainConfig(**FAST, augment=augment)
    Trainer(config, tmp_path / "whole", quiet=True).fit()
    with pytest.raises(KeyboardInterrupt):
        Trainer(config, tmp_path / "cut", quiet=True, callbacks=[InterruptAfter(2)]).fit()
    assert len(_history(tmp_path / "cut")) == 2
    Trainer.resume(tmp_path / "cut", quiet=True).fit()
    whole = load_state(tmp_path / "whole" / "last.safetensors")["model"]
    resumed = load_state(tmp_path / "cut" / "last.safetensors")["model"]
    for key in whole:
        torch.testing.assert_close(resumed[key], whole[key], rtol=0, atol=0)
    losses = [row["train_loss"] for row in _history(tmp_path / "whole")]
    assert [row["train_loss"] for row in _history(tmp_path / "cut")] == losses


def test_a_run_stopped_inside_its_first_epoch_resumes(tmp_path, monkeypatch):
    config = TrainConfig(**{**FAST, "epochs": 1})
    Trainer(config, tmp_path / "whole", quiet=True).fit()

    def interrupted(self):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(Trainer, "train_epoch", interrupted)
        with pytest.raises(KeyboardInterrupt):
            Trainer(config, tmp_path / "cut", quiet=True).fit()
    assert not (tmp_path / "cut" / "history.jsonl").exists()
    Trainer.resume(tmp_path / "cut", quiet=True).fit()
    whole = load_state(tmp_path / "whole" / "last.safetensors")["model"]
    resumed = load_state(tmp_path / "cut" / "last.safetensors")["model"]
    for key in whole:
        torch.testing.assert_close(resumed[key], whole[key], rtol=0, atol=0)


def test_resume_can_extend_the_number_of_epochs(tmp_path):
    Trainer(TrainConfig(**{**FAST, "epochs": 1}), tmp_path / "run", quiet=True).fit()
    Trainer.resume(tmp_path / "run", epochs=2, quiet=True).fit()
    assert [row["epoch"] for row in _history(tmp_path / "run")] == [1, 2]


def test_best_checkpoint_is_the_epoch_with_the_best_validation_accuracy(tmp_path):
    run_dir = Trainer(TrainConfig(**FAST), tmp_path / "run", quiet=True).fit()
    history = _history(run_dir)
    meta = json.loads((run_dir / "meta.json").read_text())
    best = max(history, key=lambda row: (row["val_acc"], -row["val_loss"]))
    assert meta["epoch"] == best["epoch"]
    assert meta["metric"] == {"name": "val_acc", "value": best["val_acc"]}
    load_weights(run_dir / "model.safetensors", meta["weights_sha256"])


def test_loaded_run_reproduces_the_validation_accuracy(tmp_path):
    trainer = Trainer(TrainConfig(**FAST), tmp_path / "run", quiet=True)
    run_dir = trainer.fit()
    run = load_run(run_dir)
    images, labels = trainer.data.val.images.float() / 255, trainer.data.val.labels
    accuracy = (run.predict_proba(images).argmax(1) == labels).float().mean().item()
    meta = json.loads((run_dir / "meta.json").read_text())
    assert accuracy == pytest.approx(meta["metric"]["value"])


def test_same_seed_gives_the_same_history(tmp_path):
    rows = []
    for name in ("a", "b"):
        run_dir = Trainer(TrainConfig(**{**FAST, "epochs": 2}), tmp_path / name, quiet=True).fit()
        rows.append([(r["train_loss"], r["val_acc"]) for r in _history(run_dir)])
    assert rows[0] == rows[1]


def test_divergence_stops_with_a_message_and_keeps_the_last_good_checkpoint(tmp_path):
    trainer = Trainer(TrainConfig(**FAST), tmp_path / "run", quiet=True)
    trainer.task.criterion = NanAfter(trainer.steps_per_epoch + 5)
    with pytest.raises(TrainingDivergedError, match="Lower the learning rate"):
        trainer.fit()
    state = load_state(tmp_path / "run" / "last.safetensors")
    assert state["trainer"]["epoch"] == 1
    assert all(torch.isfinite(v).all() for v in state["model"].values())


def test_early_stopping_stops_after_patience_epochs_without_improvement(tmp_path):
    trainer = Trainer(
        TrainConfig(**{**FAST, "epochs": 30}, early_stopping=2), tmp_path / "run", quiet=True
    )
    trainer.validate = lambda dataset: {
        "val_loss": 0.5,
        "val_acc": 0.8,
    }  # validation never improves
    trainer.fit()
    assert len(_history(tmp_path / "run")) == 3
    assert json.loads((tmp_path / "run" / "meta.json").read_text())["epoch"] == 1


def test_validation_accuracy_ties_are_broken_by_the_lower_loss(tmp_path):
    trainer = Trainer(TrainConfig(**FAST), tmp_path / "run", quiet=True)
    scores = iter([{"val_loss": v, "val_acc": 1.0} for v in (0.3, 0.1, 0.2)])
    trainer.validate = lambda dataset: next(scores)
    trainer.fit()
    assert json.loads((tmp_path / "run" / "meta.json").read_text())["epoch"] == 2


def test_an_existing_run_is_never_overwritten(tmp_path):
    Trainer(TrainConfig(**{**FAST, "epochs": 1}), tmp_path / "run", quiet=True).fit()
    with pytest.raises(ConfigError, match="--resume"):
        Trainer(TrainConfig(**{**FAST, "epochs": 1}), tmp_path / "run", quiet=True).fit()


def test_bad_model_name_fails_before_a_run_directory_is_created(tmp_path):
    with pytest.raises(UnknownNameError, match="lenet5"):
        Trainer(TrainConfig(model="lenet6"), tmp_path / "run", quiet=True)
    assert not (tmp_path / "run").exists()


def test_load_run_gives_the_last_weights_on_request(tmp_path):
    trainer = Trainer(TrainConfig(**FAST), tmp_path / "run", quiet=True)
    trainer.fit()
    last = load_run(tmp_path / "run", weights="last").model.state_dict()
    for key, value in trainer.model.state_dict().items():
        torch.testing.assert_close(last[key], value, rtol=0, atol=0)
    with pytest.raises(ConfigError, match="'best' or 'last'"):
        load_run(tmp_path / "run", weights="first")


@pytest.mark.parametrize("mode", ["channel", "image", "none"])
def test_normalization_statistics_come_from_the_training_split(tmp_path, mode):
    from cnnlab.data import channel_stats, mean_image

    trainer = Trainer(
        TrainConfig(**{**FAST, "epochs": 1}, normalization=mode), tmp_path / "r", quiet=True
    )
    normalize = trainer.model.normalize
    mean, std = channel_stats(trainer.data.train)
    expected_mean = {
        "channel": mean[:, None, None],
        "image": mean_image(trainer.data.train),
        "none": torch.zeros(1, 1, 1),
    }[mode]
    expected_std = torch.ones(1, 1, 1) if mode == "none" else std[:, None, None]
    torch.testing.assert_close(normalize.mean, expected_mean)
    torch.testing.assert_close(normalize.std, expected_std)
    assert normalize.mean.shape == ((1, 32, 32) if mode == "image" else (1, 1, 1))


def test_meta_records_the_models_cost_and_the_settings_that_differ(digits_run):
    from cnnlab import runs
    from cnnlab.metrics import model_cost

    meta = runs.read_meta(digits_run)
    run = runs.load_run(digits_run)
    assert meta["cost"] == model_cost(run.model, run.input_shape)
    assert meta["config_changes"] == {
        "augment": ["crop:2"],
        "epochs": 3,
        "batch_size": 64,
        "lr": 2e-3,
        "warmup_epochs": 0.0,
        "seed": 1,
    }
    summary = (digits_run / "report.html").read_text().split("<h2>Learning curves</h2>")[0]
    assert (
        "parameters" in summary
        and "6 settings differ from the defaults" in (digits_run / "report.html").read_text()
    )
