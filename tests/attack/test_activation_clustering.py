"""Activation clustering on ReLU networks (cnnlab.attack.clustering)."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnnlab.attack.clustering import activation_clustering
from cnnlab.attack.poison import Trigger, attack_success_rate, poison_dataset
from cnnlab.data import load_data
from cnnlab.errors import UnknownNameError
from cnnlab.models.registry import create_model_for_input


def test_dead_units_are_constant_features_and_give_no_nan():
    torch.manual_seed(0)
    hidden = nn.Linear(16, 6)
    with torch.no_grad():
        hidden.bias[:3] = -1e3  # three units that never fire: constant zero features
    model = nn.Sequential(nn.Flatten(), hidden, nn.ReLU(), nn.Linear(6, 2)).eval()
    images = torch.cat([torch.rand(30, 1, 4, 4), torch.rand(10, 1, 4, 4) + 2.0])
    labels = torch.zeros(40, dtype=torch.long)
    clusters = activation_clustering(model, images, labels, components=10)
    assert torch.isfinite(clusters.relative_size[0]) and torch.isfinite(clusters.silhouette[0])
    assert clusters.smaller[30:].all() and not clusters.smaller[:30].any()
    with pytest.raises(UnknownNameError, match="pca"):
        activation_clustering(model, images, labels, reduce="svd")


@pytest.mark.slow
def test_finds_a_planted_backdoor_in_a_relu_lenet():
    """LeNet-5 with ReLU on digits, 4 % of the training images stamped and relabelled 0."""
    torch.manual_seed(0)
    data = load_data("digits")
    trigger, target = Trigger("patch", size=4), 0
    poisoned, chosen = poison_dataset(data.train, trigger, target, 0.04, seed=0)
    model = create_model_for_input("lenet5_modern", 10, tuple(poisoned.images.shape[1:]))
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    images, labels = poisoned.images.float() / 255, poisoned.labels
    generator = torch.Generator().manual_seed(0)
    model.train()
    for _ in range(8):
        for batch in torch.randperm(len(images), generator=generator).split(64):
            loss = F.cross_entropy(model(images[batch]), labels[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    model.eval()
    test_images, test_labels = data.test.images.float() / 255, data.test.labels
    assert attack_success_rate(model, test_images, test_labels, trigger, target) > 0.9

    clusters = activation_clustering(model, images, labels)
    flagged = clusters.flagged()
    recall = flagged[chosen].float().mean().item()
    assert target in clusters.suspicious_labels().tolist()
    assert recall >= 0.8, recall
