"""Trainer options: EMA, gradient accumulation, precision, penalties, initialization."""

import pytest
import torch
from tests.train.conftest import small_digits as _splits
from tests.train.conftest import small_sgd_config as _config

from cnnlab import Trainer
from cnnlab.errors import ConfigError
from cnnlab.runs import load_weights


def _fit(tmp_path, name, data=None, **kwargs):
    trainer = Trainer(_config(**kwargs), tmp_path / name, quiet=True, data=data or _splits())
    trainer.fit()
    return trainer


def test_accumulating_two_half_batches_equals_one_full_batch(tmp_path):
    data = _splits()
    full = _fit(tmp_path, "full", data, batch_size=64)
    halves = _fit(tmp_path, "halves", data, batch_size=32, accumulate=2)
    for a, b in zip(full.model.parameters(), halves.model.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_ema_weights_are_validated_and_saved(tmp_path):
    trainer = _fit(tmp_path, "ema", ema=0.9, batch_size=32)
    saved = load_weights(tmp_path / "ema" / "model.safetensors")
    for name, tensor in trainer.technique("ema").average.module.state_dict().items():
        torch.testing.assert_close(saved[name], tensor)
    raw = trainer.model.state_dict()
    assert any(not torch.equal(raw[k], v) for k, v in saved.items())


def test_ema_run_resumes_to_the_same_weights(tmp_path):
    straight = Trainer(_config(ema=0.9, epochs=2), tmp_path / "a", quiet=True, data=_splits())
    straight.fit()
    first = Trainer(_config(ema=0.9, epochs=1), tmp_path / "b", quiet=True, data=_splits())
    first.fit()
    resumed = Trainer.resume(tmp_path / "b", epochs=2, quiet=True, data=_splits())
    resumed.fit()
    for a, b in zip(
        straight.technique("ema").average.module.parameters(),
        resumed.technique("ema").average.module.parameters(),
        strict=True,
    ):
        torch.testing.assert_close(a, b)


def test_bf16_autocast_trains_on_the_cpu_like_fp32(tmp_path):
    dtypes = []
    trainer = Trainer(_config(precision="bf16"), tmp_path / "bf16", quiet=True, data=_splits())
    conv = trainer.model.net.features.conv1.conv
    conv.register_forward_hook(lambda m, i, out: dtypes.append(out.dtype))
    trainer.fit()
    fp32 = _fit(tmp_path, "fp32")
    assert dtypes[0] == torch.bfloat16
    assert trainer.history[0]["train_loss"] == pytest.approx(
        fp32.history[0]["train_loss"], rel=0.05
    )


def test_fp16_on_the_cpu_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="bf16"):
        Trainer(_config(precision="fp16"), tmp_path / "x", quiet=True, data=_splits())


def test_l1_penalty_shrinks_the_weights(tmp_path):
    plain = _fit(tmp_path, "plain")
    sparse = _fit(tmp_path, "l1", l1=0.05)
    total = lambda t: sum(p.abs().sum() for n, p in t.model.named_parameters() if "weight" in n)  # noqa: E731
    assert total(sparse) < 0.9 * total(plain)


def test_max_norm_holds_after_training(tmp_path):
    trainer = _fit(tmp_path, "maxnorm", max_norm=0.5, lr=0.5)
    weight = trainer.model.net.head.fc.weight
    assert weight.norm(dim=1).max() <= 0.5 + 1e-5


def test_init_option_reinitialises_before_training(tmp_path):
    trainer = Trainer(_config(init="lsuv"), tmp_path / "lsuv", quiet=True, data=_splits())
    conv = trainer.model.net.features.conv1.conv
    images = trainer._init_batch()
    out = conv(trainer.model.normalize(images))
    assert out.var().item() == pytest.approx(1.0, abs=0.15)


@pytest.mark.parametrize(
    ("field", "value"),
    [("accumulate", 0), ("ema", 1.0), ("precision", "fp8"), ("init", "zeros"), ("l1", -1.0)],
)
def test_bad_option_values_are_refused(field, value):
    with pytest.raises(ConfigError):
        _config(**{field: value})


def test_no_bias_decay_trains_biases_without_the_penalty(tmp_path):
    """With no_bias_decay the one-dimensional parameters (biases here) get no decay."""
    trainer = Trainer(
        _config(weight_decay=0.5, no_bias_decay=True), tmp_path / "nbd", quiet=True, data=_splits()
    )
    decays = {
        name: group["weight_decay"]
        for group in trainer.optimizer.param_groups
        for name, param in trainer.model.named_parameters()
        if any(param is p for p in group["params"])
    }
    assert {name for name, decay in decays.items() if decay == 0.0} == {
        name for name, param in trainer.model.named_parameters() if param.dim() == 1
    }
    assert all(decays[name] == 0.5 for name, p in trainer.model.named_parameters() if p.dim() > 1)


def test_the_augmentation_is_told_which_samples_each_batch_holds(tmp_path):
    data, seen = _splits(), []
    trainer = Trainer(
        _config(augment=["alternating_flip"], epochs=2), tmp_path / "a", quiet=True, data=data
    )
    real = trainer.task.augment

    def spy(images, generator, samples):
        assert torch.equal(images, data.train.images[samples.indices].float() / 255)
        seen.append((samples.epoch, samples.seed, len(samples.indices)))
        return real(images, generator, samples)

    trainer.task.augment = spy
    trainer.fit()
    assert [epoch for epoch, _, _ in seen] == [0] * 8 + [1] * 8  # 256 images in batches of 32
    assert {seed for _, seed, _ in seen} == {trainer.config.seed}
