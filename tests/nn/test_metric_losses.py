"""Metric-learning losses against pytorch-metric-learning on the same embeddings and labels."""

import itertools
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from pytorch_metric_learning import losses as pml_losses
from pytorch_metric_learning import miners, reducers

from cnnlab.errors import ConfigError
from cnnlab.nn.metric_losses import (
    AngularMarginLoss,
    ContrastiveLoss,
    SoftmaxLoss,
    TripletLoss,
    build_metric_loss,
)


def batch(seed=0, n=24, dim=8, classes=4):
    g = torch.Generator().manual_seed(seed)
    embeddings = F.normalize(torch.randn(n, dim, generator=g, dtype=torch.float64), dim=1)
    labels = torch.arange(n) % classes
    return embeddings, labels[torch.randperm(n, generator=g)]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_contrastive_power_one_is_pml(seed):
    x, y = batch(seed)
    ours = ContrastiveLoss(neg_margin=0.9, pos_margin=0.1, power=1)(x, y)
    pml = pml_losses.ContrastiveLoss(pos_margin=0.1, neg_margin=0.9, reducer=reducers.MeanReducer())
    torch.testing.assert_close(ours, pml(x, y), rtol=1e-10, atol=1e-10)


def test_contrastive_power_two_by_hand():
    """Hadsell's squared form, pair by pair with NumPy."""
    x, y = batch(3, n=10)
    e, labels = x.numpy(), y.numpy()
    pos, neg = [], []
    for i, j in itertools.permutations(range(len(e)), 2):
        d = np.linalg.norm(e[i] - e[j])
        (pos if labels[i] == labels[j] else neg).append(
            d**2 if labels[i] == labels[j] else max(0.0, 1.2 - d) ** 2
        )
    expected = np.mean(pos) + np.mean(neg)
    assert ContrastiveLoss(neg_margin=1.2)(x, y).item() == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_batch_hard_triplet_is_pml(seed):
    x, y = batch(seed)
    ours = TripletLoss(margin=0.3, mining="batch-hard")(x, y)
    pml = pml_losses.TripletMarginLoss(margin=0.3, reducer=reducers.MeanReducer())
    torch.testing.assert_close(ours, pml(x, y, miners.BatchHardMiner()(x, y)), rtol=1e-10, atol=0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_soft_margin_batch_hard_triplet_is_pml(seed):
    """Hermans et al.'s soft margin ln(1 + exp(d_ap - d_an)) on the batch-hard triplets."""
    x, y = batch(seed)
    ours = TripletLoss(margin=0.3, mining="batch-hard-soft")(x, y)
    pml = pml_losses.TripletMarginLoss(0.0, smooth_loss=True, reducer=reducers.MeanReducer())
    torch.testing.assert_close(ours, pml(x, y, miners.BatchHardMiner()(x, y)), rtol=1e-10, atol=0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_semi_hard_triplet_is_pml(seed):
    x, y = batch(seed)
    ours = TripletLoss(margin=0.3, mining="semi-hard")(x, y)
    mined = miners.TripletMarginMiner(margin=0.3, type_of_triplets="semihard")(x, y)
    assert len(mined[0]) > 0
    pml = pml_losses.TripletMarginLoss(margin=0.3, reducer=reducers.MeanReducer())
    torch.testing.assert_close(ours, pml(x, y, mined), rtol=1e-10, atol=0)


def test_triplet_on_a_hand_made_batch():
    """1-D points: anchor 0 at 0, positive at 0.5, negatives at 0.6 and 2."""
    x = torch.tensor([[0.0], [0.5], [0.6], [2.0]], dtype=torch.float64)
    y = torch.tensor([0, 0, 1, 1])
    # batch-hard: anchors 0: 0.2+0.5-0.6; 1: 0.2+0.5-0.1; 2: 0.2+1.4-0.1; 3: 0.2+1.4-1.5
    hard = TripletLoss(0.2, "batch-hard")(x, y).item()
    assert hard == pytest.approx((0.1 + 0.6 + 1.5 + 0.1) / 4)
    # semi-hard (0 < d_an - d_ap <= 0.2): (0,1,2) and (3,2,1), gap 0.1 each -> 0.2 - 0.1
    assert TripletLoss(0.2, "semi-hard")(x, y).item() == pytest.approx(0.1)
    # soft margin on the batch-hard gaps -0.1, 0.4, 1.3, -0.1: ln(1 + e^gap)
    soft = TripletLoss(0.2, "batch-hard-soft")(x, y).item()
    assert soft == pytest.approx(np.mean(np.log1p(np.exp([-0.1, 0.4, 1.3, -0.1]))))


def test_batch_without_negatives_gives_a_zero_that_backpropagates():
    x, _ = batch(0, n=6)
    x.requires_grad_(True)
    loss = TripletLoss(0.2, "semi-hard")(x, torch.zeros(6, dtype=torch.int64))
    loss.backward()
    assert loss.item() == 0 and torch.equal(x.grad, torch.zeros_like(x))


def pml_angular(kind, classes, dim, margin, scale):
    if kind == "arcface":
        return pml_losses.ArcFaceLoss(classes, dim, margin=math.degrees(margin), scale=scale)
    if kind == "cosface":
        return pml_losses.CosFaceLoss(classes, dim, margin=margin, scale=scale)
    return pml_losses.SphereFaceLoss(classes, dim, margin=margin, scale=scale)


@pytest.mark.parametrize(
    ("kind", "margin"), [("arcface", 0.5), ("arcface", 1.3), ("cosface", 0.35), ("sphereface", 4)]
)
@pytest.mark.parametrize("seed", [0, 1])
def test_angular_margins_are_pml(kind, margin, seed):
    x, y = batch(seed)
    ours = build_metric_loss(kind, 4, 8, margin=margin, scale=16.0).double()
    pml = pml_angular(kind, 4, 8, margin, 16.0)
    pml.W.data = ours.weight.detach().T.clone()
    torch.testing.assert_close(ours(x, y), pml(x, y), rtol=1e-6, atol=1e-8)


def test_arcface_fallback_region_is_covered():
    """With m = 1.3 some targets are beyond π - m: the monotone continuation is compared."""
    x, y = batch(0)
    loss = AngularMarginLoss(4, 8, m2=1.3).double()
    cosine = F.normalize(x, dim=1) @ F.normalize(loss.weight, dim=1).T
    theta = torch.acos(cosine.gather(1, y[:, None]))
    assert (theta > math.pi - 1.3).any()


def test_combined_margin_by_hand():
    """One sample on the x axis, centres at 0° and 90°: target θ = 0.3 rad."""
    loss = AngularMarginLoss(2, 2, scale=10.0, m1=2, m2=0.1, m3=0.05).double()
    loss.weight.data = torch.tensor([[math.cos(0.3), math.sin(0.3)], [0.0, 1.0]]).double()
    x = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    logits = loss.logits(x, torch.tensor([0]))
    expected = [10 * (math.cos(2 * 0.3 + 0.1) - 0.05), 0.0]
    torch.testing.assert_close(logits[0], torch.tensor(expected, dtype=torch.float64))


def test_softmax_baseline_is_cross_entropy_of_a_linear_layer():
    x, y = batch(0)
    loss = SoftmaxLoss(4, 8).double()
    logits = (x @ loss.classifier.weight.T + loss.classifier.bias).detach().numpy()
    log_p = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    expected = -log_p[np.arange(len(y)), y.numpy()].mean()
    assert loss(x, y).item() == pytest.approx(expected, rel=1e-12)


def test_bad_options_are_config_errors():
    with pytest.raises(ConfigError, match="integer >= 2"):
        build_metric_loss("sphereface", 3, 8, margin=1.5)
    with pytest.raises(ConfigError, match="no margin"):
        build_metric_loss("softmax", 3, 8, margin=0.2)
    with pytest.raises(ConfigError, match="choose one of"):
        build_metric_loss("center", 3, 8)
    with pytest.raises(ConfigError, match="mining"):
        TripletLoss(mining="easy")
