"""The embedding task end to end: training, evaluation, gallery, enrolment, recognition."""

from __future__ import annotations

import pytest
import torch
from PIL import Image
from tests.data.conftest import _write_image_folder

from cnnlab import TrainConfig, Trainer, runs
from cnnlab.cli import main
from cnnlab.data import load_data, make_loader
from cnnlab.errors import CheckpointError, ConfigError, DataError
from cnnlab.metrics.verification import nway_kshot_accuracy
from cnnlab.nn.metric_losses import LOSSES
from cnnlab.runs.gallery import load_gallery
from cnnlab.tasks import create_task, evaluate_run
from cnnlab.tasks.embedding_run import build_embedding_net, embed, load_embedding_run
from cnnlab.tasks.metric_learning_eval import enroll, recognize
from cnnlab.train.task import Batch

HOLDOUT = ["5", "6", "7", "8", "9"]
RECIPE = dict(
    task="embedding",
    dataset="digits",
    holdout_classes=HOLDOUT,
    embedding_dim=16,
    batch_size=64,
    lr=3e-3,
    warmup_epochs=0.0,
    seed=0,
)


@pytest.fixture(scope="module")
def embedding_run(tmp_path_factory):
    """Two epochs of ArcFace on 120 images of each digit 0-4; the digits 5-9 are never seen."""
    run_dir = tmp_path_factory.mktemp("runs") / "arcface"
    Trainer(TrainConfig(**RECIPE, epochs=2, per_class=120), run_dir, quiet=True).fit()
    return run_dir


def test_training_records_the_validation_metrics_and_the_evaluation(embedding_run):
    history = runs.read_history(embedding_run)
    assert {"val_acc", "val_eer", "val_loss"} <= set(history[0])
    test = runs.read_metrics(embedding_run)["test"]
    assert test["identities"] == HOLDOUT and test["ways"] == 5
    assert 0.0 <= test["eer"] <= 0.5 and 0.0 <= test["nway_1shot"] <= 1.0
    assert test["nway_1shot"] > 0.4  # well above chance (0.2) on digits never seen
    figures = {entry.get("figure") for entry in runs.read_sections(embedding_run)["Embeddings"]}
    assert {"tsne.png", "roc.png", "retrieval.png"} <= figures


def test_the_reloaded_run_embeds_the_test_split_as_measured(embedding_run):
    run = load_embedding_run(embedding_run)
    data = run.load_data()
    embeddings, labels = embed(run.model, data.test)
    assert torch.allclose(embeddings.norm(dim=1), torch.ones(len(labels)), atol=1e-5)
    accuracy = nway_kshot_accuracy(embeddings, labels, 5, 1, 1000, 15, seed=0)
    assert accuracy == pytest.approx(runs.read_metrics(embedding_run)["test"]["nway_1shot"])


def test_the_gallery_holds_five_images_of_each_test_identity(embedding_run):
    meta = runs.read_meta(embedding_run)
    gallery = load_gallery(embedding_run, meta["weights_sha256"])
    assert gallery.names == HOLDOUT and len(gallery) == 25


def test_enrolment_extends_the_gallery_and_recognizes_the_new_identity(
    embedding_run, tmp_path, capsys
):
    data = load_data("digits", holdout_classes=HOLDOUT)
    people = tmp_path / "people"
    for name, label in (("ada", 5), ("bo", 9)):
        (people / name).mkdir(parents=True)
        # images past the five the evaluation enrolled, so the nearest row is ada's own
        for j, i in enumerate((data.test.labels == label).nonzero().flatten()[10:12].tolist()):
            Image.fromarray(data.test.images[i, 0].numpy()).save(people / name / f"{j}.png")
    assert enroll(embedding_run, people) == {"ada": 2, "bo": 2}
    gallery = load_gallery(embedding_run)
    assert gallery.names == [*HOLDOUT, "ada", "bo"] and len(gallery) == 29
    own = people / "ada" / "0.png"
    best, distance = recognize(embedding_run, [own], k=3)[0][0]
    assert best == "ada" and distance < 1e-3  # the same pixels; batch-dependent float noise
    assert main(["predict", str(embedding_run), str(own), "--top-k", "2"]) == 0
    assert capsys.readouterr().out.startswith(f"{own}: ada 0.000")


def test_cnnlab_evaluate_prints_eer_and_nway(embedding_run, capsys):
    assert main(["evaluate", str(embedding_run), "--split", "val"]) == 0
    out = capsys.readouterr().out
    assert "EER" in out and "5-way 1-shot" in out
    assert "eer" in runs.read_metrics(embedding_run)["val"]


@pytest.mark.parametrize("loss", LOSSES)
def test_every_loss_trains_the_network_and_its_own_parameters(loss):
    config = TrainConfig(**{**RECIPE, "loss": loss})
    data = load_data("digits", holdout_classes=HOLDOUT, per_class=20, val_fraction=0.2)
    mean, std = torch.tensor([0.5]), torch.tensor([0.25])
    model = build_embedding_net(config, data.classes, data.input_shape, mean, std)
    task = create_task(config, data)
    task.model = model
    images = data.train.images[:40].float() / 255
    labels = data.train.labels[:40]
    out = model(images)
    value, _ = task.loss(out, Batch(images, labels, labels))
    value.backward()
    assert torch.isfinite(value) and value > 0
    assert out.shape == (40, 16)
    assert all(p.grad is not None for p in model.net.parameters() if p.requires_grad)
    if loss not in ("contrastive", "triplet"):
        head = list(model.criterion.parameters())
        assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in head)
        assert sum(p.numel() for p in head) >= 5 * 16


