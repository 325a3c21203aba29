"""TrainConfig checks each value against its field's type, naming the key."""

import pytest

from cnnlab import TrainConfig
from cnnlab.errors import ConfigError


def test_yaml_spellings_of_a_valid_value_are_accepted():
    config = TrainConfig.from_dict({"lr": 1, "adv_eps": "8/255", "classes": [0, 1]})
    assert config.lr == 1.0 and isinstance(config.lr, float)
    assert config.adv_eps == pytest.approx(8 / 255)
    assert config.classes == ["0", "1"]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"batch_size": 2.5}, "batch_size must be a whole number"),
        ({"epochs": True}, "epochs must be a whole number"),
        ({"seed": 2**40}, "seed must be"),
        ({"lr": float("nan")}, "lr must be a finite number"),
        ({"compile": "yes"}, "compile must be true or false"),
        ({"model_kwargs": {"num_classes": 3}}, "model_kwargs cannot set num_classes"),
        ({"device": "bogus"}, "device 'bogus' is not a device"),
    ],
)
def test_a_value_of_the_wrong_type_or_range_names_its_key(values, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig.from_dict(values)
