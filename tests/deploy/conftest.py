"""Fixtures of the deployment tests: untrained run directories (fast to build)."""

import pytest
import torch


def write_run(run_dir, model: str, dataset: str = "digits", **model_kwargs):
    """An untrained run directory of ``model`` on ``dataset`` (weights seeded, no training)."""
    from cnnlab import runs
    from cnnlab.data import load_data
    from cnnlab.fileio import write_json, write_text
    from cnnlab.train.config import TrainConfig

    run_dir.mkdir(parents=True)
    config = TrainConfig(model=model, dataset=dataset)
    data = load_data(config.dataset)
    torch.manual_seed(0)
    net = runs.build_classifier(
        model,
        model_kwargs,
        data.classes,
        data.input_shape,
        torch.tensor([0.3]),
        torch.tensor([0.4]),
    )
    write_text(run_dir / runs.CONFIG, config.to_yaml())
    meta = {
        "model": model,
        "model_kwargs": model_kwargs,
        "classes": data.classes,
        "input_shape": list(data.input_shape),
        "weights_sha256": runs.save_weights(run_dir / runs.BEST, net),
    }
    write_json(run_dir / runs.META, meta)
    return run_dir


@pytest.fixture(scope="session")
def lenet_digits_run(tmp_path_factory):
    """An untrained LeNet-5 run on the embedded digits data."""
    return write_run(tmp_path_factory.mktemp("deploy") / "lenet5-digits", "lenet5")
