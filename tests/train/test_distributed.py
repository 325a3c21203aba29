"""Data-parallel training: 2 gloo processes on the CPU against one process."""

import json
import os
import socket
import subprocess
import sys

import pytest
import torch

from cnnlab.runs import load_weights
from cnnlab.train.distributed import DistributedContext, setup, shard


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _train(args, out, launcher=()):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [*launcher, "-m", "cnnlab", "train", *args, "--out", str(out), "--quiet"]
    result = subprocess.run(
        [sys.executable, *command], env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return [json.loads(line) for line in (out / "history.jsonl").read_text().splitlines()]


def test_two_processes_match_one_process_with_the_same_global_batch(tmp_path):
    args = ["--epochs", "2", "--batch-size", "64", "--seed", "4"]
    torchrun = [
        "-m",
        "torch.distributed.run",
        "--nproc_per_node=2",
        f"--master_port={_free_port()}",
    ]
    parallel = _train(args, tmp_path / "ddp", torchrun)
    single = _train(args, tmp_path / "single")
    for a, b in zip(parallel, single, strict=True):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-4)
        assert a["val_loss"] == pytest.approx(b["val_loss"], rel=1e-4)
    ddp_weights = load_weights(tmp_path / "ddp" / "model.safetensors")
    single_weights = load_weights(tmp_path / "single" / "model.safetensors")
    for name, tensor in single_weights.items():
        torch.testing.assert_close(ddp_weights[name], tensor, rtol=1e-4, atol=1e-5)


def test_each_rank_keeps_its_interleaved_slice_of_the_global_batch():
    batch = torch.arange(10)
    parts = [shard(DistributedContext(rank, 3), batch)[0] for rank in range(3)]
    assert [p.tolist() for p in parts] == [[0, 3, 6, 9], [1, 4, 7], [2, 5, 8]]
    assert shard(DistributedContext(), batch)[0] is batch


def test_without_torchrun_training_is_a_single_process(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    context = setup(torch.device("cpu"))
    assert not context.enabled and context.is_main


def test_each_process_trains_on_its_slice_of_every_global_batch(tmp_path, monkeypatch):
    from cnnlab import TrainConfig, Trainer
    from cnnlab.train import distributed

    trainer = Trainer(TrainConfig(epochs=1, batch_size=64), tmp_path / "r", quiet=True)
    trainer.dist = DistributedContext(rank=1, world_size=2)  # as rank 1 of 2 would
    monkeypatch.setattr(distributed, "all_sum", lambda context, value: value)
    monkeypatch.setattr(distributed, "barrier", lambda context: None)
    sizes = []
    trainer.model.register_forward_pre_hook(lambda m, args: sizes.append(len(args[0])))
    trainer.train_epoch()
    assert sizes[0] == 32 and sum(sizes) == len(trainer.data.train) // 2
