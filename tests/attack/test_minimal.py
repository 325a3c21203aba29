"""DeepFool, Carlini-Wagner L2 and SparseFool: minimality, sparsity, and torchattacks."""

import pytest
import torch

from cnnlab.attack.base import per_sample_norm
from cnnlab.attack.gradient import PGD
from cnnlab.attack.minimal import CarliniWagner, DeepFool, SparseFool, SzegedyLBFGS
from tests.attack.conftest import linear_binary_model

torchattacks = pytest.importorskip("torchattacks")


def predictions(model, images):
    with torch.no_grad():
        return model(images).argmax(1)


@pytest.mark.parametrize("overshoot", [0.0, 0.02, 0.5])
def test_deepfool_finds_the_exact_minimal_perturbation_of_a_linear_binary_classifier(overshoot):
    generator = torch.Generator().manual_seed(0)
    weight = torch.randn(1, 6, 6, generator=generator)
    model = linear_binary_model(weight, bias=0.3)
    images = 0.4 + 0.2 * torch.rand(16, 1, 6, 6, generator=generator)
    f = model(images)[:, 1] - model(images)[:, 0]  # w·x + b
    labels = (f > 0).long()
    adversarial = DeepFool(overshoot=overshoot)(model, images, labels)
    eta = adversarial - images
    distance = (f.abs() + 1e-4) / weight.norm()  # |f(x)|/‖w‖₂ (+ the 10⁻⁴ step past it)
    torch.testing.assert_close(
        per_sample_norm(eta, "l2"), distance * (1 + overshoot), rtol=1e-4, atol=1e-6
    )
    # along the normal w, towards the boundary
    cosine = (eta.flatten(1) @ weight.flatten()) / (per_sample_norm(eta, "l2") * weight.norm())
    torch.testing.assert_close(cosine, -f.sign(), rtol=0, atol=1e-5)
    # just across the boundary: the other side, at distance overshoot·|f|/‖w‖
    f_adv = model(adversarial)[:, 1] - model(adversarial)[:, 0]
    assert (f_adv.sign() == -f.sign()).all()
    torch.testing.assert_close(
        f_adv.abs() / weight.norm(),
        overshoot * distance + 1e-4 / weight.norm(),
        rtol=1e-3,
        atol=1e-5,
    )


def test_deepfool_leaves_misclassified_images_unchanged(digits_model, digits_batch):
    images, _ = digits_batch
    wrong = (predictions(digits_model, images) + 1) % 10
    assert torch.equal(DeepFool()(digits_model, images, wrong), images)


def test_deepfool_fools_every_image_and_stays_in_the_unit_box(digits_model, digits_batch):
    images, labels = digits_batch
    adversarial = DeepFool()(digits_model, images, labels)
    assert adversarial.min() >= 0 and adversarial.max() <= 1
    assert (predictions(digits_model, adversarial) != labels).float().mean() >= 0.95


def test_carlini_wagner_is_smaller_than_pgd_l2_at_equal_success(digits_model, digits_batch):
    images, labels = digits_batch
    cw = CarliniWagner(c=10.0, steps=100, lr=0.05)(digits_model, images, labels)
    pgd = PGD(3.0, steps=20, norm="l2")(digits_model, images, labels)
    assert cw.min() >= 0 and cw.max() <= 1
    fooled_cw = predictions(digits_model, cw) != labels
    fooled_pgd = predictions(digits_model, pgd) != labels
    assert fooled_cw.float().mean() >= fooled_pgd.float().mean() - 1 / 32
    both = fooled_cw & fooled_pgd
    assert both.sum() >= 20
    l2_cw = per_sample_norm(cw - images, "l2")[both]
    l2_pgd = per_sample_norm(pgd - images, "l2")[both]
    assert l2_cw.mean() < 0.8 * l2_pgd.mean()


def test_carlini_wagner_accepts_an_integer_c(digits_model, digits_batch):
    images, labels = digits_batch
    adversarial = CarliniWagner(c=1, steps=5)(digits_model, images[:4], labels[:4])
    assert adversarial.shape == images[:4].shape