def test_pair_losses_refuse_training_identities_with_a_single_image(tmp_path):
    root = _write_image_folder(tmp_path / "ids", {"a": 6, "b": 1, "c": 6, "d": 4})
    config = TrainConfig(
        task="embedding",
        loss="triplet",
        dataset="imagefolder",
        data_dir=str(root),
        holdout_classes=["d"],
        val_fraction=0.3,
    )
    data = load_data("imagefolder", root, holdout_classes=["d"], val_fraction=0.3)
    with pytest.raises(DataError, match="single image"):
        create_task(config, data)


def test_options_that_do_not_fit_are_refused(digits_run):
    with pytest.raises(ConfigError, match="for --task embedding"):
        TrainConfig(holdout_classes=["9"])
    with pytest.raises(ConfigError, match="neither class names nor indices"):
        load_data("digits", holdout_classes=["ten"])
    with pytest.raises(ConfigError, match="does not support Mixup"):
        config = TrainConfig(**RECIPE, mixup=0.2)
        create_task(config, load_data("digits", holdout_classes=HOLDOUT))
    with pytest.raises(CheckpointError, match="--task embedding"):
        enroll(digits_run, ".")


def test_evaluation_refuses_tta(embedding_run):
    with pytest.raises(ConfigError, match="drop --tta"):
        evaluate_run(embedding_run, tta="flip")


def test_val_eer_monitors_the_lowest_equal_error_rate(tmp_path):
    """val_eer is minimized: the saved epoch is the one with the lowest validation EER."""
    run_dir = tmp_path / "eer"
    config = TrainConfig(**RECIPE, epochs=3, per_class=40, monitor="val_eer")
    Trainer(config, run_dir, quiet=True).fit()
    history = runs.read_history(run_dir)
    eers = [row["val_eer"] for row in history]
    best = min(range(len(eers)), key=eers.__getitem__)
    meta = runs.read_meta(run_dir)
    assert meta["metric"] == {"name": "val_eer", "value": eers[best]}
    assert meta["epoch"] == history[best]["epoch"]
    rows = [{"epoch": e, "val_eer": v} for e, v in ((1, 0.3), (2, 0.1), (3, 0.2))]
    assert runs.best_epoch(rows, "val_eer") == 2


def test_triplet_training_batches_are_pk_batches():
    """The pair losses train on P identities x K images (auto: all 5 digits, K = 64 // 5)."""
    config = TrainConfig(**{**RECIPE, "loss": "triplet"})
    data = load_data("digits", holdout_classes=HOLDOUT)
    task = create_task(config, data)
    loader = make_loader(data.train, config.batch_size, shuffle=True, seed=0)
    batches = list(task.batches(loader, torch.Generator().manual_seed(0), 0))
    assert len(batches) == len(loader)
    for batch in batches:
        rows = batch.labels.view(5, 12)
        assert (rows == rows[:, :1]).all() and len(rows[:, 0].unique()) == 5
    explicit = TrainConfig(**{**RECIPE, "loss": "arcface", "pk": "4,16"})
    batch = next(iter(create_task(explicit, data).batches(loader, torch.Generator(), 0)))
    assert len(batch.labels.view(4, 16)[:, 0].unique()) == 4
    with pytest.raises(ConfigError, match="pass --batch-size 32"):
        create_task(TrainConfig(**{**RECIPE, "pk": "4,8"}), data)


def test_the_embedding_pools_the_last_feature_maps():
    """embedding_scales=2 puts the pooled last two maps of the trunk under the linear map."""
    trunk = {"model": "simple_cnn", "model_kwargs": {"channels": [8, 16, 32]}}
    config = TrainConfig(**{**RECIPE, **trunk})
    two = TrainConfig(**{**RECIPE, **trunk, "embedding_scales": 2})
    shape, mean, std = (1, 8, 8), torch.tensor([0.5]), torch.tensor([0.25])
    classes = [str(i) for i in range(10)]
    one_net = build_embedding_net(config, classes, shape, mean, std)
    two_net = build_embedding_net(two, classes, shape, mean, std)
    channels = one_net.net.trunk.feature_info.channels()
    assert one_net.net.fc.in_features == channels[-1]
    assert two_net.net.fc.in_features == channels[-1] + channels[-2]
    images = torch.rand(6, 1, 8, 8)
    two_net.eval()
    maps = two_net.net.trunk(two_net.normalize(images))
    pooled = torch.cat([maps[-2].mean((2, 3)), maps[-1].mean((2, 3))], dim=1)
    expected = torch.nn.functional.normalize(two_net.net.bn(two_net.net.fc(pooled)), dim=1)
    assert torch.allclose(two_net(images), expected, atol=1e-6)
    with pytest.raises(ConfigError, match="embedding_scales 9"):
        build_embedding_net(
            TrainConfig(**{**RECIPE, "embedding_scales": 9}), classes, shape, mean, std
        )
