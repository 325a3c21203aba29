"""Backdoor triggers, poisoning, detection, fine-pruning, and OOD scores."""

import pytest
import torch
import torch.nn.functional as F
from sklearn.metrics import roc_auc_score
from torch import nn

from cnnlab.attack.clustering import ActivationClusters, activation_clustering
from cnnlab.attack.ood import (
    energy_score,
    fpr_at_tpr,
    max_softmax_probability,
    ood_auroc,
    ood_detection,
    ood_scores,
)
from cnnlab.attack.poison import (
    Trigger,
    attack_success_rate,
    fine_prune,
    flag_outliers,
    poison_dataset,
    spectral_signature_scores,
)
from cnnlab.data import load_data
from cnnlab.data.datasets import TensorImageDataset
from cnnlab.errors import ConfigError


def test_patch_trigger_is_a_checkerboard_in_the_bottom_right_corner():
    images = torch.full((2, 3, 10, 12), 0.5)
    stamped = Trigger("patch", size=3).apply(images)
    corner = stamped[:, :, 7:, 9:]
    expected = torch.tensor([[0.0, 1, 0], [1, 0, 1], [0, 1, 0]])
    assert torch.equal(corner, expected.expand_as(corner))
    outside = torch.ones_like(stamped, dtype=torch.bool)
    outside[:, :, 7:, 9:] = False
    assert (stamped[outside] == 0.5).all()
    assert torch.equal(images, torch.full((2, 3, 10, 12), 0.5))  # input untouched


