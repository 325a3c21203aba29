"""Named recipes (cnnlab.train.recipes): ``--recipe fast`` resolves to its settings,
refuses images of another shape, and trains a 28x28 grey data set in seconds."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from cnnlab import Trainer
from cnnlab.cli import build_parser
from cnnlab.cli.flags import overrides
from cnnlab.cli.train import _config
from cnnlab.data import DataSplits, TensorImageDataset, load_data
from cnnlab.errors import ConfigError, GeometryError
from cnnlab.models import create_model
from cnnlab.train.config import TrainConfig
from cnnlab.train.recipes import RECIPES, get_recipe


def test_fast_recipe_resolves_to_its_settings():
    config = TrainConfig.from_recipe("fast", dataset="mnist")
    settings = RECIPES["fast"].settings
    assert config.recipe == "fast" and config.dataset == "mnist"
    for key, value in settings.items():
        assert getattr(config, key) == value, key
    assert (config.model, config.optimizer, config.precision) == ("fastcnn28", "adamw", "bf16")
    assert config.changes()["recipe"] == "fast"


def test_flags_override_the_recipe_and_the_recipe_overrides_the_defaults():
    args = build_parser().parse_args(
        ["train", "--recipe", "fast", "--epochs", "3", "--dataset", "kmnist"]
    )
    config = _config(args)
    assert config.epochs == 3  # the flag wins over the recipe's 4 epochs
    assert config.dataset == "kmnist"
    assert config.batch_size == RECIPES["fast"].settings["batch_size"] != TrainConfig().batch_size
    assert overrides(build_parser().parse_args(["train", "--epochs", "3"])) == {"epochs": 3}


def test_an_unknown_recipe_is_refused_with_the_known_ones():
    with pytest.raises(ConfigError, match="fast"):
        get_recipe("slow")
    with pytest.raises(ConfigError, match="fast"):
        TrainConfig(recipe="slow")


@pytest.mark.parametrize(("shape", "words"), [((3, 28, 28), "3x28x28"), ((1, 32, 32), "1x32x32")])
def test_fast_recipe_refuses_other_images(shape, words):
    with pytest.raises(ConfigError, match=rf"28x28 grey images .*{words}.*drop --recipe"):
        get_recipe("fast").check_data(shape, "somedata")
    get_recipe("fast").check_data((1, 28, 28), "fashion-mnist")  # its own shape passes


def test_trainer_refuses_digits_32x32_before_writing_anything(tmp_path):
    config = TrainConfig.from_recipe("fast", dataset="digits", device="cpu")
    with pytest.raises(ConfigError, match="'digits' has 1x32x32"):
        Trainer(config, tmp_path / "run", quiet=True)
    assert not (tmp_path / "run").exists()


def test_fastcnn28_is_for_28x28_inputs():
    model = create_model("fastcnn28", num_classes=10, in_chans=1).eval()
    assert model(torch.rand(2, 1, 28, 28)).shape == (2, 10)
    with pytest.raises(GeometryError, match="1x28x28"):
        model(torch.rand(2, 1, 32, 32))
    with pytest.raises(ConfigError, match="three positive"):
        create_model("fastcnn28", widths=(8, 16))


def _digits_at_28() -> DataSplits:
    """scikit-learn's digits (embedded in cnnlab) resized from 32x32 to 28x28."""
    data = load_data("digits", seed=0)

    def resized(split: TensorImageDataset) -> TensorImageDataset:
        images = F.interpolate(split.images.float(), size=28, mode="bilinear", antialias=True)
        return TensorImageDataset(
            images.round().clamp(0, 255).to(torch.uint8), split.labels, split.classes
        )

    return DataSplits(
        "digits", resized(data.train), resized(data.val), resized(data.test), data.classes
    )


def test_fast_recipe_trains_digits_upscaled_to_28x28(tmp_path):
    data = _digits_at_28()
    config = TrainConfig.from_recipe(
        "fast", dataset="digits", device="cpu", epochs=5, batch_size=64, precision="fp32"
    )
    trainer = Trainer(config, tmp_path / "run", quiet=True, data=data)
    before = trainer.validate(data.test)["val_acc"]
    trainer.fit()
    after = trainer.validate(data.test)["val_acc"]
    assert before < 0.3  # an untrained network guesses
    assert after > 0.9, after
    assert trainer.history[-1]["train_loss"] < trainer.history[0]["train_loss"]
