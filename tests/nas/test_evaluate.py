"""Scoring candidates on a proxy task (cnnlab.nas.evaluate)."""

import random

import pytest
import torch
from torch import nn

from cnnlab.data import DataSplits, TensorImageDataset
from cnnlab.errors import ConfigError
from cnnlab.models.nasnet_genotype import NASNET_A
from cnnlab.nas.evaluate import (
    ProxyTask,
    build_network,
    evaluate_genotype,
    proxy_data,
    recalibrate_batch_norm,
)
from cnnlab.nas.space import SearchSpace

TASK = ProxyTask(filters=4, epochs=2, batch_size=16, lr=1e-2)


def bright_or_dark(n: int, seed: int) -> TensorImageDataset:
    """1x8x8 images: class 1 is bright, class 0 dark, with noise."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 2
    images = torch.randint(0, 100, (n, 1, 8, 8), generator=g) + 120 * labels[:, None, None, None]
    return TensorImageDataset(images.to(torch.uint8), labels, ["dark", "bright"])


@pytest.fixture(scope="module")
def data() -> DataSplits:
    return DataSplits(
        "synthetic",
        bright_or_dark(64, 0),
        bright_or_dark(32, 1),
        bright_or_dark(8, 2),
        ["dark", "bright"],
    )


def test_training_a_candidate_is_deterministic_given_the_seed(data):
    first = evaluate_genotype(NASNET_A, data, TASK, seed=3)
    second = evaluate_genotype(NASNET_A, data, TASK, seed=3)
    assert first == second
    assert first.params == sum(p.numel() for p in build_network(NASNET_A, data, TASK).parameters())


def test_a_candidate_learns_an_easy_task(data):
    assert evaluate_genotype(NASNET_A, data, TASK, seed=0).accuracy >= 0.75


@pytest.mark.parametrize("seed", range(4))
def test_every_sampled_genotype_builds_a_working_network(data, seed):
    genotype = SearchSpace().sample(random.Random(seed))
    network = build_network(genotype, data, ProxyTask(filters=4))
    assert network(torch.rand(2, 1, 8, 8)).shape == (2, 2)


def test_proxy_data_draws_a_seeded_subset(data):
    small = proxy_data(data, 10, seed=0)
    assert len(small.train) == 10 and len(small.val) == 2
    again = proxy_data(data, 10, seed=0)
    assert torch.equal(small.train.images, again.train.images)
    assert proxy_data(data, None, seed=0) is data
    with pytest.raises(ConfigError, match="one image per class"):
        proxy_data(data, 1, seed=0)


def test_images_smaller_than_the_network_allows_are_refused(data):
    tiny = DataSplits(
        "t", bright_or_dark(4, 0).subset(torch.arange(4)), data.val, data.test, data.classes
    )
    tiny.train.images = tiny.train.images[:, :, :4, :4]
    with pytest.raises(ConfigError, match="at least 8 pixels"):
        build_network(NASNET_A, tiny, TASK)


def test_bad_proxy_settings_are_config_errors():
    with pytest.raises(ConfigError, match="epochs"):
        ProxyTask(epochs=0)


def test_batch_norm_recalibration_uses_the_final_weights_on_the_training_images(data):
    conv = nn.Conv2d(1, 3, 3)
    model = nn.Sequential(conv, nn.BatchNorm2d(3))
    recalibrate_batch_norm(model, data.train, batch_size=16)
    with torch.no_grad():
        outputs = conv(data.train.images.float() / 255)
    bn = model[1]
    torch.testing.assert_close(bn.running_mean, outputs.mean(dim=(0, 2, 3)), rtol=1e-4, atol=1e-5)
    assert bn.momentum == 0.1