def test_blend_trigger_mixes_a_fixed_pattern():
    images = torch.rand(4, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    trigger = Trigger("blend", alpha=0.25, seed=3)
    pattern = torch.rand((1, 8, 8), generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(trigger.apply(images), 0.75 * images + 0.25 * pattern)
    torch.testing.assert_close(trigger.apply(torch.zeros(1, 1, 8, 8))[0], 0.25 * pattern)


def test_trigger_checks_its_options():
    with pytest.raises(ConfigError):
        Trigger("stripes")
    with pytest.raises(ConfigError, match="alpha"):
        Trigger("blend", alpha=0)
    with pytest.raises(ConfigError, match="does not fit"):
        Trigger("patch", size=8).apply(torch.zeros(1, 1, 8, 8))


@pytest.mark.parametrize("kind", ["patch", "blend"])
def test_poison_dataset_poisons_exactly_the_fraction_with_the_target_label(kind):
    train = load_data("digits").train
    trigger = Trigger(kind)
    poisoned, chosen = poison_dataset(train, trigger, target=7, fraction=0.05, seed=1)
    assert len(chosen) == round(0.05 * len(train)) == len(chosen.unique())
    assert len(poisoned) == len(train) and poisoned.classes == train.classes
    assert (train.labels[chosen] != 7).all()
    assert (poisoned.labels[chosen] == 7).all()
    others = torch.ones(len(train), dtype=torch.bool)
    others[chosen] = False
    assert torch.equal(poisoned.labels[others], train.labels[others])
    assert torch.equal(poisoned.images[others], train.images[others])
    expected = (trigger.apply(train.images[chosen].float() / 255) * 255).round().to(torch.uint8)
    assert torch.equal(poisoned.images[chosen], expected)
    assert not torch.equal(train.images[chosen], poisoned.images[chosen])  # a copy
    again = poison_dataset(train, trigger, target=7, fraction=0.05, seed=1)[1]
    assert torch.equal(again, chosen)


def test_poison_dataset_checks_its_options():
    train = load_data("digits").train
    with pytest.raises(ConfigError, match="fraction"):
        poison_dataset(train, Trigger(), 0, 1.5)
    with pytest.raises(ConfigError, match="target"):
        poison_dataset(train, Trigger(), 10, 0.1)


def test_ood_auroc_equals_sklearn():
    generator = torch.Generator().manual_seed(0)
    inside = torch.randn(50, generator=generator) + 1
    outside = torch.randn(40, generator=generator)
    outside[:5] = inside[:5]  # ties
    expected = roc_auc_score([1] * 50 + [0] * 40, torch.cat([inside, outside]).numpy())
    assert ood_auroc(inside, outside) == pytest.approx(expected)
    assert ood_auroc(inside + 100, outside) == 1.0
    with pytest.raises(ConfigError):
        ood_auroc(inside, outside[:0])


def test_fpr_at_tpr_on_separable_and_identical_scores():
    inside = torch.arange(100.0)
    assert fpr_at_tpr(inside + 1000, inside) == 0.0
    assert fpr_at_tpr(inside, inside.flip(0)) == pytest.approx(0.95, abs=0.02)


def test_energy_score_and_msp_formulas():
    logits = torch.randn(6, 10, generator=torch.Generator().manual_seed(0)) * 3
    for temperature in (1.0, 2.5):
        expected = torch.stack(
            [temperature * torch.log(torch.exp(z / temperature).sum()) for z in logits]
        )
        torch.testing.assert_close(energy_score(logits, temperature), expected)
    torch.testing.assert_close(max_softmax_probability(logits), logits.softmax(1).max(1).values)
    with pytest.raises(ConfigError, match="temperature"):
        energy_score(logits, 0.0)


def test_ood_detection_separates_digits_from_noise(digits_model, digits_test):
    images = digits_test[0][:64]
    noise = torch.rand(64, *images.shape[1:], generator=torch.Generator().manual_seed(0))
    for method in ("msp", "energy"):
        assert ood_scores(digits_model, images, method, batch_size=10).shape == (64,)
        result = ood_detection(digits_model, images, noise, method)
        assert set(result) == {"auroc", "fpr_at_95_tpr"}
        assert result["auroc"] > 0.8
    with pytest.raises(ConfigError):
        ood_scores(digits_model, images, "odin")


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(4),
        )
        self.head = nn.Linear(16 * 4 * 4, 10)

    def forward(self, x):
        return self.head(self.features(x).flatten(1))


def _train(dataset: TensorImageDataset, epochs: int) -> nn.Module:
    torch.manual_seed(0)
    model = SmallCNN()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    images, labels = dataset.images.float() / 255, dataset.labels
    generator = torch.Generator().manual_seed(0)
    for _ in range(epochs):
        for batch in torch.randperm(len(images), generator=generator).split(64):
            loss = F.cross_entropy(model(images[batch]), labels[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return model.eval()


def test_tiny_backdoor_experiment_on_digits():
    data = load_data("digits")
    trigger, target = Trigger("patch", size=4), 0
    poisoned, chosen = poison_dataset(data.train, trigger, target, 0.08, seed=0)
    model = _train(poisoned, epochs=12)
    test_images, test_labels = data.test.images.float() / 255, data.test.labels
    with torch.no_grad():
        clean = (model(test_images).argmax(1) == test_labels).float().mean().item()
    asr = attack_success_rate(model, test_images, test_labels, trigger, target)
    assert clean > 0.8 and asr > 0.9, (clean, asr)

    # spectral signatures: the poisoned samples are the outliers of the target class
    scores = spectral_signature_scores(model, poisoned.images.float() / 255, poisoned.labels)
    share = len(chosen) / (poisoned.labels == target).sum().item()
    flagged = flag_outliers(scores, poisoned.labels, share)
    caught = flagged[chosen].float().mean().item()
    assert caught > 0.8, caught

    # activation clustering: the target label splits into its clean and its poisoned images
    clusters = activation_clustering(model, poisoned.images.float() / 255, poisoned.labels)
    in_target = poisoned.labels == target
    is_poisoned = torch.zeros(len(poisoned), dtype=torch.bool)
    is_poisoned[chosen] = True
    minor = clusters.smaller & in_target
    assert (minor == is_poisoned).float()[in_target].mean() > 0.95  # the split is the poison
    assert clusters.relative_size[target] == pytest.approx(share, abs=0.03)

    clean_train = data.train.images.float() / 255
    keep = torch.ones(len(clean_train), dtype=torch.bool)
    keep[chosen] = False
    pruned = fine_prune(model, clean_train[keep][:400], data.train.labels[keep][:400], epochs=3)
    pruned_asr = attack_success_rate(pruned, test_images, test_labels, trigger, target)
    assert pruned_asr < asr, (asr, pruned_asr)


def test_activation_clustering_flags_the_smaller_cluster_of_suspicious_labels():
    clusters = ActivationClusters(
        labels=torch.tensor([0, 0, 0, 0, 1, 1, 1, 1, 2, 2]),
        smaller=torch.tensor([1, 0, 0, 0, 1, 1, 0, 0, 1, 0], dtype=torch.bool),
        relative_size=torch.tensor([0.25, 0.5, 0.5], dtype=torch.float64),
        silhouette=torch.tensor([0.1, 0.6, 0.3], dtype=torch.float64),
    )
    assert clusters.suspicious_labels().tolist() == [0]
    assert clusters.flagged().nonzero().flatten().tolist() == [0]
    assert clusters.suspicious_labels(0.5, min_silhouette=0.2).tolist() == [1, 2]
    assert clusters.flagged(0.5, min_silhouette=0.2).nonzero().flatten().tolist() == [4, 5, 8]
    assert clusters.flagged(0.5, min_silhouette=0.7).sum() == 0


def test_activation_clustering_checks_its_input(digits_model, digits_test):
    images, labels = digits_test[0][:20], digits_test[1][:20]
    with pytest.raises(ConfigError, match="labels"):
        activation_clustering(digits_model, images, labels[:10])
    with pytest.raises(ConfigError, match="components"):
        activation_clustering(digits_model, images, labels, components=0)
    clusters = activation_clustering(digits_model, images, labels, components=2)
    with pytest.raises(ConfigError, match="max_relative_size"):
        clusters.flagged(max_relative_size=0.7)
