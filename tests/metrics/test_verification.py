"""Verification ROC/EER and N-way K-shot identification, against hand values and scikit-learn."""

import numpy as np
import pytest
import torch
from scipy.interpolate import interp1d
from scipy.optimize import brentq
from sklearn.metrics import roc_curve
from sklearn.neighbors import NearestCentroid

from cnnlab.errors import DataError
from cnnlab.metrics.verification import (
    draw_episodes,
    episode_accuracy,
    equal_error_rate,
    nway_kshot_accuracy,
    pair_scores,
    verification_report,
)


def test_pair_scores_are_cosines_of_unordered_pairs():
    x = torch.tensor([[1.0, 0.0], [0.0, 2.0], [3.0, 3.0]])
    scores, same = pair_scores(x, torch.tensor([0, 0, 1]))
    np.testing.assert_allclose(scores, [0.0, np.sqrt(0.5), np.sqrt(0.5)], atol=1e-12)
    assert same.tolist() == [True, False, False]


def test_eer_of_a_hand_made_roc():
    """Scores 0.9 0.8 0.7 0.6 for same, same, different, same; 0.5 different.

    ROC points (fpr, tpr): (0,0) (0,1/3) (0,2/3) (1/2,2/3) (1/2,1) (1,1).
    FPR - FNR: -1, -2/3, -1/3, 1/6, 1/2, 1 -> crosses between (0, 2/3) and (1/2, 2/3):
    t = (1/3) / (1/2) = 2/3, EER = 0 + 2/3 · 1/2 = 1/3, threshold 0.8 + 2/3 (0.7 - 0.8).
    """
    same = np.array([1, 1, 0, 1, 0])
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5])
    fpr, tpr, thr = roc_curve(same, scores, drop_intermediate=False)
    eer, threshold = equal_error_rate(fpr, tpr, thr)
    assert eer == pytest.approx(1 / 3)
    assert threshold == pytest.approx(0.8 - 0.1 * 2 / 3)


@pytest.mark.parametrize("seed", range(4))
def test_eer_agrees_with_the_brentq_recipe_on_continuous_scores(seed):
    """The usual recipe: the root of 1 - x - interp(fpr, tpr)(x); equal on a fine ROC."""
    rng = np.random.default_rng(seed)
    same = rng.random(4000) < 0.3
    scores = rng.normal(same * 1.5, 1.0)
    fpr, tpr, thr = roc_curve(same, scores)
    expected = brentq(lambda x: 1.0 - x - interp1d(fpr, tpr)(x), 0.0, 1.0)
    assert equal_error_rate(fpr, tpr, thr)[0] == pytest.approx(expected, abs=1e-3)


def test_separable_embeddings_have_zero_eer_and_auc_one():
    x = torch.tensor([[1.0, 0.1], [1.0, -0.1], [0.1, 1.0], [-0.1, 1.0]])
    report = verification_report(x, torch.tensor([0, 0, 1, 1]))
    assert report["eer"] == 0 and report["auc"] == 1
    assert (report["pairs"], report["positive_pairs"]) == (6, 2)


def test_verification_without_positive_pairs_is_a_clear_error():
    with pytest.raises(DataError, match="single image"):
        verification_report(torch.eye(3), torch.tensor([0, 1, 2]))


def test_episodes_are_seeded_disjoint_and_balanced():
    labels = torch.arange(60) % 6
    a = draw_episodes(labels, ways=5, shots=2, episodes=20, queries=3, seed=7)
    b = draw_episodes(labels, ways=5, shots=2, episodes=20, queries=3, seed=7)
    for ep, same in zip(a, b, strict=True):
        assert torch.equal(ep.support, same.support) and torch.equal(ep.query, same.query)
        assert not set(ep.support.tolist()) & set(ep.query.tolist())
        assert len(labels[ep.support].unique()) == 5
        for way in range(5):  # every way is one identity, in support and query
            ids = labels[ep.support[ep.support_ways == way]].tolist()
            ids += labels[ep.query[ep.query_ways == way]].tolist()
            assert len(set(ids)) == 1 and len(ids) == 5


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # its unused spread with one shot
@pytest.mark.parametrize("shots", [1, 3])
def test_episode_accuracy_is_sklearn_nearest_centroid(shots):
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(200) % 8
    x = torch.randn(8, 4, generator=g)[labels] * 0.6 + torch.randn(200, 4, generator=g)
    episodes = draw_episodes(labels, 5, shots, episodes=50, queries=5, seed=1)
    correct = total = 0
    for ep in episodes:
        clf = NearestCentroid().fit(x[ep.support].numpy(), ep.support_ways.numpy())
        correct += (clf.predict(x[ep.query].numpy()) == ep.query_ways.numpy()).sum()
        total += len(ep.query)
    accuracy = episode_accuracy(x, episodes)
    assert accuracy == pytest.approx(correct / total)
    assert 0.2 < accuracy < 1.0  # neither chance nor trivially perfect on this data


def test_one_shot_on_perfect_embeddings_is_one():
    labels = torch.arange(50) % 5
    assert nway_kshot_accuracy(torch.eye(5)[labels], labels, episodes=10) == 1.0


def test_identity_with_a_single_image_is_a_clear_error():
    labels = torch.tensor([0, 0, 1, 1, 2])
    with pytest.raises(DataError, match="1-shot identification needs 2 images"):
        draw_episodes(labels, ways=2, shots=1, episodes=1)
    with pytest.raises(DataError, match="5-way identification needs 5 identities"):
        draw_episodes(torch.tensor([0, 0, 1, 1]), ways=5, shots=1, episodes=1)
