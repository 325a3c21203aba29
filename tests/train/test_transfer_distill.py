"""Transfer learning (freeze, discriminative rates, pretrained runs) and distillation."""

import pytest
import torch
import torch.nn.functional as F

from cnnlab import TrainConfig, Trainer
from cnnlab.errors import ConfigError
from cnnlab.models import create_model
from cnnlab.runs import load_run
from cnnlab.train.distill import Teacher, distillation_loss
from cnnlab.train.transfer import blocks, discriminative_param_groups, freeze


def _lenet():
    return create_model("lenet5_modern", bn=True)


def test_freeze_features_trains_only_the_head():
    model = _lenet()
    frozen = freeze(model, "features")
    assert frozen == blocks(model)
    assert not any(p.requires_grad for p in model.features.parameters())
    assert all(p.requires_grad for p in model.head.parameters())


def test_partial_freeze_keeps_the_last_block_trainable():
    model = _lenet()
    freeze(model, "partial")
    *early, last = blocks(model)
    assert all(p.requires_grad for p in last.parameters())
    assert not any(p.requires_grad for block in early for p in block.parameters())


def test_discriminative_rates_fall_by_the_decay_per_block_from_the_top():
    model = _lenet()
    groups = discriminative_param_groups(model, lr=1.0, lr_decay=2.0)
    assert [g["lr"] for g in groups] == [1.0] + [2.0**-k for k in range(1, len(groups))]
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))


def test_frozen_blocks_are_left_out_of_the_groups():
    model = _lenet()
    freeze(model, "features")
    groups = discriminative_param_groups(model, lr=0.1, lr_decay=2.6)
    assert len(groups) == 1 and groups[0]["lr"] == 0.1


def test_distillation_loss_is_hintons_formula():
    student, teacher = torch.randn(5, 4), torch.randn(5, 4)
    hard = torch.tensor(1.5)
    t, a = 3.0, 0.7
    p_t = F.softmax(teacher / t, 1)
    kl = (p_t * (p_t.log() - F.log_softmax(student / t, 1))).sum(1).mean()
    expected = a * t * t * kl + (1 - a) * hard
    torch.testing.assert_close(distillation_loss(student, teacher, hard, t, a), expected)
    torch.testing.assert_close(distillation_loss(student, teacher, hard, t, 0.0), hard)


def test_teacher_logits_follow_the_data_sets_class_order(digits_run):
    run = load_run(digits_run)
    reversed_classes = list(reversed(run.classes))
    teacher = Teacher(digits_run, reversed_classes)
    images = torch.rand(3, *run.input_shape)
    torch.testing.assert_close(teacher(images), run.model(images).flip(1))
    teacher.train()
    assert not teacher.training


def test_finetuning_a_feature_extractor_changes_only_the_head(digits_run, tmp_path):
    config = TrainConfig(
        epochs=1, pretrained=str(digits_run), freeze="features", classes=["0", "1", "2"], seed=2
    )
    trainer = Trainer(config, tmp_path / "ft", quiet=True)
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    trainer.fit()
    source = load_run(digits_run).model.state_dict()
    after = trainer.model.state_dict()
    features = [k for k in after if k.startswith("net.features")]
    assert features and all(torch.equal(after[k], source[k]) for k in features)
    assert not torch.equal(after["net.head.output.weight"], before["net.head.output.weight"])
    assert trainer.model.net.head.output.out_features == 3


def test_distilling_into_a_student_uses_the_teachers_soft_targets(digits_run, tmp_path):
    student = dict(model="simple_cnn", model_kwargs={"channels": [16, 32]}, epochs=2, seed=5)
    trainer = Trainer(TrainConfig(teacher=str(digits_run), **student), tmp_path / "s", quiet=True)
    calls = []
    trainer.technique("distillation").teacher.register_forward_hook(lambda *_: calls.append(1))
    trainer.fit()
    alone = Trainer(TrainConfig(**student), tmp_path / "alone", quiet=True)
    alone.fit()
    assert len(calls) == 2 * trainer.steps_per_epoch
    assert trainer.history[-1]["train_loss"] != pytest.approx(alone.history[-1]["train_loss"])
    assert trainer.history[1]["train_loss"] < trainer.history[0]["train_loss"]


@pytest.mark.parametrize(
    "options",
    [
        {"freeze": "features"},
        {"lr_decay": 2.0},
        {"pretrained": "x", "init": "lsuv"},
        {"distill_alpha": 1.5},
        {"freeze": "everything", "pretrained": "x"},
    ],
)
def test_inconsistent_transfer_options_are_refused(options):
    with pytest.raises(ConfigError):
        TrainConfig(**options)
