"""Fixtures of the command-line tests."""

import pytest
import torch


@pytest.fixture(scope="session")
def lenet_run(tmp_path_factory):
    """An untrained LeNet-5 run directory on the embedded digits data (no training: fast)."""
    from cnnlab import runs
    from cnnlab.data import load_data
    from cnnlab.fileio import write_json, write_text
    from cnnlab.runs import save_weights
    from cnnlab.train.config import TrainConfig

    run_dir = tmp_path_factory.mktemp("runs") / "lenet5-digits"
    run_dir.mkdir()
    config = TrainConfig(model="lenet5", dataset="digits")
    data = load_data(config.dataset)
    torch.manual_seed(0)
    model = runs.build_classifier(
        config.model, {}, data.classes, data.input_shape, torch.tensor([0.3]), torch.tensor([0.4])
    )
    write_text(run_dir / runs.CONFIG, config.to_yaml())
    sha = save_weights(run_dir / runs.BEST, model)
    meta = {
        "model": config.model,
        "model_kwargs": {},
        "classes": data.classes,
        "input_shape": list(data.input_shape),
        "weights_sha256": sha,
    }
    write_json(run_dir / runs.META, meta)
    return run_dir