def test_sparsefool_changes_few_pixels(digits_model, digits_batch):
    images, labels = digits_batch
    sparse = SparseFool()(digits_model, images, labels)
    dense = DeepFool()(digits_model, images, labels)
    assert sparse.min() >= 0 and sparse.max() <= 1
    correct = predictions(digits_model, images) == labels
    fooled = (predictions(digits_model, sparse) != labels) & correct
    assert fooled.sum() >= 0.9 * correct.sum()
    pixels = images[0].numel()
    l0_sparse = per_sample_norm(sparse - images, "l0")[fooled]
    l0_dense = per_sample_norm(dense - images, "l0")[fooled]
    assert l0_sparse.median() <= 0.15 * pixels
    assert l0_sparse.median() < 0.25 * l0_dense.median()


def test_carlini_wagner_matches_torchattacks_robust_accuracy(digits_model, digits_test):
    images, labels = digits_test
    images, labels = images[:128], labels[:128]
    ours = CarliniWagner(c=1.0, kappa=0.0, steps=50, lr=0.01)(digits_model, images, labels)
    theirs = torchattacks.CW(digits_model, c=1.0, kappa=0.0, steps=50, lr=0.01)(images, labels)
    ours_acc = (predictions(digits_model, ours) == labels).float().mean().item()
    theirs_acc = (predictions(digits_model, theirs) == labels).float().mean().item()
    assert abs(ours_acc - theirs_acc) <= 0.01


@pytest.mark.slow
def test_deepfool_matches_torchattacks(digits_model, digits_test):
    images, labels = digits_test
    images, labels = images[:128], labels[:128]
    ours = DeepFool(steps=50, overshoot=0.02)(digits_model, images, labels)
    theirs = torchattacks.DeepFool(digits_model, steps=50, overshoot=0.02)(images, labels)
    ours_fooled = predictions(digits_model, ours) != labels
    theirs_fooled = predictions(digits_model, theirs) != labels
    assert ours_fooled.float().mean() >= theirs_fooled.float().mean()
    correct = predictions(digits_model, images) == labels
    both = ours_fooled & theirs_fooled & correct
    assert both.sum() >= 0.8 * correct.sum()
    l2_ours = per_sample_norm(ours - images, "l2")[both]
    l2_theirs = per_sample_norm(theirs - images, "l2")[both]
    torch.testing.assert_close(l2_ours.median(), l2_theirs.median(), rtol=0.05, atol=0)
    assert (l2_ours - l2_theirs).abs().mean() <= 0.05 * l2_theirs.mean()


def test_szegedy_lbfgs_reaches_its_target_inside_the_box(digits_model, digits_batch):
    images, labels = digits_batch
    images, labels = images[:8], labels[:8]
    targets = (labels + 1) % 10
    attack = SzegedyLBFGS(c_init=0.01, search_steps=4, max_iter=30, targeted=True)
    adversarial = attack(digits_model, images, targets)
    assert adversarial.min() >= 0 and adversarial.max() <= 1
    reached = predictions(digits_model, adversarial) == targets
    assert reached.float().mean() >= 0.75
    # images where no c succeeded are unchanged
    assert torch.equal(adversarial[~reached], images[~reached])


def test_sparsefool_on_a_linear_classifier_moves_the_largest_weights_first():
    generator = torch.Generator().manual_seed(1)
    weight = torch.randn(1, 6, 6, generator=generator)
    model = linear_binary_model(weight, bias=0.0)
    images = 0.4 + 0.2 * torch.rand(8, 1, 6, 6, generator=generator)
    f = model(images)[:, 1] - model(images)[:, 0]
    labels = (f > 0).long()
    adversarial = SparseFool(lam=1.0, overshoot=0.0)(model, images, labels)
    assert adversarial.min() >= 0 and adversarial.max() <= 1
    assert (predictions(model, adversarial) != labels).all()
    changed = (adversarial - images).flatten(1) != 0
    order = weight.flatten().abs().argsort(descending=True)
    for row, k in zip(changed, changed.sum(1), strict=True):
        assert 1 <= k < 36
        assert row[order[:k]].all()  # the k largest |w_j|, nothing else
