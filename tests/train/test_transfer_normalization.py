"""Fine-tuning with frozen layers keeps the source run's input normalization unless asked."""

import pytest
import torch

from cnnlab import TrainConfig, Trainer, load_run
from cnnlab.data import channel_stats


def _normalize(digits_run, tmp_path, **options):
    config = TrainConfig(
        epochs=1, pretrained=str(digits_run), classes=["0", "1", "2"], seed=2, **options
    )
    trainer = Trainer(config, tmp_path / "ft", quiet=True)
    return trainer.model.normalize, trainer.data


@pytest.mark.parametrize("freeze", ["features", "partial"])
def test_frozen_features_see_the_source_runs_normalization(digits_run, tmp_path, freeze):
    source = load_run(digits_run).model.normalize
    normalize, data = _normalize(digits_run, tmp_path, freeze=freeze)
    torch.testing.assert_close(normalize.mean, source.mean)
    torch.testing.assert_close(normalize.std, source.std)
    new_mean, _ = channel_stats(data.train)  # three classes: other statistics
    assert not torch.allclose(new_mean.flatten(), source.mean.flatten())


def test_refit_normalization_and_full_retraining_fit_the_new_data(digits_run, tmp_path):
    for options in ({"freeze": "features", "refit_normalization": True}, {"freeze": "none"}):
        normalize, data = _normalize(digits_run, tmp_path, **options)
        mean, std = channel_stats(data.train)
        torch.testing.assert_close(normalize.mean.flatten(), mean.flatten())
        torch.testing.assert_close(normalize.std.flatten(), std.flatten())
