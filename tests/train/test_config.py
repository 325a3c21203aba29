import pytest

from cnnlab.errors import ConfigError, UnknownNameError
from cnnlab.train.config import TrainConfig


def test_yaml_round_trip(tmp_path):
    config = TrainConfig(model="simple_cnn", model_kwargs={"bn": True}, epochs=3, lr=0.01)
    path = tmp_path / "c.yaml"
    path.write_text(config.to_yaml())
    assert TrainConfig.from_yaml(path) == config


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("epochs", 0, "epochs must be > 0"),
        ("lr", -0.1, "lr must be > 0"),
        ("val_fraction", 1.5, "val_fraction must be in"),
        ("label_smoothing", 1.0, "label_smoothing"),
    ],
)
def test_out_of_range_values_are_refused_with_the_field_name(field, value, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig(**{field: value})


def test_unknown_keys_in_a_config_file_are_named(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("epochs: 2\nlearning_rate: 0.1\n")
    with pytest.raises(ConfigError, match="learning_rate"):
        TrainConfig.from_yaml(path)


def test_unknown_scheduler_lists_the_valid_ones():
    with pytest.raises(UnknownNameError, match="cosine"):
        TrainConfig(scheduler="cosin")


def test_augment_takes_the_command_lines_comma_form_in_python_and_yaml(tmp_path):
    listed = TrainConfig(augment=["flip", "crop:4"])
    assert TrainConfig(augment="flip, crop:4").augment == ["flip", "crop:4"]
    path = tmp_path / "c.yaml"
    path.write_text("augment: flip,crop:4\n")
    assert TrainConfig.from_yaml(path) == listed
    assert TrainConfig(augment="").augment == []


def test_an_unknown_augmentation_in_the_comma_form_is_named_whole():
    with pytest.raises(UnknownNameError, match="'flipp'"):
        TrainConfig(augment="flipp,crop:4")
